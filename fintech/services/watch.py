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
from collections.abc import Callable
from datetime import date

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from fintech.models import (
    ChunkStatus,
    Finding,
    FindingStatus,
    Loan,
    LoanStatus,
    RunStatus,
    WatchChunk,
    WatchRun,
)

from . import batch
from .audit import audit_record
from .collateral import collateral_watch
from .common import ensure_not_future

logger = logging.getLogger(__name__)

# Loans per chunk: a chunk's fixed cost (claim, its statement's planning, progress, the commits)
# is paid once per 4,000 loans; 2,000 measured 1.3-3.9x the floor, 4,000 1.2-2.0x (bench/README.md,
# bench/collateral_watch.py).
CHUNK_SIZE = 4000
WAIT_SECONDS = 30 * 60
POLL_SECONDS = 1.0
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


def _serialize_starts(as_of: date) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, as_of.toordinal()])
    # SQLite serialises writers on the database file.


def watch_run_start(as_of: date, *, chunk_size: int = CHUNK_SIZE, resume: bool = True) -> WatchRun:
    """Start the watch for `as_of`, or return that date's run (resumed if unfinished and `resume`:
    its chunks not done go back to pending). A new run holds the loans to watch in chunks of
    contiguous id ranges (services.batch); with none it is done at once. Audited."""
    return _start(as_of, chunk_size, resume)[0]


@transaction.atomic
def _start(as_of: date, chunk_size: int, resume: bool) -> tuple[WatchRun, bool]:
    """watch_run_start, and whether the run was created now."""
    ensure_not_future(as_of, "as_of")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    _serialize_starts(as_of)
    run = WatchRun.objects.filter(as_of=as_of).first()
    if run is not None:
        return (_resume(run) if resume else run), False
    bounds = batch.chunk_bounds(loans_to_watch(), chunk_size)
    run = WatchRun.objects.create(
        as_of=as_of,
        status=RunStatus.RUNNING if bounds else RunStatus.DONE,
        chunks_total=len(bounds),
        loans_total=loans_to_watch().count() if bounds else 0,
        finished_at=None if bounds else timezone.now(),
    )
    batch.chunks_create(WATCH_JOB, run, bounds)
    audit_record(
        actor=None,
        action=f"{WATCH_JOB.name}.start",
        obj=run,
        to_state=run.status,
        payload={"as_of": as_of, "chunks": len(bounds), "loans": run.loans_total},
    )
    return run, True


def _resume(run: WatchRun) -> WatchRun:
    if run.status == RunStatus.DONE:
        return run
    # Chunk rows before the run row (services.close._resume: the same order and reasons).
    WatchChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).update(status=ChunkStatus.PENDING)
    run = WatchRun.objects.select_for_update().get(pk=run.pk)
    if run.status == RunStatus.DONE:
        return run
    if not WatchChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).exists():
        _finish_locked(run)
        return run
    if run.status != RunStatus.RUNNING:
        run.start_running()
        run.save(update_fields=["status", "error"])
    logger.info("collateral watch %s: resuming run %s", run.as_of, run.pk)
    return run


def watch_run_dispatch(as_of: date, *, chunk_size: int = CHUNK_SIZE, resume: bool = True) -> WatchRun:
    """Start (or, with `resume`, resume) the watch for `as_of` and queue one
    `fintech.collateral_watch_chunk` task per chunk not done, once committed. Without `resume`
    (the close's trigger) an existing run of the date is left as it is and nothing is queued."""
    with transaction.atomic():
        run, created = _start(as_of, chunk_size, resume)
        if resume or created:
            batch.chunks_enqueue(
                WATCH_JOB,
                run.chunks.exclude(status=ChunkStatus.DONE).order_by("lo_id").values_list("pk", flat=True),
            )
    return run


def watch_after_close(as_of: date) -> WatchRun:
    """The close of `as_of` finished: start that date's watch unless it exists (idempotent)."""
    return watch_run_dispatch(as_of, resume=False)


def watch_run_wait(
    run_id: int,
    *,
    timeout: float = WAIT_SECONDS,
    poll: float = POLL_SECONDS,
    progress: Callable[[WatchRun], None] | None = None,
) -> WatchRun:
    """Wait for the run as services.batch.run_wait does (healing its stalled chunks meanwhile)."""
    run: WatchRun = batch.run_wait(
        WATCH_JOB,
        run_id,
        done=RunStatus.DONE,
        failed=RunStatus.FAILED,
        timeout=timeout,
        poll=poll,
        progress=progress,
    )
    return run


def watch_day(
    as_of: date,
    *,
    chunk_size: int = CHUNK_SIZE,
    timeout: float = WAIT_SECONDS,
    poll: float = POLL_SECONDS,
    progress: Callable[[WatchRun], None] | None = None,
) -> WatchRun:
    """Run (or resume) the watch for `as_of` to its end, however many workers share it."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("watch_day waits for committed work: call it outside a transaction")
    run = watch_run_dispatch(as_of, chunk_size=chunk_size)
    return watch_run_wait(run.pk, timeout=timeout, poll=poll, progress=progress)


def watch_chunk_process(chunk_id: int, *, retries: int = 0) -> None:
    """Watch the loans of one chunk, in one transaction (services.batch); a chunk already done is
    skipped; on failure nothing of the chunk is kept and the chunk and its run are failed (a
    database hiccup is raised for the task's retry while retries are left)."""
    batch.chunk_execute(WATCH_JOB, chunk_id, retries=retries)


def _watch_chunk(chunk: WatchChunk) -> dict[str, int]:
    as_of: date = WatchRun.objects.values_list("as_of", flat=True).get(pk=chunk.run_id)
    # Every loan of the range (a plain index range scan): the watch looks at the active ones and
    # resolves the open findings of the others (services.collateral.collateral_watch).
    return collateral_watch(Loan.objects.filter(pk__range=(chunk.lo_id, chunk.hi_id)), as_of)


def _watch_finish(run_id: int) -> None:
    with transaction.atomic():
        run = WatchRun.objects.select_for_update().get(pk=run_id)
        if run.status != RunStatus.RUNNING:
            return
        if WatchChunk.objects.filter(run=run).exclude(status=ChunkStatus.DONE).exists():
            return
        _finish_locked(run)


def _finish_locked(run: WatchRun) -> None:
    before = run.status
    batch.counters_from_chunks(WATCH_JOB, run)
    run.finish()
    run.save()
    audit_record(
        actor=None,
        action=f"{WATCH_JOB.name}.finish",
        obj=run,
        from_state=before,
        to_state=run.status,
        payload={
            "as_of": run.as_of,
            "loans_watched": run.loans_watched,
            "findings_raised": run.findings_raised,
            "findings_resolved": run.findings_resolved,
        },
    )


WATCH_JOB = batch.register(
    batch.Job(
        name="collateral_watch",
        chunk_model=WatchChunk,
        run_model=WatchRun,
        task_name="fintech.collateral_watch_chunk",
        process=lambda chunk: _watch_chunk(chunk),
        finish=lambda run_id: _watch_finish(run_id),
        active=(RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED),
        running=RunStatus.RUNNING,
        counters=("loans_watched", "findings_raised", "findings_resolved"),
        label=lambda chunk: f"chunk {chunk.pk} (loans {chunk.lo_id}-{chunk.hi_id})",
    )
)
