"""Subsidy runs through the real broker and real Celery worker processes (needs CELERY_BROKER_URL
and a PostgreSQL DATABASE_URL; skipped otherwise, and never under CI).

The book: three SMEs' loans of 1,000,000.00 at 4.5 %, interest monthly, disbursed 2024-06-01,
installments 1-3 paid on their due dates. Q3 2024 per loan, by hand (tests/fintech/subsidies/
test_interest.py): 718.75 + 735.76 + 721.18 = 2,175.69; the book: 3 x 2,175.69 = 6,527.07.
"""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services.subsidies import subsidy_run_start
from tests import celery_worker as harness
from tests.builders import active_loan
from tests.factories import wuhan_program

from .helpers import INTEREST_ONLY, D, amounts, pay, regulator

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# The real-worker fixtures (tests/celery_worker.py), each test on its own queue.
queue = harness.queue
workers = harness.workers
through_the_broker = harness.through_the_broker

# A restarted worker gets back the message of a killed one once the broker's visibility timeout has
# passed (ten minutes by default, config/settings.py), at the next sweep for such messages (every
# 100 s by default). The restarted worker of these tests uses one second for both, so that the test
# does not wait that long; everything else is the project's configuration.
FAST_REDELIVERY = {
    "broker_transport_options": {
        "visibility_timeout": 1,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }
}


@pytest.fixture
def book() -> None:
    for _ in range(3):
        loan, people = active_loan(
            method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
        )
        pay(loan, people, [1, 2, 3])


def _status(run_id: int) -> str:
    return SubsidyRun.objects.values_list("status", flat=True).get(pk=run_id)


def test_a_run_computed_by_a_real_worker(book, workers, through_the_broker, regulators):
    # given a worker, and a run of 2024Q3 started with one loan per chunk (three tasks queued)
    worker = workers()
    run = subsidy_run_start(
        actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=1
    )
    assert run.status == "pending"

    # when the worker has run them
    worker.wait_for(lambda: _status(run.pk) in ("computed", "failed"), "the run to be computed")

    # then the run holds the book's nine entitlements, 6,527.07, aggregated from the database
    run.refresh_from_db()
    assert (run.status, run.chunks_total, run.chunks_done, run.entitlements_count, run.interest_total) == (
        "computed",
        3,
        3,
        9,
        D("6527.07"),
    )


def _baseline(regulators) -> tuple[list, SubsidyRun]:
    """The uninterrupted run, in process; then removed (test set-up only) so that the period can be
    computed again from nothing."""
    run = subsidy_run_start(
        actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=1
    )  # tasks run in process on commit
    run.refresh_from_db()
    rows = [row[1:] for row in amounts(run)]  # without loan ids: (seq, kind, computed, amount, capped)
    SubsidyEntitlement.objects.filter(run=run).delete()
    SubsidyRunChunk.objects.filter(run=run).delete()
    SubsidyRun.objects.filter(pk=run.pk).delete()
    return rows, run


def test_a_run_whose_worker_is_killed_mid_way_gives_the_totals_of_an_uninterrupted_run(
    book, workers, queue, regulators
):
    # given the totals of an uninterrupted run of the book: 6,527.07 over nine entitlements
    expected_rows, baseline = _baseline(regulators)
    assert (baseline.status, baseline.interest_total, baseline.entitlements_count) == (
        "computed",
        D("6527.07"),
        9,
    )

    # and the same period started again, its three chunk tasks sent to the broker
    with harness.sending_to(queue):
        run = subsidy_run_start(
            actor=regulator(regulators.starter.organization),
            program_id=wuhan_program().pk,
            period="2024Q3",
            chunk_size=1,
        )
    _first, second, _third = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id")

    # when a worker computes the first chunk and is killed (SIGKILL) in the middle of the second,
    # held there by a row lock this test takes on it
    harness.kill_inside(workers, second, lambda: SubsidyRun.objects.get(pk=run.pk).chunks_done == 1)
    half = SubsidyRun.objects.get(pk=run.pk)
    assert (half.status, half.chunks_done) == ("running", 1)
    assert SubsidyEntitlement.objects.filter(run=run).count() == 3  # the first chunk's, committed

    # and a new worker is started
    restarted = workers(config=FAST_REDELIVERY)
    restarted.wait_for(
        lambda: _status(run.pk) in ("computed", "failed"), "the run to be computed", timeout=90
    )

    # then the run completes with exactly the entitlements and totals of the uninterrupted run
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.entitlements_count, run.interest_total, run.premium_total) == (
        "computed",
        3,
        9,
        D("6527.07"),
        D("0.00"),
    )
    assert [row[1:] for row in amounts(run)] == expected_rows
    assert list(SubsidyRunChunk.objects.filter(run=run).values_list("status", flat=True)) == ["done"] * 3
    assert "fintech.subsidy_chunk" in restarted.output()
