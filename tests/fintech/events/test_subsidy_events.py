"""A subsidy run announces each entitlement when computed (after the cap) and when paid, set-based,
to the SME and the regulators of its region only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext

from fintech.models import Event, EventRecipient, SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services import subsidies
from fintech.services.subsidies import (
    subsidy_chunk_compute,
    subsidy_run_approve,
    subsidy_run_pay,
    subsidy_run_start,
)
from tests.builders import active_loan
from tests.factories import wuhan_program
from tests.fintech.subsidies import conftest as subsidy_fixtures
from tests.fintech.subsidies.helpers import INTEREST_ONLY, D, pay, set_program

pytestmark = pytest.mark.django_db

# The subsidy tests' fixtures: a regulator who starts runs and one who approves; a run computed in process.
regulators = subsidy_fixtures.regulators
compute = subsidy_fixtures.compute


def test_computed_and_paid_entitlements_are_events_of_their_financing(compute: Any, regulators: Any) -> None:
    # Given a loan disbursed 2024-06-01, interest monthly, its first three installments paid on time
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    before = Event.objects.filter(aggregate_id=loan.application_id).count()
    # When the 2024Q3 run computes (its entitlements in the tests of the run: 3, one per installment)
    with CaptureQueriesContext(connection) as queries:
        run = compute("2024Q3")
    entitlements = SubsidyEntitlement.objects.filter(run=run)
    computed = Event.objects.filter(type="subsidy.computed").order_by("aggregate_version")
    # Then one event per entitlement, numbered after the loan's earlier events, with its amount
    assert entitlements.count() == computed.count() == 3
    assert [e.aggregate_version for e in computed] == [before + 1, before + 2, before + 3]
    amounts = dict(entitlements.values_list("pk", "amount"))
    assert all(e.data["amount"] == f"{amounts[e.subject_id]:.2f}" for e in computed)
    # ... for the SME and the region's regulator only (not the bank or the insurer)
    sme, regulator = people.sme.organization_id, regulators.starter.organization_id
    assert set(
        EventRecipient.objects.filter(event__in=computed).values_list("organization_id", flat=True)
    ) == {
        sme,
        regulator,
    }
    # ... written set-based: one statement inserts the events of the run's entitlements (on
    # PostgreSQL it takes the stream versions too, its INSERT after a WITH)
    inserts = [q for q in queries.captured_queries if 'INSERT INTO "fintech_event" (' in q["sql"]]
    assert len(inserts) == 1
    # When the run is approved and paid, each entitlement is announced paid with the date
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    subsidy_run_pay(actor=regulators.starter, run_id=run.pk, paid_on=date(2024, 10, 15), reference="PAY-1")
    paid = Event.objects.filter(type="subsidy.paid")
    assert paid.count() == 3
    assert {e.data["details"]["paid_on"] for e in paid} == {"2024-10-15"}


def _june_loan(**extra: Any) -> Any:
    return active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20), **extra
    )


def _computed_events(run_id: int) -> dict[int, tuple[str, bool]]:
    """{entitlement: (amount, capped)} of the run's subsidy.computed events (one per entitlement)."""
    ids = set(SubsidyEntitlement.objects.filter(run_id=run_id).values_list("pk", flat=True))
    found = [e for e in Event.objects.filter(type="subsidy.computed") if e.subject_id in ids]
    assert len(found) == len({e.subject_id for e in found})  # never two events for one entitlement
    return {e.subject_id: (e.data["amount"], e.data["details"]["capped"]) for e in found}


def test_an_entitlement_the_cap_cuts_is_announced_after_the_cap_with_its_capped_amount(compute: Any) -> None:
    # Given a cap of 1,500.00 a year and the June loan's installments 1-3 paid on time
    # (tests/fintech/subsidies/test_cap.py: 718.75, 735.76, then 721.18 cut to 45.49)
    set_program(annual_subsidy_cap=D("1500.00"))
    loan, people = _june_loan()
    pay(loan, people, [1, 2, 3])
    # When 2024Q3 is computed (the SME's cap is in play: its chunk cannot announce them)
    run = compute("2024Q3")
    # Then each event carries the amount after the cap and the capped mark
    events = _computed_events(run.pk)
    assert sorted(events.values()) == [("45.49", True), ("718.75", False), ("735.76", False)]
    assert not SubsidyEntitlement.objects.filter(run=run, announced=False).exists()


