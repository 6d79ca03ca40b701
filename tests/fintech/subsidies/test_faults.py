"""Faults with real processes, healed by the batch watchdog alone (marked `broker`: PostgreSQL,
Redis and real Celery workers; run by CI). The worker that heals embeds Celery beat running the
watchdog every second, with a heartbeat deadline of 2 s; the broker's own redelivery of a killed
worker's message is left at the project's ten minutes, so only the watchdog can finish the work.

The book: three SMEs' loans with installments 1-3 paid on time; Q3 2024 = 3 x 2,175.69 = 6,527.07
over nine entitlements (tests/fintech/subsidies/test_interest.py)."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.db import transaction

from config.celery import app
from fintech.models import AuditLog, SubsidyEntitlement, SubsidyRun, SubsidyRunChunk
from fintech.services import batch
from fintech.services.subsidies import subsidy_run_start
from tests import celery_worker as harness
from tests.factories import wuhan_program
from tests.figures import figure

from . import test_worker
from .helpers import D, regulator

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

queue = harness.queue
workers = harness.workers
book = test_worker.book
_status = test_worker._status


def assert_whole_run(run_id: int, fault: str) -> SubsidyRun:
    """The figures of an uninterrupted run, each chunk done once, nothing lost or doubled; the
    outcome is recorded as a figure line (`faults <fault> ... lost=0 duplicated=0`)."""
    run = SubsidyRun.objects.get(pk=run_id)
    statuses = list(SubsidyRunChunk.objects.filter(run=run).values_list("status", flat=True))
    owed = SubsidyEntitlement.objects.filter(run=run)
    figure(
        f"faults {fault}",
        f"faults {fault} chunks={len(statuses)} requeued={run.chunks_requeued}"
        f" lost={sum(s != 'done' for s in statuses)}"
        f" duplicated={owed.count() - owed.values('installment', 'kind').distinct().count()}"
        f" status={run.status}",
    )
    assert (run.status, run.chunks_done, run.entitlements_count, run.interest_total, run.premium_total) == (
        "computed",
        3,
        9,
        D("6527.07"),
        D("0.00"),
    )
    assert SubsidyEntitlement.objects.filter(run=run).count() == 9
    assert list(SubsidyRunChunk.objects.filter(run=run).values_list("status", flat=True)) == ["done"] * 3
    return run


def _start(regulators, chunk_size: int = 1) -> SubsidyRun:
    return subsidy_run_start(
        actor=regulator(regulators.starter.organization),
        program_id=wuhan_program().pk,
        period="2024Q3",
        chunk_size=chunk_size,
    )


def test_kill_9_of_the_worker_mid_run_is_healed_by_the_watchdog(book, workers, queue, regulators, tmp_path):
    # given a run of three chunks sent through the broker
    with harness.sending_to(queue):
        run = _start(regulators)
    _first, second, _third = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id")

    # when a worker computes the first chunk and is killed (SIGKILL) inside the second, held there
    # by a row lock this test takes on it
    harness.kill_inside(workers, second, lambda: SubsidyRun.objects.get(pk=run.pk).chunks_done == 1)

    # and a new worker with the watchdog is started (the killed one's message stays with the broker)
    healer = harness.start_healer(workers, tmp_path)
    healer.wait_for(lambda: _status(run.pk) in ("computed", "failed"), "the run to be computed", timeout=90)

    # then the run has the figures of an uninterrupted one, the stall and requeue audited
    healed = assert_whole_run(run.pk, "kill9_mid_subsidy_run")
    assert healed.chunks_requeued >= 1
    requeued = AuditLog.objects.filter(action="subsidy_run.chunk_requeue")
    assert str(second.pk) in {r.object_id for r in requeued}
    assert AuditLog.objects.filter(action="subsidy_run.chunk_stall").count() == requeued.count()
    assert "batch watchdog: subsidy_run run" in healer.output()


class Redis:
    """A redis-server of this test only, without persistence: a restart loses every message."""

    def __init__(self, log_dir: Path) -> None:
        self.port = harness.free_port()
        self.log = log_dir / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        with self.log.open("a") as sink:
            self.process = subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(self.port),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        harness.wait_until(self._answers, 20, what="redis-server to answer")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Redis]:
    redis = Redis(tmp_path)
    redis.start()
    try:
        yield redis
    finally:
        redis.kill()


def test_a_broker_restart_mid_run_loses_messages_and_the_watchdog_sends_them_again(
    book, workers, queue, regulators, tmp_path, private_redis, monkeypatch
):
    # given a worker with the watchdog on a broker of this test
    broker = {"CELERY_BROKER_URL": private_redis.url, **harness.HEAL}
    worker = workers(env=broker, **harness.with_watchdog(tmp_path))

    # and a run of three chunks, their tasks sent to that broker, the second held by a row lock
    monkeypatch.setattr(batch, "chunks_enqueue", lambda job, ids: None)  # sent below, to that broker
    run = _start(regulators)
    monkeypatch.undo()
    chunks = list(SubsidyRunChunk.objects.filter(run=run).order_by("lo_id"))
    task = app.tasks["fintech.subsidy_chunk"]
    with transaction.atomic():
        SubsidyRunChunk.objects.select_for_update().get(pk=chunks[1].pk)
        with harness.sending_to(queue), app.connection_for_write(private_redis.url) as conn:
            for chunk in chunks:
                task.apply_async((chunk.pk,), connection=conn, queue=queue)
        worker.wait_for(lambda: SubsidyRun.objects.get(pk=run.pk).chunks_done == 1, "the first chunk")
        worker.wait_for(lambda: harness.lock_waiters() > 0, "the worker to be inside the second chunk")

        # when the broker restarts without persistence (the third chunk's message is gone)
        private_redis.kill()
        private_redis.start()
        time.sleep(0.5)

    # then the worker reconnects, and the watchdog queues the lost chunk again: the run completes
    worker.wait_for(lambda: _status(run.pk) in ("computed", "failed"), "the run to be computed", timeout=90)
    healed = assert_whole_run(run.pk, "broker_restart_mid_subsidy_run")
    assert healed.chunks_requeued >= 1
    assert str(chunks[2].pk) in set(
        AuditLog.objects.filter(action="subsidy_run.chunk_requeue").values_list("object_id", flat=True)
    )
