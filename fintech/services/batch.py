"""The one chunk engine of the batch jobs (the subsidy run, the daily close, later jobs).

A job is a run row plus chunks (models.BatchChunk) of contiguous id ranges of the job's driving
table. For one chunk, a Celery task:

1. claims it (pending/running -> running, attempts + 1, heartbeat now) in a short transaction on the
   chunk row only; a chunk done or failed is skipped;
2. does the job's work in ONE transaction that starts by locking the chunk row again and ends by
   marking it done with its counts: a duplicate delivery waits on that lock, then finds it done, so
   a chunk takes effect exactly once however often it is delivered;
3. after the commit, adds the chunk's counts to the run's progress counters with one atomic
   UPDATE (F() expressions; no lock held on the run for the chunk's work);
4. asks whether every chunk is done; only then does it lock the run, and the job's `finish`, which
   re-checks the run's status under that lock, runs exactly once.

The counters are live progress; `finish` and `fail` set them from the chunks' own rows, so a worker
killed between steps 2 and 3 leaves no wrong figure behind.

Database hiccups (OperationalError, InterfaceError, a soft time limit) are retried with exponential
back-off; any other error fails the chunk and the run with its reason. The watchdog (beat) queues
again chunks whose worker or message was lost (pending or running past the heartbeat deadline and
not locked by a live transaction), and fails the run of a chunk that has stalled
settings.BATCH_MAX_ATTEMPTS times. Stalls and requeues are audited and counted on the run
(`chunks_requeued`).

A dated job (`DatedJob`: the daily close, the collateral watch) is a job with one run per business
date (models.batch.DatedRun) over loans: started once per date under an advisory lock, dispatched
(its chunks queued), waited for, run to its end (`day`), resumed when unfinished, finished under
the run's lock; a run created pending (reserved) whose start was lost is started by the watchdog.
The close and the watch declare only their chunk work and their rows.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.db.models import Exists, F, Max, OuterRef, Q, QuerySet, Sum, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from django_fsm import can_proceed

from fintech.models import ChunkStatus, DatedRun, RunStatus

from .audit import audit_record
from .common import ensure_not_future
from .enqueue import enqueue_each_on_commit

logger = logging.getLogger(__name__)

C = ChunkStatus
# Errors worth another try: the database or the network, not the data.
TRANSIENT = (OperationalError, InterfaceError, SoftTimeLimitExceeded)


@dataclass(frozen=True)
class Job:
    """What the engine needs to know of one kind of batch job."""

    name: str  # audit prefix and log name, e.g. "subsidy_run"
    chunk_model: Any  # a concrete BatchChunk with a `run` foreign key
    run_model: Any  # with status, chunks_done, chunks_requeued, error and the counters
    task_name: str  # the Celery task that takes a chunk id
    # The chunk's work inside its transaction (the chunk row locked): returns its counts, by field
    # name of the chunk model.
    process: Callable[[Any], dict[str, int]]
    # Called once every chunk is done; locks what it needs, re-checks the run is still running.
    finish: Callable[[int], None]
    # Run statuses in which chunks still run (a failed close still closes its other chunks), and
    # the run's running status.
    active: tuple[str, ...]
    running: str
    # Chunk count fields added to the run field of the same name as progress.
    counters: tuple[str, ...] = ()
    # How a failure reads on the run: the chunk's label and an error's text.
    label: Callable[[Any], str] = lambda chunk: f"chunk {chunk.pk} (ids {chunk.lo_id}-{chunk.hi_id})"
    error_text: Callable[[BaseException], str] = repr
    # Called inside the claim's transaction on the first claim of a pending run.
    on_first_claim: Callable[[Any], None] | None = None
    # The watchdog's pass over runs created but never started (their start message lost): starts
    # those created before the deadline it is given; returns how many.
    start_stale: Callable[[Any], int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


JOBS: dict[str, Job] = {}


def register(job: Job) -> Job:
    JOBS[job.name] = job
    return job


def job_for(chunk_model: Any) -> Job:
    for job in JOBS.values():
        if job.chunk_model is chunk_model:
            return job
    raise LookupError(chunk_model)


# --- creating and queueing chunks ----------------------------------------------------------------


def chunk_bounds(ids: QuerySet[Any], size: int) -> list[tuple[int, int]]:
    """[lo, hi] id ranges of `size` rows of `ids` each, cut in the database (one window query, no id
    list in memory): lo is a bucket's first id, hi the next bucket's first id - 1 (the last: the
    top id), so a row inserted between two buckets' ids is still inside one range."""
    if size < 1:
        raise ValueError("chunk size must be at least 1")
    top = ids.order_by("-pk").values_list("pk", flat=True).first()
    if top is None:
        return []
    firsts = list(
        ids.annotate(n=Window(RowNumber(), order_by=F("pk").asc()))
        .annotate(bucket=(F("n") - 1) % size)
        .filter(bucket=0)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    his = [nxt - 1 for nxt in firsts[1:]] + [top]
    return list(zip(firsts, his, strict=True))


def chunks_create(job: Job, run: models.Model, bounds: Sequence[tuple[int, int]]) -> list[int]:
    """Store the chunks of `run` (pending, heartbeat now); their ids in range order."""
    now = timezone.now()
    created = job.chunk_model.objects.bulk_create(
        job.chunk_model(run=run, lo_id=lo, hi_id=hi, heartbeat_at=now)  # type: ignore[misc]
        for lo, hi in bounds
    )
    return [c.pk for c in created]


def chunks_enqueue(job: Job, chunk_ids: Iterable[int]) -> None:
    """Send one task per chunk once the current transaction commits (at once outside one). A chunk
    failing in process (no broker) is recorded on its run, a message the broker refused is sent
    again by the watchdog; the others still go."""
    enqueue_each_on_commit(job.task_name, chunk_ids)


def chunks_requeue(job: Job, run_id: int, *, statuses: Sequence[str] = (C.PENDING, C.RUNNING)) -> list[int]:
    """Put the run's chunks of `statuses` back to pending (heartbeat now) and queue them on commit;
    harmless for a chunk only slow: a done chunk is skipped, a running one waits for its lock."""
    ids = list(
        job.chunk_model.objects.filter(run_id=run_id, status__in=statuses)
        .order_by("lo_id")
        .values_list("pk", flat=True)
    )
    job.chunk_model.objects.filter(pk__in=ids).exclude(status=C.DONE).update(
        status=C.PENDING, heartbeat_at=timezone.now()
    )
    chunks_enqueue(job, ids)
    return ids


# --- running one chunk ---------------------------------------------------------------------------


def chunk_execute(job: Job, chunk_id: int, *, retries: int = 0) -> None:
    """Steps 1-4 of the module docstring. Raises what it cannot handle: a transient error while
    retries are left (the task retries with back-off); other errors fail the chunk and the run."""
    if not _claim(job, chunk_id):
        return
    started = time.monotonic()
    try:
        with transaction.atomic():
            done = _work(job, chunk_id)
    except TRANSIENT as exc:
        if retries < settings.BATCH_MAX_RETRIES:
            logger.warning("%s chunk %s: %r, retry %s", job.name, chunk_id, exc, retries + 1)
            raise
        chunk_fail(job, chunk_id, f"{job.error_text(exc)} after {retries} retries")
        return
    except Exception as exc:
        logger.exception("%s chunk %s failed", job.name, chunk_id)
        chunk_fail(job, chunk_id, job.error_text(exc))
        raise
    if done is None:
        return
    counts, run_id = done
    held = _add_progress(job, chunk_id, counts, run_id=run_id)
    logger.info(
        "%s chunk %s done in %.3f s, run row held %.4f s",
        job.name,
        chunk_id,
        time.monotonic() - started,
        held,
    )
    run_complete_if_done(job, run_id)


# The progress counters (bookkeeping outside the chunk's work) commit without waiting for their
# WAL flush: a crash may lose an update, never the work, whose own commit flushes what came
# before it; the finish and the fail set the counters from the chunks' rows. (The claim keeps its
# flush: a lost claim would lose its attempt, and a chunk that crashes the server every time would
# never reach settings.BATCH_MAX_ATTEMPTS.) Only in
# autocommit (the statement is its own transaction): inside a caller's transaction the setting
# would last to that transaction's end.
def _async_commit() -> str:
    if transaction.get_connection().in_atomic_block:
        return "(SELECT 1) AS async_commit"
    return "(SELECT set_config('synchronous_commit', 'off', true)) AS async_commit"


def _claim(job: Job, chunk_id: int) -> bool:
    """Step 1. On PostgreSQL the usual case (a chunk of a running run) is ONE autocommit UPDATE;
    a first claim, a run not running or a chunk no longer claimable take the locked path."""
    if connection.vendor == "postgresql" and _claim_fast(job, chunk_id):
        return True
    with transaction.atomic():
        chunk = job.chunk_model.objects.select_for_update().filter(pk=chunk_id).first()
        if chunk is None or chunk.status in (C.DONE, C.FAILED):
            return False
        run = job.run_model.objects.get(pk=chunk.run_id)  # type: ignore[attr-defined]
        if run.status not in job.active:
            return False
        chunk.claim()
        chunk.save(update_fields=["status", "attempts", "heartbeat_at"])
        if run.status != job.running and job.on_first_claim is not None:
            job.on_first_claim(run)
    return True


def _claim_fast(job: Job, chunk_id: int) -> bool:
    """The claim of `BatchChunk.claim` (pending/running -> running, attempts + 1, heartbeat now) as
    one statement, the state re-checked on the row it locks, while the run is running."""
    qn = connection.ops.quote_name
    chunks = qn(job.chunk_model._meta.db_table)
    runs = qn(job.run_model._meta.db_table)  # type: ignore[attr-defined]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {chunks} AS c SET status = %s, attempts = c.attempts + 1, heartbeat_at = %s
            FROM {runs} AS r
            WHERE c.id = %s AND c.status IN (%s, %s) AND r.id = c.run_id AND r.status = %s
            RETURNING c.id""",  # noqa: S608 (the models' own tables)
            [C.RUNNING, timezone.now(), chunk_id, C.PENDING, C.RUNNING, job.running],
        )
        return cursor.fetchone() is not None


def _work(job: Job, chunk_id: int) -> tuple[dict[str, int], int] | None:
    """Step 2: the chunk's counts and its run's id, or None when there was nothing to do."""
    # The chunk row first: a duplicate delivery of this task waits here, then finds it done. Its
    # run is read by the same statement (not locked).
    chunk = job.chunk_model.objects.select_for_update(of=("self",)).select_related("run").get(pk=chunk_id)
    if chunk.status != C.RUNNING:
        return None  # done by a duplicate delivery, failed or queued again meanwhile
    if chunk.run.status not in job.active:
        return None
    counts = job.process(chunk)
    chunk.complete(counts)
    chunk.save(update_fields=["status", "finished_at", "error", *counts])
    return counts, chunk.run_id


def _add_progress(job: Job, chunk_id: int, counts: dict[str, int], *, run_id: int | None = None) -> float:
    """One autocommit UPDATE of the run's counters (of a run no longer running: the counters from
    its chunks' rows); returns how long the run row was held by the UPDATE."""
    if run_id is None:
        run_id = job.chunk_model.objects.filter(pk=chunk_id).values_list("run_id", flat=True).get()
    started = time.monotonic()
    # An increment only while the run is running: once `finish` or `run_fail` has set the counters
    # from the chunk rows, a late increment (it waited on the run's lock) would count its chunk
    # twice.
    if connection.vendor == "postgresql":
        meta = job.run_model._meta  # type: ignore[attr-defined]
        qn = connection.ops.quote_name
        columns = [qn(meta.get_field(name).column) for name in ("chunks_done", *job.counters)]
        sets = ", ".join(f"{column} = r.{column} + %s" for column in columns)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {qn(meta.db_table)} AS r SET {sets} FROM {_async_commit()} "  # noqa: S608 (own table)
                "WHERE r.id = %s AND r.status = %s",
                [1, *(counts.get(name, 0) for name in job.counters), run_id, job.running],
            )
            updated = cursor.rowcount
    else:
        updates: dict[str, Any] = {"chunks_done": F("chunks_done") + 1}
        for name in job.counters:
            updates[name] = F(name) + counts.get(name, 0)
        updated = job.run_model.objects.filter(pk=run_id, status=job.running).update(**updates)  # type: ignore[attr-defined]
    held = time.monotonic() - started
    if not updated:
        # A run no longer running whose chunks still run (a failed close closes its other chunks):
        # its counters from the chunks' rows, never an increment on top of them.
        with transaction.atomic():
            run = (
                job.run_model.objects.select_for_update()  # type: ignore[attr-defined]
                .filter(pk=run_id, status__in=job.active)
                .exclude(status=job.running)
                .first()
            )
            if run is not None:
                counters_from_chunks(job, run)
                run.save(update_fields=["chunks_done", *job.counters])
    return held


