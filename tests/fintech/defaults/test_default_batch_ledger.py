"""The close's defaults written together (services.defaults.DefaultBatch): each loss entry and its
legs as the bank's one-at-a-time path books them (tests/fintech/defaults/test_defaults.py), in
loan order. On PostgreSQL the entries and legs of a batch go through one INSERT over a JSON
document (services.ledger), so this pins that path against figures worked by hand.

Each loan: 1,000,000.00 at 4.35 %, interest monthly, principal at maturity, disbursed 2025-02-20;
installment 1 (interest 3,383.33) paid on 2025-03-20; default on 2025-05-05: unpaid principal
1,000,000.00, interest 3,745.83 + 1,812.50 = 5,558.33, loss 1,005,558.33 split 5:3:2 by the largest
remainder: 502,779.16 / 301,667.50 / 201,111.67.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from fintech.models import JournalEntry, Posting
from fintech.services.defaults import DefaultBatch, loan_default_declare
from fintech.services.repayments import repayment_record
from tests.builders import active_loan, cast
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def test_two_defaults_written_together_book_one_entry_each_with_its_seven_legs_in_loan_order() -> None:
    # given two such loans of one bank and a regulator keeping the fund of their SME's region
    people = cast()
    loans = [
        active_loan(annual_rate=D("0.0435"), method="interest_monthly_principal_at_maturity", people=people)[
            0
        ]
        for _ in range(2)
    ]
    for loan in loans:
        repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("3383.33"), paid_on=date(2025, 3, 20))
    regulator = OrganizationFactory(kind="regulator")

    # when both default on 2025-05-05 in one batch (the daily close's path)
    batch = DefaultBatch()
    for loan in reversed(loans):
        loan_default_declare(
            actor=None, loan_id=loan.pk, default_on=date(2025, 5, 5), reason="close", batch=batch
        )
    events = batch.write()

    # then one "loss" entry per loan, in loan id order, each booked on the default day
    entries = list(JournalEntry.objects.filter(kind="loss").order_by("id"))
    assert [(e.loan_id, e.booked_on, e.source_id, e.program_id) for e in entries] == [
        (loan.pk, date(2025, 5, 5), str(event.pk), loan.program_id)
        for loan, event in zip(sorted(loans, key=lambda x: x.pk), events, strict=True)
    ]
    # and each with its seven legs, the entries' legs one after the other in posting id order
    bank, insurer = loans[0].bank_id, loans[0].policy.insurer_id
    legs = [
        ("1201", "1101", D("1000000.00"), bank),
        ("1201", "4001", D("5558.33"), bank),
        ("1202", "1201", D("502779.16"), bank),
        ("1203", "1201", D("301667.50"), bank),
        ("5001", "1201", D("201111.67"), bank),
        ("5002", "2001", D("502779.16"), insurer),
        ("5003", "2002", D("301667.50"), regulator.pk),
    ]
    postings = Posting.objects.filter(entry__kind="loss").order_by("id")
    assert [
        (p.entry_id, p.debit_account_id, p.credit_account_id, p.amount, p.organization_id) for p in postings
    ] == [(entry.pk, *leg) for entry in entries for leg in legs]
    assert {p.loan_id for p in postings if p.entry_id == entries[0].pk} == {entries[0].loan_id}
    assert {p.loan_id for p in postings if p.entry_id == entries[1].pk} == {entries[1].loan_id}
