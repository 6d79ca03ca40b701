"""The ledger books the premium and the disbursement once each, balanced by construction."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from fintech.models import JournalEntry, Posting
from tests.builders import active_loan

pytestmark = pytest.mark.django_db


def _legs(entry):
    return sorted(
        (p.debit_account_id, p.credit_account_id, p.amount, p.organization_id) for p in entry.postings.all()
    )


def test_premium_and_disbursement_are_booked():
    # given a 1,000,000.00 loan whose policy insures 1,000,000.00 at 2 % for 12 months:
    # premium = 1,000,000.00 x 0.02 x 12 / 12 = 20,000.00
    loan, people = active_loan()
    sme, bank, insurer = (
        people.sme.organization_id,
        people.bank.organization_id,
        people.insurer.organization_id,
    )
    # then one premium entry: insurer cash <- premium income, SME premium expense <- SME cash
    premium = JournalEntry.objects.get(kind="premium")
    assert _legs(premium) == sorted(
        [
            ("1002", "4002", Decimal("20000.00"), insurer),
            ("5006", "1004", Decimal("20000.00"), sme),
        ]
    )
    assert premium.booked_on.isoformat() == "2025-02-01"
    # and one disbursement entry: loans receivable <- bank cash, SME cash <- SME loans payable
    disbursement = JournalEntry.objects.get(kind="disbursement", loan=loan)
    assert _legs(disbursement) == sorted(
        [
            ("1101", "1001", Decimal("1000000.00"), bank),
            ("1004", "2004", Decimal("1000000.00"), sme),
        ]
    )
    assert disbursement.booked_on.isoformat() == "2025-02-20"
    # and the trial balance: every posting debits and credits the same amount
    total = Posting.objects.aggregate(s=Sum("amount"))["s"]
    assert total == Decimal("2040000.00")
    assert JournalEntry.objects.count() == 2