def run_complete_if_done(job: Job, run_id: int) -> None:
    """Finish the run when no chunk is left: read without a lock first, so only the last chunks
    (and the watchdog) ever lock the run; `finish` re-checks under its lock (exactly once)."""
    if job.chunk_model.objects.filter(run_id=run_id).exclude(status=C.DONE).exists():
        return
    job.finish(run_id)


def counters_from_chunks(job: Job, run: Any) -> None:
    """Set the run's progress counters from its chunks' rows (exact whatever was lost on the way)."""
    chunks = job.chunk_model.objects.filter(run_id=run.pk)
    sums = chunks.filter(status=C.DONE).aggregate(**{name: Sum(name) for name in job.counters})
    run.chunks_done = chunks.filter(status=C.DONE).count()
    for name in job.counters:
        setattr(run, name, sums[name] or 0)


def chunk_fail(job: Job, chunk_id: int, reason: str) -> None:
    """A chunk failed for good: the chunk and its run are failed with the reason (audited)."""
    try:
        with transaction.atomic():
            chunk = job.chunk_model.objects.select_for_update().filter(pk=chunk_id).first()
            if chunk is None:
                return
            run = job.run_model.objects.select_for_update().get(pk=chunk.run_id)  # type: ignore[attr-defined]
            if chunk.status == C.DONE:
                return  # a duplicate delivery did the work: the run has nothing to fail for
            if chunk.status in (C.PENDING, C.RUNNING):
                chunk.fail(reason)
                chunk.save(update_fields=["status", "error", "finished_at"])
            if can_proceed(run.fail):
                run_fail(job, run, f"{job.label(chunk)}: {reason}")
    except Exception:  # the database itself may be what failed; the watchdog still applies
        logger.exception("could not record the failure of %s chunk %s", job.name, chunk_id)


