"""The daily close heals itself: chunks whose messages were lost are queued again by the close's own
wait (the watchdog's pass for its run) and by the beat watchdog; `close_day` reports its progress
on stderr and finishes with the figures of an uninterrupted close."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from fintech.models import AuditLog, CloseChunk, CloseRun
from fintech.services import batch
from fintech.services.close import CLOSE_JOB, close_chunk_process, close_run_dispatch

from .conftest import five_loan_book

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

AS_OF = date(2025, 7, 1)


def test_close_day_keeps_going_while_its_lost_chunks_are_healed(settings, monkeypatch):
    # given the five-loan book, a broker that loses the first sending of the chunk tasks, and a
    # heartbeat deadline of 0 s (a chunk not claimed at once counts as stalled)
    five_loan_book()
    settings.BATCH_HEARTBEAT_SECONDS = 0
    real_enqueue = batch.chunks_enqueue
    sent = []

    def loses_the_first_sending(job, chunk_ids):
        if job.name != "close_run":  # the collateral watch the close starts when done
            return real_enqueue(job, chunk_ids)
        ids = list(chunk_ids)
        sent.append(ids)
        if len(sent) > 1:
            real_enqueue(job, ids)

    monkeypatch.setattr(batch, "chunks_enqueue", loses_the_first_sending)

    # when the command runs for 2025-07-01 in chunks of two
    out, err = StringIO(), StringIO()
    call_command("close_day", "--as-of", "2025-07-01", "--chunk-size", "2", stdout=out, stderr=err)

    # then the three lost chunks were queued again once, and the close is done with the counts of an
    # uninterrupted close (5 loans, 8 installments overdue, 2 defaults)
    run = CloseRun.objects.get()
    assert [len(ids) for ids in sent] == [3, 3]
    assert (run.status, run.chunks_done, run.chunks_requeued) == ("done", 3, 3)
    assert out.getvalue() == (
        f"close 2025-07-01 (run {run.pk}): done; chunks 3/3, loans closed 5 of 5, "
        "installments marked overdue 8, defaults 2\n"
    )
    # and stderr showed the progress, from nothing done to the three healed chunks done
    lines = err.getvalue().splitlines()
    assert lines[0] == f"close 2025-07-01 (run {run.pk}): chunks 0/3"
    assert lines[-1] == f"close 2025-07-01 (run {run.pk}): chunks 3/3, 3 stalled chunks queued again"
    assert AuditLog.objects.filter(action="close_run.chunk_requeue").count() == 3
    assert AuditLog.objects.filter(action="close_run.chunk_stall").count() == 3


def test_the_beat_watchdog_finishes_a_close_whose_messages_were_lost(settings, monkeypatch):
    # given the close for 2025-07-01 dispatched by beat, its messages lost
    five_loan_book()
    monkeypatch.setattr(batch, "chunks_enqueue", lambda job, ids: None)
    run = close_run_dispatch(AS_OF, chunk_size=2)
    monkeypatch.undo()
    assert list(CloseChunk.objects.filter(run=run).values_list("status", flat=True)) == ["pending"] * 3

    # when the beat watchdog passes after the heartbeat deadline (tasks run in process)
    later = timezone.now() + timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS + 1)
    found = batch.watchdog(now=later)

    # then the close is done, the chunks each done once
    run.refresh_from_db()
    assert found == {"stalled": 3, "requeued": 3, "failed": 0}
    assert (run.status, run.chunks_done, run.loans_closed, run.overdue_marked, run.defaults_count) == (
        "done",
        3,
        5,
        8,
        2,
    )
    assert list(CloseChunk.objects.filter(run=run).values_list("attempts", flat=True)) == [1, 1, 1]


def test_a_late_progress_update_after_the_run_failed_counts_nothing_twice(monkeypatch):
    # given the five-loan book's close for 2025-07-01 in chunks of two (3 chunks), the first done
    # in process, the run's counters then 1 chunk done, 2 loans closed
    five_loan_book()
    monkeypatch.setattr(batch, "chunks_enqueue", lambda job, ids: None)
    run = close_run_dispatch(AS_OF, chunk_size=2)
    first, second, _third = CloseChunk.objects.filter(run=run).order_by("lo_id")
    close_chunk_process(first.pk)
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.loans_closed) == ("running", 1, 2)

    # when the second chunk fails for good (the run failed, its counters set from its chunks) and
    # then a progress update of the first chunk arrives late (it waited on the run's row)
    batch.chunk_fail(CLOSE_JOB, second.pk, "the database went away")
    batch._add_progress(CLOSE_JOB, first.pk, {"loans_closed": 2})

    # then the failed run's counters stay those of its chunks: 1 chunk done, 2 loans closed
    run.refresh_from_db()
    assert (run.status, run.chunks_done, run.loans_closed) == ("failed", 1, 2)
