"""kill -9 of the worker in the middle of a daily close dispatched by beat: the batch watchdog (in
a new worker's embedded beat, heartbeat deadline 2 s) finishes it, nobody runs anything by hand;
no loan is closed twice, none is left (marked `broker`; run by CI)."""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import AuditLog, CloseChunk, CloseRun, Installment, Loan, LossEvent
from fintech.services.close import close_run_dispatch
from tests import celery_worker as harness
from tests.figures import figure

from .conftest import five_loan_book

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

queue = harness.queue
workers = harness.workers

AS_OF = date(2025, 7, 1)


def test_kill_9_of_the_worker_mid_close_is_healed_by_the_watchdog(workers, queue, tmp_path):
    # given the five-loan book and the close for 2025-07-01 dispatched (beat's way) in chunks of two
    book = five_loan_book()
    with harness.sending_to(queue):
        run = close_run_dispatch(AS_OF, chunk_size=2)
    _first, second, _third = CloseChunk.objects.filter(run=run).order_by("lo_id")

    # when a worker closes the first chunk and is killed (SIGKILL) inside the second
    harness.kill_inside(workers, second, lambda: CloseRun.objects.get(pk=run.pk).chunks_done == 1)

    # and a new worker with the watchdog is started
    healer = harness.start_healer(workers, tmp_path)
    healer.wait_for(
        lambda: CloseRun.objects.get(pk=run.pk).status in ("done", "failed"),
        "the close to finish",
        timeout=90,
    )

    # then the close has the counts of an uninterrupted one: 5 loans closed, 8 installments
    # overdue, 2 defaults (one loss event each, no more)
    run.refresh_from_db()
    statuses = list(CloseChunk.objects.filter(run=run).values_list("status", flat=True))
    defaulted = Loan.objects.filter(pk__in=[x.pk for x in book], status="defaulted").count()
    figure(
        "faults kill9_mid_close",
        f"faults kill9_mid_close chunks={len(statuses)} requeued={run.chunks_requeued}"
        f" lost={sum(s != 'done' for s in statuses)}"
        f" duplicated={LossEvent.objects.filter(loan__in=book).count() - defaulted} status={run.status}",
    )
    assert (run.status, run.chunks_done, run.loans_closed, run.overdue_marked, run.defaults_count) == (
        "done",
        3,
        5,
        8,
        2,
    )
    assert run.chunks_requeued >= 1
    assert [Loan.objects.get(pk=x.pk).status for x in book] == [
        "defaulted",
        "active",
        "active",
        "defaulted",
        "active",
    ]
    assert LossEvent.objects.filter(loan__in=book).count() == 2
    assert Installment.objects.filter(loan__in=book, status="overdue").count() == 8
    assert str(second.pk) in set(
        AuditLog.objects.filter(action="close_run.chunk_requeue").values_list("object_id", flat=True)
    )