def run_fail(job: Job, run: Any, reason: str) -> None:
    """Fail a locked run with `reason` (its counters from its chunks), audited."""
    before = run.status
    counters_from_chunks(job, run)
    run.fail(reason)
    run.save()
    audit_record(
        actor=None,
        action=f"{job.name}.fail",
        obj=run,
        from_state=before,
        to_state=run.status,
        reason=run.error[:300],
    )


# --- the watchdog --------------------------------------------------------------------------------


def watchdog(*, now: Any = None) -> dict[str, int]:
    """Queue again the stalled chunks of every job's active runs (see `watchdog_run`), then start
    the runs created but never started before the heartbeat deadline (`Job.start_stale`)."""
    totals = {"stalled": 0, "requeued": 0, "failed": 0}
    for job in JOBS.values():
        runs = job.run_model.objects.filter(status__in=job.active).values_list("pk", flat=True)  # type: ignore[attr-defined]
        for run_id in list(runs):
            for key, value in watchdog_run(job, run_id, now=now).items():
                totals[key] += value
    if totals["stalled"]:
        logger.warning(
            "batch watchdog: %(stalled)s stalled chunks, %(requeued)s queued again, %(failed)s failed", totals
        )
    # Last, the runs never started: their chunks, queued now, are not this pass's to heal.
    deadline = (now or timezone.now()) - timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS)
    for job in JOBS.values():
        if job.start_stale is not None:
            job.start_stale(deadline)
    return totals


