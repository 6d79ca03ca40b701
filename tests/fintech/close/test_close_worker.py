"""The daily close through the broker and a REAL Celery worker process on the test database (needs
CELERY_BROKER_URL and a PostgreSQL DATABASE_URL; skipped otherwise)."""

from __future__ import annotations

import re
from datetime import date

import pytest

from fintech.models import CloseChunk, CloseRun, Installment, Loan, WatchRun
from fintech.services.close import close_day
from fintech.tasks.close import close_chunk, close_day_beat

from .conftest import five_loan_book, snapshot

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

AS_OF = date(2025, 7, 1)
CHUNK_RECEIVED = re.compile(r"Task fintech\.close_chunk\[[^\]]+\] received")


def test_the_close_runs_in_a_real_worker_and_a_rerun_changes_nothing(worker, through_the_broker):
    # given the book of five loans (two default on 2025-06-19, two have installment 1 overdue)
    book = five_loan_book()

    # when close_day runs for 2025-07-01 in chunks of two: three tasks sent through the broker
    run = close_day(AS_OF, chunk_size=2, timeout=120, poll=0.25)

    # then it returned once the worker had done every chunk, the counts on the run record
    assert (
        run.status,
        run.chunks_total,
        run.chunks_done,
        run.loans_closed,
        run.overdue_marked,
        run.defaults_count,
        run.error,
    ) == ("done", 3, 3, 5, 8, 2, ""), worker.output()
    assert len(CHUNK_RECEIVED.findall(worker.output())) == 3  # tasks run in that worker, not here
    assert [Loan.objects.get(pk=x.pk).status for x in book] == [
        "defaulted",
        "active",
        "active",
        "defaulted",
        "active",
    ]
    assert [Loan.objects.get(pk=x.pk).defaulted_on for x in book] == [
        date(2025, 6, 19),
        None,
        None,
        date(2025, 6, 19),
        None,
    ]
    assert Installment.objects.filter(loan__in=book, status="overdue").count() == 8
    # the close's finish started the date's collateral watch, in that worker too
    worker.wait_for(
        lambda: WatchRun.objects.filter(as_of=AS_OF, status="done").exists(), "the watch", timeout=90
    )
    before = snapshot()

    # when the close for the same date runs again, and the broker delivers a done chunk once more,
    # followed on this single-process queue by a marker task (beat's close for an earlier date,
    # which finds nothing to close but leaves its run record)
    again = close_day(AS_OF, chunk_size=2, timeout=60, poll=0.25)
    close_chunk.delay(CloseChunk.objects.filter(run=run).order_by("lo_id").values_list("pk", flat=True)[0])
    close_day_beat.delay("2025-06-01")
    worker.wait_for(
        lambda: CloseRun.objects.filter(as_of=date(2025, 6, 1)).exists(), "the marker task", timeout=90
    )

    # then nothing changed
    assert (again.status, again.chunks_total, again.loans_closed) == ("done", 0, 0)
    assert snapshot() == before
    assert len(CHUNK_RECEIVED.findall(worker.output())) == 4
