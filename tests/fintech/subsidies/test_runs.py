"""Subsidy runs: idempotent and chunked computation, reruns that add only what is missing, a run
interrupted half way, four-eyes approval, payment, and the ledger (DOMAIN.md section 9).

Figures (by hand in test_interest.py) of the June 2024 loan (1,000,000.00 at 4.5 %, interest
monthly, disbursed 2024-06-01), Q3 2024: #1 718.75, #2 735.76, #3 721.18; sum 2,175.69.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RoleNotAllowed,
    SamePersonApproval,
)
from fintech.models import (
    AuditLog,
    JournalEntry,
    Posting,
    SubsidyEntitlement,
    SubsidyRun,
    SubsidyRunChunk,
)
from fintech.services import subsidies as services
from fintech.services.subsidies import (
    subsidy_chunk_compute,
    subsidy_run_approve,
    subsidy_run_pay,
    subsidy_run_start,
)
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory, wuhan_program

from .helpers import INTEREST_ONLY, D, amounts, by_seq, pay, regulator, regulator_org, set_program

pytestmark = pytest.mark.django_db

Q3_TOTAL = D("2175.69")


def june_2024_loan(**extra):
    return active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20), **extra
    )


def book_of_three():
    """Three SMEs' June 2024 loans with #1-#3 paid on time: 3 x 2,175.69 = 6,527.07 in Q3."""
    loans = []
    for _ in range(3):
        loan, people = june_2024_loan()
        pay(loan, people, [1, 2, 3])
        loans.append(loan)
    return loans


def test_a_repeated_run_adds_nothing(compute):
    # given 2024Q3 computed once for the June loan
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])
    first = compute("2024Q3")

    # when the period is run again
    second = compute("2024Q3")

    # then the second run is computed with no entitlement and zero totals; the period's total is
    # still 2,175.69, one entitlement per installment
    assert (second.status, second.entitlements_count, second.interest_total, second.premium_total) == (
        "computed",
        0,
        D("0.00"),
        D("0.00"),
    )
    assert (first.interest_total, first.entitlements_count) == (Q3_TOTAL, 3)
    assert SubsidyEntitlement.objects.filter(loan=loan).count() == 3


def test_a_rerun_adds_only_a_repayment_reported_late(compute):
    # given 2024Q3 computed while #3 (due 2024-09-01) had not been reported yet
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2])
    first = compute("2024Q3")
    assert by_seq(first, loan) == {1: D("718.75"), 2: D("735.76")}

    # when the bank then reports #3 paid on its due date and the period is run again
    pay(loan, people, [3])
    second = compute("2024Q3")

    # then the second run holds #3 only (721.18); the first is unchanged; together 2,175.69
    assert by_seq(second, loan) == {3: D("721.18")}
    first.refresh_from_db()
    assert (first.interest_total, second.interest_total) == (D("1454.51"), D("721.18"))
    assert first.interest_total + second.interest_total == Q3_TOTAL


def test_chunks_by_loan_id_range_give_the_same_totals_as_one_chunk(compute):
    # given three SMEs' loans
    loans = book_of_three()

    # when 2024Q3 is computed with one loan per chunk
    run = compute("2024Q3", chunk_size=1)

    # then three chunks, each done, covering the loans' id ranges; totals 3 x 2,175.69 = 6,527.07
    chunks = list(SubsidyRunChunk.objects.filter(run=run).order_by("lo_id"))
    assert [(c.lo_id, c.hi_id, c.status, c.entitlements_count) for c in chunks] == [
        (loans[0].pk, loans[1].pk - 1, "done", 3),
        (loans[1].pk, loans[2].pk - 1, "done", 3),
        (loans[2].pk, loans[2].pk, "done", 3),
    ]
    assert (run.chunks_total, run.chunks_done, run.entitlements_count, run.interest_total) == (
        3,
        3,
        9,
        D("6527.07"),
    )


def test_a_chunk_delivered_twice_changes_nothing(compute):
    # given a computed run
    book_of_three()
    run = compute("2024Q3", chunk_size=2)
    before = (amounts(run), SubsidyRun.objects.get(pk=run.pk).interest_total, AuditLog.objects.count())

    # when each of its chunk tasks is delivered again (a lost acknowledgement)
    for chunk in SubsidyRunChunk.objects.filter(run=run):
        subsidy_chunk_compute(chunk.pk)

    # then nothing changed
    assert (
        amounts(run),
        SubsidyRun.objects.get(pk=run.pk).interest_total,
        AuditLog.objects.count(),
    ) == before


