"""Settlements: the insurer's and the fund's payments of their shares to the bank, each recorded
by one person and approved by another of the same organisation (DOMAIN.md sections 10, 11)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from fintech.errors import AmountOverLimit, NotFound, RoleNotAllowed, SamePersonApproval
from fintech.models import AuditLog, JournalEntry, Posting, Settlement
from fintech.services.ledger import (
    BANK_CASH,
    CLAIM_FUND,
    CLAIM_INSURER,
    FUND_CASH,
    FUND_PAYABLE,
    INSURER_CASH,
    INSURER_PAYABLE,
)
from fintech.services.risk_pool import recovery_record, settlement_approve, settlement_record

from .helpers import client_for, postings_of, risk_snapshot

D = Decimal
pytestmark = pytest.mark.django_db


def _settlement_url(world):
    return f"/api/v1/loans/{world.loan.pk}/settlements/"


def _approve_url(settlement_id):
    return f"/api/v1/settlements/{settlement_id}/approve/"


def _record(world, user, party="insurer", amount="200000.00", reference="CLM-1"):
    return settlement_record(
        actor=user,
        loan_id=world.loan.pk,
        party=party,
        amount=D(amount),
        paid_on=date(2025, 8, 20),
        reference=reference,
    )


def test_the_insurer_settles_and_a_second_insurer_member_approves(defaulted):
    # given the standard loss (insurer share 507,000.00)
    world, _ = defaulted

    # when the insurer records a payment of 200,000.00 to the bank
    response = client_for(world.insurer).post(
        _settlement_url(world),
        {"party": "insurer", "amount": "200000.00", "paid_on": "2025-08-20", "reference": "CLM-2025-001"},
        format="json",
    )

    # then it is pending, and nothing is booked yet
    assert response.status_code == 201, response.json()
    body = response.json()
    assert {
        k: body[k] for k in ("party", "payer", "amount", "paid_on", "reference", "status", "approved_by")
    } == {
        "party": "insurer",
        "payer": world.insurer.organization_id,
        "amount": "200000.00",
        "paid_on": "2025-08-20",
        "reference": "CLM-2025-001",
        "status": "pending",
        "approved_by": None,
    }
    settlement = Settlement.objects.get(pk=body["id"])
    assert not JournalEntry.objects.filter(kind="settlement").exists()

    # when the same person tries to approve it: 403, four eyes
    same = client_for(world.insurer).post(_approve_url(settlement.pk))
    assert same.status_code == 403
    assert same.json()["code"] == "four_eyes"
    # when another insurer, the bank or the regulator tries: it is not theirs to approve
    assert client_for(world.other_insurer).post(_approve_url(settlement.pk)).status_code == 404
    assert client_for(world.regulator).post(_approve_url(settlement.pk)).status_code == 404
    assert Settlement.objects.get(pk=settlement.pk).status == "pending"

    # when a second member of the insurer approves
    approved = client_for(world.insurer_2).post(_approve_url(settlement.pk))

    # then it is approved, booked (insurer payable <- insurer cash; bank cash <- claim on insurer)
    assert approved.status_code == 200, approved.json()
    assert (approved.json()["status"], approved.json()["approved_by"]) == ("approved", world.insurer_2.pk)
    settlement.refresh_from_db()
    assert (settlement.status, settlement.approved_by, settlement.created_by) == (
        "approved",
        world.insurer_2,
        world.insurer,
    )
    assert postings_of(settlement, "settlement") == [
        (INSURER_PAYABLE, INSURER_CASH, D("200000.00"), world.insurer.organization_id),
        (BANK_CASH, CLAIM_INSURER, D("200000.00"), world.bank.organization_id),
    ]
    assert JournalEntry.objects.get(kind="settlement").booked_on == date(2025, 8, 20)
    assert list(
        AuditLog.objects.filter(object_type="fintech.settlement")
        .order_by("id")
        .values_list("action", "actor", "to_state")
    ) == [
        ("settlement.record", world.insurer.pk, "pending"),
        ("settlement.approve", world.insurer_2.pk, "approved"),
    ]

    # when it is approved a second time: 409, and nothing more is booked or audited
    before = risk_snapshot()
    again = client_for(world.insurer_2).post(_approve_url(settlement.pk))
    assert again.status_code == 409
    assert risk_snapshot() == before


def test_a_regulator_settles_the_funds_share_and_another_regulator_approves(defaulted):
    # given the standard loss (fund share 304,200.00)
    world, _ = defaulted

    # when a regulator of the SME's region records the fund's payment and a colleague approves
    settlement = _record(world, world.regulator, party="government", amount="304200.00", reference="FUND-1")
    with pytest.raises(SamePersonApproval):
        settlement_approve(actor=world.regulator, settlement_id=settlement.pk)
    settlement_approve(actor=world.regulator_2, settlement_id=settlement.pk)

    # then fund payable <- fund cash in the regulator's books; bank cash <- claim on the fund
    assert postings_of(settlement, "settlement") == [
        (FUND_PAYABLE, FUND_CASH, D("304200.00"), world.regulator.organization_id),
        (BANK_CASH, CLAIM_FUND, D("304200.00"), world.bank.organization_id),
    ]
    # and nothing of the fund's share is left open
    with pytest.raises(AmountOverLimit):
        _record(world, world.regulator, party="government", amount="0.01", reference="FUND-2")


def test_settlements_may_not_exceed_the_share_whatever_was_recovered(defaulted):
    # given the standard loss (insurer share 507,000.00) and a recovery of 100,000.03 whose insurer
    # part (50,000.01) was paid to the insurer itself: the insurer still owes the bank its whole
    # share, 507,000.00, and its net loss is 507,000.00 - 50,000.01 = 456,999.99
    world, _ = defaulted
    recovery_record(
        actor=world.bank,
        loan_id=world.loan.pk,
        amount=D("100000.03"),
        received_on=date(2025, 8, 15),
        source="x",
    )
    # and 400,000.00 approved plus 106,000.00 pending: 1,000.00 still open
    first = _record(world, world.insurer, amount="400000.00", reference="A")
    settlement_approve(actor=world.insurer_2, settlement_id=first.pk)
    second = _record(world, world.insurer, amount="106000.00", reference="B")
    before = risk_snapshot()

    # when the insurer records 1,000.01 more
    response = client_for(world.insurer).post(
        _settlement_url(world),
        {"party": "insurer", "amount": "1000.01", "paid_on": "2025-08-20", "reference": "C"},
        format="json",
    )

    # then 400 on amount, and nothing was written
    assert response.status_code == 400
    assert response.json()["code"] == "amount_over_limit"
    assert response.json()["fields"] == {"amount": ["At most 1000.00."]}
    assert risk_snapshot() == before
    # while exactly what is open is accepted, and once all is approved the bank's claim on the
    # insurer (account 1202) is cleared to the fen
    last = _record(world, world.insurer, amount="1000.00", reference="D")
    assert last.status == "pending"
    settlement_approve(actor=world.insurer_2, settlement_id=second.pk)
    settlement_approve(actor=world.insurer_2, settlement_id=last.pk)
    debits = Posting.objects.filter(debit_account_id="1202").aggregate(s=Sum("amount"))["s"]
    credits = Posting.objects.filter(credit_account_id="1202").aggregate(s=Sum("amount"))["s"]
    assert (debits, credits) == (D("507000.00"), D("507000.00"))


@pytest.mark.parametrize(
    ("who", "party", "status"),
    [
        ("insurer", "government", 403),  # the insurer settles its own share only
        ("regulator", "insurer", 403),  # a regulator settles the fund's share only
        ("bank", "insurer", 403),
        ("sme", "insurer", 403),
        ("other_insurer", "insurer", 404),  # not the policy's insurer: the loan is not visible
        ("other_regulator", "government", 404),  # another region's regulator
    ],
)
def test_who_may_record_a_settlement(defaulted, who, party, status):
    world, _ = defaulted
    before = risk_snapshot()

    response = client_for(getattr(world, who)).post(
        _settlement_url(world),
        {"party": party, "amount": "1.00", "paid_on": "2025-08-20", "reference": "X"},
        format="json",
    )

    assert response.status_code == status
    assert risk_snapshot() == before


def test_bad_settlement_input_is_a_400_and_changes_nothing(defaulted):
    world, _ = defaulted
    before = risk_snapshot()
    client = client_for(world.insurer)

    for body in (
        {"party": "bank", "amount": "1.00", "paid_on": "2025-08-20", "reference": "X"},
        {"party": "insurer", "amount": "0", "paid_on": "2025-08-20", "reference": "X"},
        {"party": "insurer", "amount": "NaN", "paid_on": "2025-08-20", "reference": "X"},
        {"party": "insurer", "amount": "1.00", "paid_on": "2025-06-30", "reference": "X"},  # before default
        {"party": "insurer", "amount": "1.00", "paid_on": "2099-01-01", "reference": "X"},  # future
        {"party": "insurer", "amount": "1.00", "paid_on": "2025-08-20"},
    ):
        response = client.post(_settlement_url(world), body, format="json")
        assert response.status_code == 400, body

    assert risk_snapshot() == before


def test_a_settlement_on_a_loan_without_default_is_a_409(world):
    before = risk_snapshot()

    response = client_for(world.insurer).post(
        _settlement_url(world),
        {"party": "insurer", "amount": "1.00", "paid_on": "2025-08-20", "reference": "X"},
        format="json",
    )

    assert response.status_code == 409
    assert risk_snapshot() == before


def test_the_services_refuse_what_the_views_refuse(defaulted):
    world, _ = defaulted
    settlement = _record(world, world.insurer, amount="1.00")
    with pytest.raises(NotFound):
        settlement_approve(actor=world.other_insurer, settlement_id=settlement.pk)
    with pytest.raises(RoleNotAllowed):
        settlement_approve(actor=world.platform, settlement_id=settlement.pk)
    with pytest.raises(RoleNotAllowed):
        _record(world, world.regulator, party="insurer")
    assert Settlement.objects.get(pk=settlement.pk).status == "pending"


def test_an_unknown_settlement_is_a_404(defaulted):
    world, _ = defaulted
    assert client_for(world.insurer_2).post(_approve_url(999999)).status_code == 404