def _stalled(job: Job, run_id: int, deadline: Any) -> QuerySet[Any]:
    """Running chunks whose heartbeat passed the deadline; pending ones too when nothing of the run
    has moved since the deadline (otherwise they are waiting their turn in the queue)."""
    chunks = job.chunk_model.objects.filter(run_id=run_id)
    signs = chunks.aggregate(beat=Max("heartbeat_at"), end=Max("finished_at"))
    last_sign = max((d for d in signs.values() if d is not None), default=None)
    stalled = chunks.filter(status=C.RUNNING, heartbeat_at__lt=deadline)
    if last_sign is None or last_sign < deadline:
        stalled = stalled | chunks.filter(status=C.PENDING)
    return stalled


def watchdog_run(job: Job, run_id: int, *, now: Any = None) -> dict[str, int]:
    """Heal one run: each stalled chunk NOT locked by a live transaction (a worker still at work
    holds its chunk row) is queued again, or, past settings.BATCH_MAX_ATTEMPTS claims, fails the
    run with the reason. Stall and requeue are audited; `chunks_requeued` counts the requeues."""
    now = now or timezone.now()
    deadline = now - timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS)
    found = {"stalled": 0, "requeued": 0, "failed": 0}
    candidates = list(_stalled(job, run_id, deadline).order_by("lo_id").values_list("pk", flat=True))
    if not candidates:
        if job.chunk_model.objects.filter(run_id=run_id).exclude(status=C.DONE).exists():
            return found
        run_complete_if_done(job, run_id)  # a completion lost with its worker
        return found
    requeued: list[int] = []
    with transaction.atomic():
        locked = list(
            job.chunk_model.objects.select_for_update(skip_locked=True)
            .filter(pk__in=candidates)
            # re-checked under the lock: a chunk claimed since the candidates were read is not stalled
            .filter(Q(status=C.PENDING) | Q(status=C.RUNNING, heartbeat_at__lt=deadline))
            .order_by("lo_id")
        )
        if not locked:
            return found
        run = job.run_model.objects.select_for_update().get(pk=run_id)  # type: ignore[attr-defined]
        if run.status not in job.active:
            return found
        for chunk in locked:
            found["stalled"] += 1
            since = chunk.heartbeat_at
            audit_record(
                actor=None,
                action=f"{job.name}.chunk_stall",
                obj=chunk,
                from_state=chunk.status,
                reason=f"no heartbeat since {since.isoformat() if since else 'never'}",
                payload={
                    "run": run_id,
                    "lo_id": chunk.lo_id,
                    "hi_id": chunk.hi_id,
                    "attempts": chunk.attempts,
                },
            )
            if chunk.attempts >= settings.BATCH_MAX_ATTEMPTS:
                reason = f"stalled after {chunk.attempts} attempts"
                chunk.fail(reason)
                chunk.save(update_fields=["status", "error", "finished_at"])
                found["failed"] += 1
                if can_proceed(run.fail):
                    run_fail(job, run, f"{job.label(chunk)}: {reason}")
                continue
            before = chunk.status
            chunk.requeue()
            chunk.save(update_fields=["status", "heartbeat_at"])
            audit_record(
                actor=None,
                action=f"{job.name}.chunk_requeue",
                obj=chunk,
                from_state=before,
                to_state=chunk.status,
                payload={"run": run_id, "attempts": chunk.attempts},
            )
            requeued.append(chunk.pk)
        if requeued:
            job.run_model.objects.filter(pk=run_id).update(  # type: ignore[attr-defined]
                chunks_requeued=F("chunks_requeued") + len(requeued)
            )
            chunks_enqueue(job, requeued)
    found["requeued"] = len(requeued)
    for pk in requeued:
        logger.warning("batch watchdog: %s run %s chunk %s stalled, queued again", job.name, run_id, pk)
    return found


