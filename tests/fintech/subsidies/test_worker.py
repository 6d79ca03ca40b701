"""Subsidy runs through the real broker and real Celery worker processes (needs CELERY_BROKER_URL
and a PostgreSQL DATABASE_URL; skipped otherwise, and never under CI).

The book: three SMEs' loans of 1,000,000.00 at 4.5 %, interest monthly, disbursed 2024-06-01,
installments 1-3 paid on their due dates. Q3 2024 per loan, by hand (tests/fintech/subsidies/
test_interest.py): 718.75 + 735.76 + 721.18 = 2,175.69; the book: 3 x 2,175.69 = 6,527.07.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection, transaction

from config.celery import app
from fintech.models import SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services.subsidies import subsidy_run_start
from tests.factories import wuhan_program
from tests.loan_builder import active_loan

from .helpers import INTEREST_ONLY, D, amounts, pay, regulator

ROOT = Path(__file__).resolve().parents[3]

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# A restarted worker gets back the message of a killed one once the broker's visibility timeout has
# passed (an hour by default). The restarted worker of these tests uses one second, so that the
# test does not wait an hour; everything else is the project's configuration.
FAST_REDELIVERY = (
    "import sys; from config.celery import app; "
    "app.conf.broker_transport_options = "
    "{'visibility_timeout': 1, 'unacked_restore_interval': 1, 'unacked_restore_throttle': 1}; "
    "app.worker_main(sys.argv[1:])"
)


def _test_database_url() -> str:
    s = connection.settings_dict
    user = quote(s["USER"] or "", safe="")
    password = f":{quote(s['PASSWORD'], safe='')}" if s.get("PASSWORD") else ""
    credentials = f"{user}{password}@" if user else ""
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{credentials}{s['HOST'] or '127.0.0.1'}{port}/{quote(s['NAME'], safe='')}"


class Worker:
    """One real worker process consuming only this test's queue."""

    def __init__(self, queue: str, log: Path, fast_redelivery: bool = False) -> None:
        env = {
            **os.environ,
            "DATABASE_URL": _test_database_url(),
            "CELERY_QUEUE": queue,
            "DJANGO_SECURE_SSL_REDIRECT": "off",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONUNBUFFERED": "1",
        }
        args = [
            "worker",
            "--pool=solo",
            "--concurrency=1",
            "-Q",
            queue,
            "--without-gossip",
            "--without-mingle",
            "-l",
            "info",
        ]
        command = (
            [sys.executable, "-c", FAST_REDELIVERY, *args]
            if fast_redelivery
            else [sys.executable, "-m", "celery", "-A", "config", *args]
        )
        self.log = log
        with log.open("w") as sink:
            self.process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.process.poll() is None, f"the worker exited early:\n{self.output()}"
            assert time.monotonic() < deadline, f"timed out waiting for {what}:\n{self.output()}"
            time.sleep(0.2)

    def kill(self) -> None:
        """SIGKILL: no warm shutdown, no acknowledgement, the open transaction is abandoned."""
        self.process.kill()
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        print(f"--- worker output (exit {self.process.returncode}) ---\n{self.output()}")


@pytest.fixture
def queue() -> str:
    return f"test-subsidy-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def workers(queue: str, tmp_path: Path) -> Iterator[Callable[..., Worker]]:
    started: list[Worker] = []

    def start(fast_redelivery: bool = False) -> Worker:
        worker = Worker(queue, tmp_path / f"worker-{len(started) + 1}.log", fast_redelivery)
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def through_the_broker(queue: str) -> Iterator[None]:
    eager, default_queue = app.conf.task_always_eager, app.conf.task_default_queue
    app.conf.task_always_eager = False
    app.conf.task_default_queue = queue
    try:
        yield
    finally:
        app.conf.task_always_eager = eager
        app.conf.task_default_queue = default_queue


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


def _lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int(cursor.fetchone()[0])


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
    app.conf.task_always_eager, default_queue = False, app.conf.task_default_queue
    app.conf.task_default_queue = queue
    try:
        run = subsidy_run_start(
            actor=regulator(regulators.starter.organization),
            program_id=wuhan_program().pk,
            period="2024Q3",
            chunk_size=1,
        )
    finally:
        app.conf.task_always_eager, app.conf.task_default_queue = True, default_queue
    _first, second, _third = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id")

    # when a worker computes the first chunk and is killed (SIGKILL) in the middle of the second,
    # held there by a row lock this test takes on it
    with transaction.atomic():
        SubsidyRunChunk.objects.select_for_update().get(pk=second.pk)
        doomed = workers()
        doomed.wait_for(lambda: SubsidyRun.objects.get(pk=run.pk).chunks_done == 1, "the first chunk")
        doomed.wait_for(lambda: _lock_waiters() > 0, "the worker to be inside the second chunk")
        doomed.kill()
    half = SubsidyRun.objects.get(pk=run.pk)
    assert (half.status, half.chunks_done) == ("running", 1)
    assert SubsidyEntitlement.objects.filter(run=run).count() == 3  # the first chunk's, committed

    # and a new worker is started
    restarted = workers(fast_redelivery=True)
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