def test_a_run_interrupted_half_way_and_resumed_gives_the_same_totals(
    regulators, django_capture_on_commit_callbacks, monkeypatch
):
    # given three loans, and a run of 2024Q3 started with one loan per chunk, its tasks not yet run
    book_of_three()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = subsidy_run_start(
            actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=1
        )
    first, second, _third = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id")

    # when the first chunk is done, and the worker dies in the middle of the second (after its
    # inserts, before its commit)
    subsidy_chunk_compute(first.pk)
    original = services._insert_entitlements

    def dies_after_inserting(*args, **kwargs):
        original(*args, **kwargs)
        raise SystemExit("worker killed")

    monkeypatch.setattr(services, "_insert_entitlements", dies_after_inserting)
    with pytest.raises(SystemExit):
        subsidy_chunk_compute(second.pk)
    monkeypatch.undo()
    half = SubsidyRun.objects.get(pk=run.pk)
    assert (half.status, half.chunks_done) == ("running", 1)
    assert SubsidyEntitlement.objects.filter(run=run).count() == 3  # the second chunk left nothing

    # and then every task is delivered again to a new worker
    for callback in queued:
        callback()

    # then the run completes with the totals of an uninterrupted run: 3 x 2,175.69 = 6,527.07
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.entitlements_count, run.interest_total) == (
        "computed",
        3,
        9,
        D("6527.07"),
    )


def test_the_parameters_are_those_of_the_start_even_if_the_programme_changes_before_the_chunks_run(
    regulators, django_capture_on_commit_callbacks
):
    # given the June loan paid on time, and a run started at the default 25 %
    loan, people = june_2024_loan()
    pay(loan, people, [1])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        run = subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3")

    # when the platform raises the programme's rate to 50 % before the worker runs the chunks
    set_program(interest_subsidy_rate=D("0.50"))
    for callback in queued:
        callback()

    # then the run used 25 %: #1 = 718.75 (not 1,437.50)
    assert by_seq(run, loan) == {1: D("718.75")}
    assert run.parameters["interest_subsidy_rate"] == "0.25000000"


def test_a_failed_runs_entitlements_are_taken_over_by_the_next_run(compute, regulators, monkeypatch):
    # given a run whose second chunk fails for good (the first chunk's entitlements stay behind)
    book_of_three()
    calls = {"n": 0}
    original = services._insert_entitlements

    def second_fails(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise ValueError("a bug")
        return original(*args, **kwargs)

    monkeypatch.setattr(services, "_insert_entitlements", second_fails)
    failed = compute("2024Q3", chunk_size=1)
    monkeypatch.undo()
    assert (failed.status, failed.error) == (
        "failed",
        f"chunk {failed.chunks.order_by('lo_id')[1].pk}: a bug",
    )
    assert SubsidyEntitlement.objects.filter(run=failed).count() == 3

    # when the period is run again
    rerun = compute("2024Q3", actor=regulators.checker)

    # then the new run holds all nine entitlements (three adopted, six new): 6,527.07
    assert (rerun.status, rerun.entitlements_count, rerun.interest_total) == ("computed", 9, D("6527.07"))
    assert not SubsidyEntitlement.objects.filter(run=failed).exists()


def test_a_period_still_running_cannot_be_started_again(regulators, django_capture_on_commit_callbacks):
    # given a run of 2024Q3 whose chunks have not run yet
    june_2024_loan()
    with django_capture_on_commit_callbacks(execute=False):
        run = subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3")

    # when the period is started again
    with pytest.raises(Conflict):
        subsidy_run_start(actor=regulators.checker, program_id=wuhan_program().pk, period="2024Q3")

    # then only the first run exists
    assert list(SubsidyRun.objects.values_list("pk", flat=True)) == [run.pk]


@pytest.mark.parametrize(
    ("period", "field"),
    [("2024-13", "period"), ("2024Q5", "period"), ("2024-07", "period"), ("2099Q1", "period")],
)
def test_a_bad_period_is_refused_and_nothing_is_written(regulators, period, field):
    with pytest.raises(InvalidInput) as refused:
        subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period=period)
    assert field in refused.value.fields
    assert not SubsidyRun.objects.exists()


def test_only_a_regulator_serving_the_programme_starts_a_run(db):
    # given a bank user, a platform user and a regulator of Huangshi (420200, not served by Wuhan)
    bank = UserFactory(organization=OrganizationFactory(kind="bank"))
    platform = UserFactory(organization=OrganizationFactory(kind="platform"))
    elsewhere = regulator(regulator_org("420200"))

    # then the first two may not; the programme is unknown to the third
    for user in (bank, platform):
        with pytest.raises(RoleNotAllowed):
            subsidy_run_start(actor=user, program_id=wuhan_program().pk, period="2024Q3")
    with pytest.raises(InvalidInput) as refused:
        subsidy_run_start(actor=elsewhere, program_id=wuhan_program().pk, period="2024Q3")
    assert "program" in refused.value.fields
    assert not SubsidyRun.objects.exists()


