"""The nightly collateral watch (DOMAIN.md section 10a) as its own batch job on the chunk engine
(services.batch), started once per business date when that date's daily close has finished
(services.close queues `fintech.collateral_watch_start` on the close's commit), or by an operator
(`manage.py collateral_watch`).

One WatchRun per date (unique in the database): a second close finish for the date, or a second
start, finds it and starts nothing new; an operator's start of an unfinished run resumes it. The
loans are those active and those no longer active with an open finding (the watch resolves
those), cut in chunks of contiguous id ranges; each chunk is one Celery task and one transaction
(services.collateral.collateral_watch over the range), so a chunk retried after a crash starts
clean and a chunk already done is skipped: findings are never raised twice.
"""

from __future__ import annotations

import logging
from datetime import date

from django.db.models import Q, QuerySet

from fintech.models import (
    Finding,
    FindingStatus,
    Loan,
    LoanStatus,
    WatchChunk,
    WatchRun,
)

from . import batch
from .collateral import collateral_watch

logger = logging.getLogger(__name__)

# Loans per chunk: a chunk's fixed cost (claim, its statement's planning, progress, the commits)
# is paid once per 4,000 loans; 2,000 measured 1.3-3.9x the floor, 4,000 1.2-2.0x (bench/README.md,
# bench/collateral_watch.py).
CHUNK_SIZE = 4000
# pg_advisory_xact_lock(namespace, day): two starts at once for one date make one run.
_ADVISORY_NAMESPACE = 0x776174  # "wat"


def loans_to_watch() -> QuerySet[Loan]:
    """Active loans, and loans no longer active that still have an open finding (to resolve it).
    The loans with an open finding as one set (a hashed subplan over the open findings' index),
    not a correlated EXISTS: its estimate made PostgreSQL compile the start's two scans (JIT),
    0.3 s of a night (bench/collateral_watch.py)."""
    return Loan.objects.filter(
        Q(status=LoanStatus.ACTIVE)
        | Q(pk__in=Finding.objects.filter(status=FindingStatus.OPEN).values("loan_id"))
    )


def _watch_chunk(chunk: WatchChunk) -> dict[str, int]:
    as_of: date = WatchRun.objects.values_list("as_of", flat=True).get(pk=chunk.run_id)
    # Every loan of the range (a plain index range scan): the watch looks at the active ones and
    # resolves the open findings of the others (services.collateral.collateral_watch).
    return collateral_watch(Loan.objects.filter(pk__range=(chunk.lo_id, chunk.hi_id)), as_of)


# The watch's run, start, dispatch, wait and finish: the dated-job layer (services.batch.DatedJob).
WATCH = batch.DatedJob(
    name="collateral_watch",
    title="collateral watch",
    run_model=WatchRun,
    chunk_model=WatchChunk,
    task_name="fintech.collateral_watch_chunk",
    process=lambda chunk: _watch_chunk(chunk),
    counters=("loans_watched", "findings_raised", "findings_resolved"),
    rows=lambda as_of: loans_to_watch(),
    lock_namespace=_ADVISORY_NAMESPACE,
    chunk_size=CHUNK_SIZE,
    audited=True,
)
WATCH_JOB = WATCH.job
# Start the watch of a date, or return that date's run (resumed if unfinished and `resume`);
# dispatch it (its chunks queued on commit; without `resume` a started run is left as it is);
# inside the close's finish, create the date's run pending (its start queued by the close, made by
# the watchdog if that message is lost); wait for a run; run a date to its end; one chunk's task.
watch_run_start = WATCH.start
watch_run_dispatch = WATCH.dispatch
watch_run_reserve = WATCH.reserve
watch_run_wait = WATCH.wait
watch_day = WATCH.day
watch_chunk_process = WATCH.chunk_process


def watch_after_close(as_of: date) -> WatchRun:
    """The close of `as_of` finished: start that date's watch unless it is started (idempotent)."""
    return WATCH.dispatch(as_of, resume=False)
