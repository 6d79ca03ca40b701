"""The outbox: each audited change of the catalogue writes its event in the same transaction, for
the organisations access.py entitles to it, numbered per financing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fintech.errors import InvalidInput
from fintech.models import Event, EventRecipient, Installment
from fintech.services.close import close_run_dispatch
from fintech.services.repayments import repayment_record
from tests.builders import active_loan, cast
from tests.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


def _life(app_id: int) -> list[tuple[int, str]]:
    return list(
        Event.objects.filter(aggregate_id=app_id)
        .order_by("aggregate_version")
        .values_list("aggregate_version", "type")
    )


def _recipients(event: Event) -> set[int]:
    return set(EventRecipient.objects.filter(event=event).values_list("organization_id", flat=True))


def test_a_loans_life_is_one_numbered_stream_for_its_parties_only():
    # Given a regulator of Wuhan (the SME's region), another bank, and an active loan
    regulator = OrganizationFactory(kind="regulator")
    other_bank = OrganizationFactory(kind="bank")
    loan, people = active_loan()
    # Then the financing's events are numbered 1..6 in the builder's order: submit, valuation,
    # policy, approval, premium (paid after the approval), disbursement
    assert _life(loan.application_id) == [
        (1, "application.submitted"),
        (2, "valuation.reported"),
        (3, "policy.issued"),
        (4, "loan.approved"),
        (5, "premium.paid"),
        (6, "loan.disbursed"),
    ]
    events = {e.type: e for e in Event.objects.filter(aggregate_id=loan.application_id)}
    sme, bank = people.sme.organization_id, people.bank.organization_id
    insurer, appraiser = people.insurer.organization_id, people.appraiser.organization_id
    # The appraisal firm sees the application and its valuation, never the policy or the loan
    # (DOMAIN.md section 11); the regulator of the region sees everything; the other bank nothing.
    assert _recipients(events["application.submitted"]) == {sme, bank, insurer, appraiser, regulator.pk}
    assert _recipients(events["valuation.reported"]) == {sme, bank, insurer, appraiser, regulator.pk}
    assert _recipients(events["policy.issued"]) == {sme, bank, insurer, regulator.pk}
    assert _recipients(events["loan.disbursed"]) == {sme, bank, insurer, regulator.pk}
    assert not EventRecipient.objects.filter(organization=other_bank).exists()
    # The event carries its subject, the financing and the figures of the change
    disbursed = events["loan.disbursed"]
    assert disbursed.data["subject"] == {"type": "loan", "id": loan.pk}
    assert disbursed.data["application"] == loan.application_id and disbursed.data["loan"] == loan.pk
    assert (disbursed.data["from_state"], disbursed.data["to_state"]) == ("approved", "active")
    # The policy's premium: 2 % of the insured amount (the builder's rate), as a 2-place string
    assert events["premium.paid"].data["amount"] == f"{loan.policy.premium:.2f}"


def test_a_refused_change_writes_no_event():
    loan, people = active_loan()
    before = Event.objects.count()
    with pytest.raises(InvalidInput):
        repayment_record(actor=people.bank, loan_id=loan.pk, amount=Decimal("0"), paid_on=date(2025, 3, 20))
    assert Event.objects.count() == before


def test_a_repayment_is_posted_as_the_next_version():
    loan, people = active_loan()
    repayment = repayment_record(
        actor=people.bank, loan_id=loan.pk, amount=Decimal("100000.00"), paid_on=date(2025, 3, 20)
    )
    last = Event.objects.filter(aggregate_id=loan.application_id).order_by("-aggregate_version").first()
    assert last is not None
    assert (last.type, last.aggregate_version, last.data["amount"]) == ("repayment.posted", 7, "100000.00")
    assert last.data["details"]["repayment"] == repayment.pk


def test_the_close_writes_overdue_events_set_based(django_capture_on_commit_callbacks):
    # Given three active loans disbursed 2025-02-20, monthly, nothing repaid
    people = cast()
    loans = [active_loan(people=people)[0] for _ in range(3)]
    # When the close runs on 2025-05-01: the installments due 2025-03-20 and 2025-04-20 are past
    # their due date plus the programme's grace days (DOMAIN.md section 8), per loan
    with CaptureQueriesContext(connection) as queries, django_capture_on_commit_callbacks(execute=True):
        close_run_dispatch(date(2025, 5, 1))
    overdue = Installment.objects.filter(loan__in=loans, status="overdue")
    events = Event.objects.filter(type="installment.overdue")
    # Then each installment marked overdue has exactly one event, numbered after the disbursement
    assert events.count() == overdue.count() > 0
    assert set(events.values_list("subject_id", flat=True)) == set(overdue.values_list("pk", flat=True))
    first = events.filter(aggregate_id=loans[0].application_id).order_by("aggregate_version")
    assert [e.aggregate_version for e in first] == list(range(7, 7 + first.count()))
    # Set-based: one INSERT of events for the chunk, not one per installment
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "fintech_event"')]
    assert len(inserts) == 1


def test_a_reversal_a_default_its_loss_settlement_and_recovery_are_announced_in_order() -> None:
    from fintech.services.defaults import loan_default_declare
    from fintech.services.repayments import repayment_reverse
    from fintech.services.risk_pool import recovery_record, settlement_approve, settlement_record
    from tests.factories import UserFactory

    # Given the standard active loan (events 1..6) and a repayment (7) that the bank reverses (8)
    loan, people = active_loan()
    paid = repayment_record(
        actor=people.bank, loan_id=loan.pk, amount=Decimal("1000.00"), paid_on=date(2025, 3, 1)
    )
    repayment_reverse(
        actor=people.bank, repayment_id=paid.pk, reversed_on=date(2025, 3, 2), reason="wrong loan"
    )
    # When the bank declares the default on 2025-07-01 (loan defaulted, loss shared), the insurer
    # records and a colleague approves its settlement, and the bank records a recovery
    loan_default_declare(actor=people.bank, loan_id=loan.pk, default_on=date(2025, 7, 1), reason="insolvent")
    settlement = settlement_record(
        actor=people.insurer,
        loan_id=loan.pk,
        party="insurer",
        amount=Decimal("1000.00"),
        paid_on=date(2025, 7, 5),
        reference="INS-1",
    )
    colleague = UserFactory(organization=people.insurer.organization, is_staff=True)
    settlement_approve(actor=colleague, settlement_id=settlement.pk)
    recovery_record(
        actor=people.bank,
        loan_id=loan.pk,
        amount=Decimal("500.00"),
        received_on=date(2025, 8, 1),
        source="auction",
    )
    # Then the catalogue's types follow the disbursement in that order, on one aggregate; the
    # default marks the installments past due on its date overdue, each announced before the loss
    life = [t for _, t in _life(loan.application_id)][6:]
    overdue = Installment.objects.filter(loan=loan, status="overdue").count()
    assert overdue > 0 and life[2 : 2 + overdue] == ["installment.overdue"] * overdue
    types = [t for t in life if t != "installment.overdue"]
    assert types == [
        "repayment.posted",
        "repayment.reversed",
        "loss.shared",
        "loan.defaulted",
        "settlement.approved",
        "recovery.shared",
    ]
    defaulted = Event.objects.get(type="loan.defaulted", aggregate_id=loan.application_id)
    assert defaulted.data["details"]["default_on"] == "2025-07-01"
    assert defaulted.data["reason"] == "insolvent"