# --- four eyes, payment and the ledger -----------------------------------------------------------


def _postings(entry: JournalEntry) -> list[tuple[str, str, Decimal, int | None]]:
    return sorted(
        (p.debit_account_id, p.credit_account_id, p.amount, p.organization_id)
        for p in Posting.objects.filter(entry=entry)
    )


def test_the_starter_cannot_approve_and_nothing_changes(compute, regulators):
    # given a computed run started by the first regulator user
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])
    run = compute("2024Q3")
    before = (AuditLog.objects.count(), JournalEntry.objects.count())

    # when the same user approves it
    with pytest.raises(SamePersonApproval) as refused:
        subsidy_run_approve(actor=regulators.starter, run_id=run.pk)

    # then 403 (four eyes) and nothing changed
    assert refused.value.status_code == 403
    run.refresh_from_db()
    assert (run.status, run.approved_by_id) == ("computed", None)
    assert set(SubsidyEntitlement.objects.filter(run=run).values_list("status", flat=True)) == {"computed"}
    assert (AuditLog.objects.count(), JournalEntry.objects.count()) == before


def test_a_second_regulator_approves_and_the_expense_is_accrued(compute, regulators):
    # given a computed run of 2,175.69
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])
    run = compute("2024Q3")

    # when the second regulator user approves it
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)

    # then run and entitlements are approved, by the second user
    run.refresh_from_db()
    assert (run.status, run.approved_by_id) == ("approved", regulators.checker.pk)
    assert set(SubsidyEntitlement.objects.filter(run=run).values_list("status", flat=True)) == {"approved"}
    # and one accrual entry: subsidy expense (5004) <- subsidies payable (2003), 2,175.69, on the
    # regulator's books
    entry = JournalEntry.objects.get(
        kind="subsidy_accrual", source_type="fintech.subsidyrun", source_id=str(run.pk)
    )
    assert _postings(entry) == [("5004", "2003", Q3_TOTAL, regulators.checker.organization_id)]
    assert AuditLog.objects.filter(action="subsidy_run.approve", object_id=str(run.pk)).count() == 1

    # and a second approval is refused (409) with nothing posted twice
    with pytest.raises(InvalidTransition):
        subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    assert JournalEntry.objects.filter(kind="subsidy_accrual").count() == 1


def test_approval_needs_a_computed_run_and_a_regulator(regulators, django_capture_on_commit_callbacks):
    # given a run still pending (its chunks not run yet)
    june_2024_loan()
    with django_capture_on_commit_callbacks(execute=False):
        run = subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3")

    # then the other regulator may not approve it yet (409); a bank user may not at all (403); a
    # regulator of another region does not see it (404)
    with pytest.raises(InvalidTransition):
        subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    with pytest.raises(RoleNotAllowed):
        subsidy_run_approve(actor=UserFactory(organization=OrganizationFactory(kind="bank")), run_id=run.pk)
    with pytest.raises(NotFound):
        subsidy_run_approve(actor=regulator(regulator_org("420200")), run_id=run.pk)
    assert SubsidyRun.objects.get(pk=run.pk).status == "pending"


def test_payment_is_recorded_with_its_reference_and_posted_per_sme(compute, regulators):
    # given two SMEs' June loans, #1-#3 paid on time, and the 2024Q3 run approved
    a, pa = june_2024_loan()
    b, pb = june_2024_loan()
    pay(a, pa, [1, 2, 3])
    pay(b, pb, [1, 2, 3])
    run = compute("2024Q3")
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)

    # when the payment is recorded
    subsidy_run_pay(
        actor=regulators.starter, run_id=run.pk, paid_on=date(2024, 10, 15), reference="GK-2024-Q3-001"
    )

    # then run and entitlements are paid, with the reference
    run.refresh_from_db()
    assert (run.status, run.paid_on, run.payment_reference) == ("paid", date(2024, 10, 15), "GK-2024-Q3-001")
    assert set(SubsidyEntitlement.objects.filter(run=run).values_list("status", flat=True)) == {"paid"}
    # and one payment entry on 2024-10-15: payable (2003) <- government budget (1005) 4,351.38 =
    # 2 x 2,175.69; each SME's cash (1004) <- its subsidy income (4004) 2,175.69
    entry = JournalEntry.objects.get(kind="subsidy_payment", source_id=str(run.pk))
    assert entry.booked_on == date(2024, 10, 15)
    assert _postings(entry) == sorted(
        [
            ("2003", "1005", D("4351.38"), regulators.starter.organization_id),
            ("1004", "4004", Q3_TOTAL, a.sme_id),
            ("1004", "4004", Q3_TOTAL, b.sme_id),
        ]
    )

    # and paying again is refused (409), nothing posted twice
    with pytest.raises(InvalidTransition):
        subsidy_run_pay(
            actor=regulators.starter, run_id=run.pk, paid_on=date(2024, 10, 16), reference="again"
        )
    assert JournalEntry.objects.filter(kind="subsidy_payment").count() == 1