def run_wait(
    job: Job,
    run_id: int,
    *,
    done: str,
    failed: str,
    timeout: float,
    poll: float,
    progress: Callable[[Any], None] | None = None,
) -> Any:
    """Poll the run record until it is `done`, or `failed` with no chunk left to run, or the
    timeout passes; return it as it then stands (the caller reads its status). `progress` is called
    with the run whenever its chunk count moves. While waiting, stalled chunks of this run are
    healed (the watchdog's pass for this run), so a lost message does not hold the run up. A chunk
    stalls only once its heartbeat is older than settings.BATCH_HEARTBEAT_SECONDS, so the pass runs
    at most every half of that (5 s at most), not at every poll: a short poll then costs one read
    of the run, not the watchdog's queries on a database the workers are using."""
    deadline = time.monotonic() + timeout
    heal_every = min(settings.BATCH_HEARTBEAT_SECONDS / 2, 5.0)
    healed_at = time.monotonic()
    seen: tuple[int, int] | None = None
    while True:
        run = job.run_model.objects.get(pk=run_id)
        if progress is not None and (run.chunks_done, run.chunks_requeued) != seen:
            seen = (run.chunks_done, run.chunks_requeued)
            progress(run)
        if run.status == done:
            return run
        if run.status == failed and not active_chunks(job, run.pk).exists():
            return run
        if time.monotonic() >= deadline:
            return run
        if run.status == job.running and time.monotonic() - healed_at >= heal_every:
            watchdog_run(job, run.pk)
            healed_at = time.monotonic()
        time.sleep(poll)


