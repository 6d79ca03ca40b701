"""The batch watchdog (services.batch.watchdog, beat every BATCH_WATCHDOG_SECONDS) on subsidy runs:
chunks whose messages were lost are queued again and the run completes with the figures of an
uninterrupted run; a chunk that keeps stalling fails the run with the reason, shown by the API;
chunks waiting their turn while the run makes progress are left alone. Time is moved by passing
`now` past the heartbeat deadline."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from fintech.models import AuditLog, SubsidyRun, SubsidyRunChunk
from fintech.services import batch
from fintech.services.subsidies import SUBSIDY_JOB, subsidy_chunk_compute, subsidy_run_start
from fintech.tasks import batch_watchdog
from tests.factories import wuhan_program

from .test_runs import book_of_three

pytestmark = pytest.mark.django_db


def _later(settings, seconds: int = 1):
    return timezone.now() + timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS + seconds)


def _lost_run(regulators, django_capture_on_commit_callbacks, chunk_size: int = 1) -> SubsidyRun:
    """A run of 2024Q3 over the book of three whose chunk messages never reached a worker."""
    book_of_three()
    with django_capture_on_commit_callbacks(execute=False):
        return subsidy_run_start(
            actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=chunk_size
        )


def test_the_watchdog_queues_lost_chunks_again_and_the_run_completes(
    regulators, django_capture_on_commit_callbacks, settings
):
    # given a run of three chunks whose messages were lost (all pending, nothing moved)
    run = _lost_run(regulators, django_capture_on_commit_callbacks)

    # when the watchdog passes before the heartbeat deadline: nothing is stalled yet
    assert batch.watchdog() == {"stalled": 0, "requeued": 0, "failed": 0}

    # and when it passes after the deadline (its requeued tasks run in process on commit)
    with django_capture_on_commit_callbacks(execute=True):
        found = batch.watchdog(now=_later(settings))

    # then the three chunks were stalled and queued again, and the run is computed with the
    # figures of an uninterrupted run: 3 x 2,175.69 = 6,527.07 over nine entitlements
    assert found == {"stalled": 3, "requeued": 3, "failed": 0}
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.chunks_requeued, run.entitlements_count, run.interest_total) == (
        "computed",
        3,
        3,
        9,
        D("6527.07"),
    )
    # and the audit trail holds one stall and one requeue per chunk, by the system
    chunk_ids = {str(pk) for pk in SubsidyRunChunk.objects.filter(run=run).values_list("pk", flat=True)}
    for action in ("subsidy_run.chunk_stall", "subsidy_run.chunk_requeue"):
        rows = AuditLog.objects.filter(action=action)
        assert {r.object_id for r in rows} == chunk_ids
        assert {(r.object_type, r.actor_id) for r in rows} == {("fintech.subsidyrunchunk", None)}
    assert set(
        AuditLog.objects.filter(action="subsidy_run.chunk_requeue").values_list("from_state", "to_state")
    ) == {("pending", "pending")}


def test_a_chunk_whose_worker_died_is_queued_again_and_counted_once(
    regulators, django_capture_on_commit_callbacks, settings, monkeypatch
):
    # given a run whose first chunk is done and whose second was claimed by a worker that died
    # before its commit (the chunk stays "running", its heartbeat getting old)
    run = _lost_run(regulators, django_capture_on_commit_callbacks)
    first, second, _third = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id")
    subsidy_chunk_compute(first.pk)
    monkeypatch.setattr(batch, "_work", lambda job, chunk_id: (_ for _ in ()).throw(SystemExit("killed")))
    with pytest.raises(SystemExit):
        subsidy_chunk_compute(second.pk)
    monkeypatch.undo()
    assert list(
        SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").values_list("status", "attempts")
    ) == [
        ("done", 1),
        ("running", 1),
        ("pending", 0),
    ]

    # when the watchdog passes after the deadline
    with django_capture_on_commit_callbacks(execute=True):
        found = batch.watchdog(now=_later(settings))

    # then the running chunk and the pending one were queued again (nothing of the run moved since
    # the deadline), each done once: the run holds nine entitlements, 6,527.07
    assert found == {"stalled": 2, "requeued": 2, "failed": 0}
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.chunks_requeued, run.entitlements_count, run.interest_total) == (
        "computed",
        3,
        2,
        9,
        D("6527.07"),
    )
    assert list(
        SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").values_list("status", "attempts")
    ) == [
        ("done", 1),
        ("done", 2),
        ("done", 1),
    ]


def test_pending_chunks_of_a_run_that_moves_are_waiting_their_turn(
    regulators, django_capture_on_commit_callbacks, settings
):
    # given a run of three chunks, one of which a worker just finished (the others queued behind)
    run = _lost_run(regulators, django_capture_on_commit_callbacks)
    first = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").first()
    subsidy_chunk_compute(first.pk)
    old = timezone.now() - timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS + 5)
    SubsidyRunChunk.objects.filter(run=run, status="pending").update(heartbeat_at=old)

    # when the watchdog passes (the run's last sign of life, the finished chunk, is recent)
    found = batch.watchdog()

    # then nothing is queued again
    assert found == {"stalled": 0, "requeued": 0, "failed": 0}
    assert SubsidyRun.objects.get(pk=run.pk).chunks_requeued == 0


def test_a_run_whose_chunk_keeps_stalling_is_failed_with_the_reason(
    regulators, django_capture_on_commit_callbacks, settings, client_for
):
    # given a one-chunk run whose chunk was claimed BATCH_MAX_ATTEMPTS (2) times by workers that died
    settings.BATCH_MAX_ATTEMPTS = 2
    run = _lost_run(regulators, django_capture_on_commit_callbacks, chunk_size=500)
    chunk = SubsidyRunChunk.objects.get(run=run)
    SubsidyRunChunk.objects.filter(pk=chunk.pk).update(status="running", attempts=2)

    # when the beat task of the watchdog passes after the deadline
    with django_capture_on_commit_callbacks(execute=True):
        found = batch.watchdog(now=_later(settings))
        batch_watchdog.delay()  # the beat entry point: nothing left to do

    # then the chunk and the run failed with the reason, audited, and the API shows it
    assert found == {"stalled": 1, "requeued": 0, "failed": 1}
    reason = f"chunk {chunk.pk}: stalled after 2 attempts"
    run.refresh_from_db()
    assert (run.status, run.error, run.chunks_requeued) == ("failed", reason, 0)
    assert SubsidyRunChunk.objects.get(pk=chunk.pk).status == "failed"
    row = AuditLog.objects.get(action="subsidy_run.fail")
    assert (row.from_state, row.to_state, row.reason) == ("pending", "failed", reason)
    body = client_for(regulators.checker).get(f"/api/v1/subsidy-runs/{run.pk}/").json()
    assert (body["status"], body["error"], body["chunks_requeued"]) == ("failed", reason, 0)


def test_the_engine_is_registered_for_every_job():
    from fintech.services.close import CLOSE_JOB
    from fintech.services.watch import WATCH_JOB

    assert batch.JOBS == {"subsidy_run": SUBSIDY_JOB, "close_run": CLOSE_JOB, "collateral_watch": WATCH_JOB}


def test_a_late_progress_update_after_the_run_finished_counts_nothing_twice(
    regulators, django_capture_on_commit_callbacks
):
    # given a run of three chunks computed in process: 9 entitlements, 6,527.07 of interest
    book_of_three()
    with django_capture_on_commit_callbacks(execute=True):
        run = subsidy_run_start(
            actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3", chunk_size=1
        )
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.entitlements_count) == ("computed", 3, 9)
    first = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").first()

    # when a chunk's progress update arrives after the completion set the counters from the chunks
    batch._add_progress(SUBSIDY_JOB, first.pk, {"entitlements_count": 3})

    # then the run's figures stay those of its chunks
    run.refresh_from_db()
    assert (run.chunks_done, run.entitlements_count, run.interest_total) == (3, 9, D("6527.07"))


def test_a_failing_duplicate_of_a_chunk_already_done_does_not_fail_the_run(
    regulators, django_capture_on_commit_callbacks
):
    # given a run of three chunks whose first is done and whose other two wait their turn
    run = _lost_run(regulators, django_capture_on_commit_callbacks)
    first = SubsidyRunChunk.objects.filter(run=run).order_by("lo_id").first()
    subsidy_chunk_compute(first.pk)

    # when a duplicate delivery of the done chunk fails for good
    batch.chunk_fail(SUBSIDY_JOB, first.pk, "duplicate delivery: connection lost")

    # then the chunk stays done and the run goes on running
    first.refresh_from_db()
    run.refresh_from_db()
    assert (first.status, run.status, run.chunks_done) == ("done", "running", 1)