def test_payment_needs_an_approved_run_a_reference_and_a_past_date(compute, regulators):
    loan, people = june_2024_loan()
    pay(loan, people, [1])
    run = compute("2024Q3")
    with pytest.raises(InvalidTransition):  # computed, not approved yet
        subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2024, 10, 15), reference="R1")
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    with pytest.raises(InvalidInput) as blank:
        subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2024, 10, 15), reference="  ")
    assert "reference" in blank.value.fields
    with pytest.raises(InvalidInput) as future:
        subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2099, 1, 1), reference="R1")
    assert "paid_on" in future.value.fields
    assert SubsidyRun.objects.get(pk=run.pk).status == "approved"


def test_every_transition_is_audited(compute, regulators):
    loan, people = june_2024_loan()
    pay(loan, people, [1])
    run = compute("2024Q3")
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    subsidy_run_pay(actor=regulators.starter, run_id=run.pk, paid_on=date(2024, 10, 15), reference="R1")
    rows = AuditLog.objects.filter(object_type="fintech.subsidyrun", object_id=str(run.pk)).order_by("id")
    assert [(r.action, r.from_state, r.to_state) for r in rows] == [
        ("subsidy_run.start", "", "pending"),
        ("subsidy_run.running", "pending", "running"),
        ("subsidy_run.compute", "running", "computed"),
        ("subsidy_run.approve", "computed", "approved"),
        ("subsidy_run.pay", "approved", "paid"),
    ]
    assert [r.actor_id for r in rows] == [
        regulators.starter.pk,
        None,
        None,
        regulators.checker.pk,
        regulators.starter.pk,
    ]


def test_a_programme_without_loans_computes_at_once(compute):
    run = compute("2024Q3")
    assert (run.status, run.chunks_total, run.entitlements_count, run.interest_total) == (
        "computed",
        0,
        0,
        D("0.00"),
    )


def test_a_run_whose_messages_were_lost_is_queued_again(regulators, django_capture_on_commit_callbacks):
    # given a run whose chunk tasks never reached a worker (the broker lost them)
    book_of_three()
    with django_capture_on_commit_callbacks(execute=False):
        run = subsidy_run_start(
            actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=2
        )

    # when a regulator queues its unfinished chunks again
    with django_capture_on_commit_callbacks(execute=True):
        services.subsidy_run_resume(actor=regulators.checker, run_id=run.pk)

    # then the run is computed: 3 x 2,175.69 = 6,527.07; and a computed run cannot be resumed
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.interest_total) == ("computed", 2, D("6527.07"))
    with pytest.raises(InvalidTransition):
        services.subsidy_run_resume(actor=regulators.checker, run_id=run.pk)


def test_a_chunk_costs_the_same_queries_for_one_loan_or_many(regulators, django_capture_on_commit_callbacks):
    """Set-based: the entitlements of a chunk come from two INSERT ... SELECT statements, so the
    number of queries does not grow with the loans in the chunk."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries_for_one_chunk(period: str) -> tuple[int, int]:
        with django_capture_on_commit_callbacks(execute=False):
            run = subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period=period)
        chunk = SubsidyRunChunk.objects.get(run=run)
        with CaptureQueriesContext(connection) as captured:
            subsidy_chunk_compute(chunk.pk)
        return len(captured), SubsidyRunChunk.objects.get(pk=chunk.pk).entitlements_count

    # given one loan paid on time: 2024Q3 gives 3 entitlements
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])
    few = queries_for_one_chunk("2024Q3")
    # and five more loans, all paid on time through Q4: 2024Q4 gives 6 x 3 = 18 entitlements
    pay(loan, people, [4, 5, 6])
    for _ in range(5):
        other, their = june_2024_loan()
        pay(other, their, [1, 2, 3, 4, 5, 6])
    many = queries_for_one_chunk("2024Q4")
    assert (few[1], many[1]) == (3, 18)
    assert few[0] == many[0]