def active_chunks(job: Job, run_id: int) -> QuerySet[Any]:
    return job.chunk_model.objects.filter(run_id=run_id, status__in=(C.PENDING, C.RUNNING))


# --- dated jobs: one run per business date --------------------------------------------------------

R = TypeVar("R", bound=DatedRun)
# How long an operator's `day` waits for its run by default, and how often it looks.
WAIT_SECONDS = 30 * 60
POLL_SECONDS = 1.0


class DatedJob(Generic[R]):
    """A job with one run per business date over loans (the daily close, the collateral watch):
    the run's life here, the job's chunk work (`process`) and rows (`rows`) in its service.

    One run per date: with `as_of` unique on the run model, the date's run stands for the date
    (a start finds it and, with `resume`, resumes it if unfinished); otherwise a done run lets a
    new run of the date start (the close: loans recorded since are closed by it). A run created
    pending by `reserve` (no chunks) is started by the next start, or by the watchdog once the
    heartbeat deadline has passed (its start message lost)."""

    def __init__(
        self,
        *,
        name: str,
        title: str,
        run_model: type[R],
        chunk_model: Any,
        task_name: str,
        process: Callable[[Any], dict[str, int]],
        counters: tuple[str, ...],
        rows: Callable[[date], QuerySet[Any]],
        lock_namespace: int,
        chunk_size: int,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        audited: bool = False,
        before_start: Callable[[date], None] | None = None,
        after_finish: Callable[[R], None] | None = None,
    ) -> None:
        self.title = title  # in logs and the operator's lines, e.g. "close"
        self.run_model = run_model
        self.chunk_model = chunk_model
        self.rows = rows  # the driving rows of a date, cut into chunks by id range
        self.lock_namespace = lock_namespace  # pg_advisory_xact_lock(namespace, day)
        self.chunk_size = chunk_size
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.audited = audited  # start and finish audited as `<name>.start`, `<name>.finish`
        self.before_start = before_start  # in the start's transaction, under its lock
        self.after_finish = after_finish  # in the finish's transaction, the run locked and done
        self.one_per_date: bool = getattr(run_model._meta.get_field("as_of"), "unique", False)
        self.job = register(
            Job(
                name=name,
                chunk_model=chunk_model,
                run_model=run_model,
                task_name=task_name,
                process=process,
                finish=self.finish,
                active=(RunStatus.PENDING, RunStatus.RUNNING, RunStatus.FAILED),
                running=RunStatus.RUNNING,
                counters=counters,
                label=lambda chunk: f"chunk {chunk.pk} (loans {chunk.lo_id}-{chunk.hi_id})",
                start_stale=self.start_stale,
            )
        )

    # starting once per date

    def _lock_date(self, as_of: date) -> None:
        """Two starts (or a start and a reserve) of one date at once make one run."""
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(%s, %s)", [self.lock_namespace, as_of.toordinal()]
                )
        # SQLite serialises writers on the database file.

    def start(self, as_of: date, *, chunk_size: int | None = None, resume: bool = True) -> R:
        """Start the run of `as_of`, or return that date's run (resumed if unfinished and `resume`:
        its chunks not done go back to pending). A new run holds the date's rows in chunks of
        contiguous id ranges; with none it is done at once."""
        return self._start(as_of, chunk_size, resume)[0]

    @transaction.atomic
    def _start(self, as_of: date, chunk_size: int | None, resume: bool) -> tuple[R, bool]:
        """`start`, and whether the run was started now."""
        ensure_not_future(as_of, "as_of")
        size = self.chunk_size if chunk_size is None else chunk_size
        if size < 1:
            raise ValueError("chunk_size must be at least 1")
        self._lock_date(as_of)
        if self.before_start is not None:
            self.before_start(as_of)
        runs = self.run_model.objects.filter(as_of=as_of)  # type: ignore[attr-defined]
        run: R | None = (runs if self.one_per_date else runs.exclude(status=RunStatus.DONE)).first()
        if run is not None and run.status != RunStatus.PENDING:
            return (self._resume(run) if resume else run), False
        # A new run, or one reserved (pending, no chunks): started now.
        bounds = chunk_bounds(self.rows(as_of), size)
        now = timezone.now()
        run = run or self.run_model(as_of=as_of)
        run.status = RunStatus.RUNNING if bounds else RunStatus.DONE
        run.chunks_total = len(bounds)
        run.loans_total = self.rows(as_of).count() if bounds else 0
        run.started_at = now
        run.finished_at = None if bounds else now
        run.save()
        chunks_create(self.job, run, bounds)
        if self.audited:
            audit_record(
                actor=None,
                action=f"{self.job.name}.start",
                obj=run,
                to_state=run.status,
                payload={"as_of": as_of, "chunks": len(bounds), "loans": run.loans_total},
            )
        return run, True

    def _resume(self, run: R) -> R:
        if run.status == RunStatus.DONE:
            return run
        # Chunk rows before the run row: a chunk at work right now (its row locked) is waited for,
        # then found done; if it was the last one, the run is finished here, once, under its lock.
        self.chunk_model.objects.filter(run=run).exclude(status=C.DONE).update(
            status=C.PENDING, heartbeat_at=timezone.now()
        )
        run = self.run_model.objects.select_for_update().get(pk=run.pk)  # type: ignore[attr-defined]
        if run.status == RunStatus.DONE:
            return run
        if not self.chunk_model.objects.filter(run=run).exclude(status=C.DONE).exists():
            self._finish_locked(run)
            return run
        if run.status != RunStatus.RUNNING:
            run.start_running()
            run.save(update_fields=["status", "error"])
        logger.info("%s %s: resuming run %s", self.title, run.as_of, run.pk)
        return run

    def reserve(self, as_of: date) -> R:
        """Inside the caller's transaction: the date's run, created pending (not started: no
        chunks) unless it exists. The caller queues the start; if that message is lost, the
        watchdog starts the run (`start_stale`). Only for a job of one run per date."""
        self._lock_date(as_of)
        run: R = self.run_model.objects.get_or_create(as_of=as_of)[0]  # type: ignore[attr-defined]
        return run

    def start_stale(self, deadline: datetime) -> int:
        """The watchdog's pass: start the runs reserved before `deadline` whose start never came
        (its message lost), their chunks queued; how many it started."""
        stale = self.run_model.objects.filter(status=RunStatus.PENDING, started_at__lt=deadline)  # type: ignore[attr-defined]
        started = 0
        for as_of in list(stale.order_by("as_of").values_list("as_of", flat=True)):
            try:
                run = self.dispatch(as_of, resume=False)
            except Exception:  # one date's failure does not hold up the others (tried again)
                logger.exception("%s %s: the watchdog could not start it", self.title, as_of)
                continue
            started += 1
            logger.warning(
                "%s %s: never started, started by the watchdog (run %s)", self.title, as_of, run.pk
            )
        return started

    # dispatching, waiting, running to the end

    def dispatch(self, as_of: date, *, chunk_size: int | None = None, resume: bool = True) -> R:
        """Start (or, with `resume`, resume) the run of `as_of` and queue one task per chunk not
        done, once committed (without a broker the tasks run in process then). Without `resume`
        a started run of the date is left as it is and nothing is queued."""
        with transaction.atomic():
            run, started = self._start(as_of, chunk_size, resume)
            if resume or started:
                chunks_enqueue(
                    self.job,
                    run.chunks.exclude(status=C.DONE).order_by("lo_id").values_list("pk", flat=True),  # type: ignore[attr-defined]
                )
        return run

    def wait(
        self,
        run_id: int,
        *,
        timeout: float | None = None,
        poll: float | None = None,
        progress: Callable[[R], None] | None = None,
    ) -> R:
        """`run_wait` for this job: until done, or failed with no chunk left to run, or the timeout
        (stalled chunks of the run healed meanwhile); the run as it then stands."""
        run: R = run_wait(
            self.job,
            run_id,
            done=RunStatus.DONE,
            failed=RunStatus.FAILED,
            timeout=self.wait_seconds if timeout is None else timeout,
            poll=self.poll_seconds if poll is None else poll,
            progress=progress,
        )
        return run

    def day(
        self,
        as_of: date,
        *,
        chunk_size: int | None = None,
        timeout: float | None = None,
        poll: float | None = None,
        progress: Callable[[R], None] | None = None,
    ) -> R:
        """Run (or resume) the run of `as_of` to its end, however many workers share it."""
        if transaction.get_connection().in_atomic_block:
            raise RuntimeError(f"the {self.title} waits for committed work: call it outside a transaction")
        run = self.dispatch(as_of, chunk_size=chunk_size)
        return self.wait(run.pk, timeout=timeout, poll=poll, progress=progress)

    def chunk_process(self, chunk_id: int, *, retries: int = 0) -> None:
        """One chunk's work in one transaction (`chunk_execute`); a chunk already done is skipped;
        on failure nothing of it is kept and the chunk and its run are failed (a database hiccup
        is raised for the task's retry while retries are left)."""
        chunk_execute(self.job, chunk_id, retries=retries)

    # finishing, once

    def finish(self, run_id: int) -> None:
        with transaction.atomic():
            run = self.run_model.objects.select_for_update().get(pk=run_id)  # type: ignore[attr-defined]
            if run.status != RunStatus.RUNNING:
                return
            if self.chunk_model.objects.filter(run=run).exclude(status=C.DONE).exists():
                return
            self._finish_locked(run)

    def _finish_locked(self, run: R) -> None:
        before = run.status
        counters_from_chunks(self.job, run)
        run.finish()
        run.save()
        if self.audited:
            audit_record(
                actor=None,
                action=f"{self.job.name}.finish",
                obj=run,
                from_state=before,
                to_state=run.status,
                payload={"as_of": run.as_of, **{name: getattr(run, name) for name in self.job.counters}},
            )
        if self.after_finish is not None:
            self.after_finish(run)


__all__ = [
    "JOBS",
    "TRANSIENT",
    "DatedJob",
    "Exists",
    "Job",
    "OuterRef",
    "active_chunks",
    "chunk_bounds",
    "chunk_execute",
    "chunk_fail",
    "chunks_create",
    "chunks_enqueue",
    "chunks_requeue",
    "register",
    "run_complete_if_done",
    "run_fail",
    "run_wait",
    "watchdog",
    "watchdog_run",
]