def test_a_chunk_announces_its_smes_entitlements_once_in_its_own_transaction(
    regulators: Any, monkeypatch: Any
) -> None:
    # Given two SMEs, each with the June loan's installments 1-3 paid on time (3 x 718.75, 735.76,
    # 721.18), and a 2024Q3 run cut into one chunk per loan, its chunks not run yet
    first, first_people = _june_loan()
    second, second_people = _june_loan()
    pay(first, first_people, [1, 2, 3])
    pay(second, second_people, [1, 2, 3])
    run = subsidy_run_start(
        actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=1
    )
    one, two = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").values_list("pk", flat=True)
    # When the first chunk runs: the first SME's entitlements are final (no other chunk holds its
    # loans, the cap is far), so the chunk announces them while the run still computes
    subsidy_chunk_compute(one)
    assert SubsidyRun.objects.get(pk=run.pk).status == "running"
    firsts = set(SubsidyEntitlement.objects.filter(run=run, loan=first).values_list("pk", flat=True))
    assert set(_computed_events(run.pk)) == firsts and len(firsts) == 3
    # ... and delivered twice, the chunk is done: nothing is written again
    subsidy_chunk_compute(one)
    assert set(_computed_events(run.pk)) == firsts
    # When the second chunk's worker fails after writing its events (a database error): its
    # entitlements and their events roll back together
    real = subsidies._announce_settled

    def announce_then_fail(*args: Any) -> int:
        real(*args)
        raise OperationalError("connection lost")

    monkeypatch.setattr(subsidies, "_announce_settled", announce_then_fail)
    with pytest.raises(OperationalError):
        subsidy_chunk_compute(two)
    monkeypatch.undo()
    assert not SubsidyEntitlement.objects.filter(run=run, loan=second).exists()
    assert set(_computed_events(run.pk)) == firsts
    # When it is retried: one event per entitlement, the run computed, the completion had none left
    subsidy_chunk_compute(two, retries=1)
    run.refresh_from_db()
    assert (run.status, run.entitlements_count) == ("computed", 6)
    events = _computed_events(run.pk)
    assert len(events) == 6
    assert sorted(a for a, _ in events.values()) == [
        "718.75",
        "718.75",
        "721.18",
        "721.18",
        "735.76",
        "735.76",
    ]


def test_a_chunk_announces_nothing_while_another_run_of_the_year_computes(regulators: Any) -> None:
    # Given two SMEs with the June loan's installments 1-3 paid on time, a 2024Q2 run started and
    # not computed yet (its chunk still to run), and a 2024Q3 run cut into one chunk per loan
    first, first_people = _june_loan()
    second, second_people = _june_loan()
    pay(first, first_people, [1, 2, 3])
    pay(second, second_people, [1, 2, 3])
    program = wuhan_program().pk
    other = subsidy_run_start(actor=regulators.starter, program_id=program, period="2024Q2")
    run = subsidy_run_start(actor=regulators.starter, program_id=program, period="2024Q3", chunk_size=1)
    one, two = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").values_list("pk", flat=True)
    # When the Q3 run's first chunk runs: the first SME's amounts look final, but the Q2 run of the
    # same year computes (its rows, not written yet, count against the same cap), so the chunk
    # announces nothing and leaves it to the completion
    subsidy_chunk_compute(one)
    assert SubsidyRun.objects.get(pk=run.pk).status == "running"
    assert _computed_events(run.pk) == {}
    assert not SubsidyEntitlement.objects.filter(run=run, announced=True).exists()
    # When the Q2 run completes and then the Q3 run's second chunk runs (the last: the completion)
    for chunk in SubsidyRunChunk.objects.filter(run=other).values_list("pk", flat=True):
        subsidy_chunk_compute(chunk)
    assert SubsidyRun.objects.get(pk=other.pk).status == "computed"
    subsidy_chunk_compute(two)
    # Then every Q3 entitlement is announced once, by the completion after its cap
    assert SubsidyRun.objects.get(pk=run.pk).status == "computed"
    assert sorted(a for a, _ in _computed_events(run.pk).values()) == [
        "718.75",
        "718.75",
        "721.18",
        "721.18",
        "735.76",
        "735.76",
    ]
    assert not SubsidyEntitlement.objects.filter(run=run, announced=False).exists()
