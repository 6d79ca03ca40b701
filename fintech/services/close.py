"""The daily close (DOMAIN.md section 8; API.md "Management commands" close_day).

For a business date `as_of`, each active loan is caught up from the day after its last close (its
disbursement date at first): an installment past its due date plus the grace days and not fully
paid becomes overdue; when the oldest unpaid installment stays unpaid more than the loan's days
past due, the loan defaults on the day it crossed (due date + days past due + 1), whatever day the
close runs. Walking the days in order reduces to that crossing day, so the walk is computed, not
looped.

The loans are split into chunks by id range, each chunk processed by one Celery task in ONE
transaction: it commits whole or not at all, so a chunk re-run after a crash (the broker redelivers
it: acks_late, reject_on_worker_lost) starts clean, and a chunk already done is skipped. Loans
closed through `as_of` are never touched again, so a close re-run for a date changes nothing, and a
close whose run did not finish is resumed rather than started over.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.db.models import F, Min, Q, QuerySet
from django.utils import timezone

from fintech.models import (
    Application,
    CloseChunk,
    CloseRun,
    Installment,
    InstallmentStatus,
    Loan,
    LoanStatus,
    RunStatus,
)

from .common import ensure_not_future
from .defaults import last_repayment_on, loan_default_declare
from .enqueue import enqueue_on_commit

logger = logging.getLogger(__name__)

CHUNK_SIZE = 500
WAIT_SECONDS = 30 * 60
POLL_SECONDS = 1.0
UNPAID = (InstallmentStatus.DUE, InstallmentStatus.OVERDUE)
# pg_advisory_xact_lock(namespace, day): two closes started at once for one date make one run.
_ADVISORY_NAMESPACE = 0x636C6F  # "clo"


def loans_to_close(as_of: date) -> QuerySet[Loan]:
    """Active loans disbursed by `as_of` and not yet closed through it."""
    return Loan.objects.filter(status=LoanStatus.ACTIVE, disbursed_on__lte=as_of).filter(
        Q(last_closed_on__isnull=True) | Q(last_closed_on__lt=as_of)
    )


def _serialize_starts(as_of: date) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_ADVISORY_NAMESPACE, as_of.toordinal()])
    # SQLite serialises writers on the database file.


@transaction.atomic
def close_run_start(as_of: date, *, chunk_size: int = CHUNK_SIZE) -> CloseRun:
    """Start the close for `as_of`, or resume its unfinished run (chunks not done go back to
    pending). A new run holds the loans still to close, in chunks of contiguous id ranges; with
    none left it is done at once."""
    ensure_not_future(as_of, "as_of")
    if chunk_size < 1:
        raise ValueError("chunk_size must be at least 1")
    _serialize_starts(as_of)
    run = CloseRun.objects.filter(as_of=as_of).exclude(status=RunStatus.DONE).first()
    if run is not None:
        # Chunk rows before the run row: the order a chunk's own transaction takes, so a chunk
        # finishing right now is waited for, not deadlocked with; if it was the last one, the run
        # is done and stays so.
        CloseChunk.objects.filter(run=run).exclude(status=RunStatus.DONE).update(status=RunStatus.PENDING)
        CloseRun.objects.filter(pk=run.pk).exclude(status=RunStatus.DONE).update(
            status=RunStatus.RUNNING, error=""
        )
        run.refresh_from_db()
        logger.info("close %s: resuming run %s", as_of, run.pk)
        return run
    ids = list(loans_to_close(as_of).order_by("pk").values_list("pk", flat=True))
    groups = [ids[i : i + chunk_size] for i in range(0, len(ids), chunk_size)]
    run = CloseRun.objects.create(
        as_of=as_of,
        status=RunStatus.RUNNING if groups else RunStatus.DONE,
        chunks_total=len(groups),
        loans_total=len(ids),
        finished_at=None if groups else timezone.now(),
    )
    # Contiguous ranges: a loan between two chunks' first ids that becomes due for closing while
    # the run goes on is still covered by one of them.
    CloseChunk.objects.bulk_create(
        CloseChunk(run=run, lo_id=group[0], hi_id=groups[k + 1][0] - 1 if k + 1 < len(groups) else group[-1])
        for k, group in enumerate(groups)
    )
    return run


def close_run_dispatch(as_of: date, *, chunk_size: int = CHUNK_SIZE) -> CloseRun:
    """Start or resume the close for `as_of` and queue one `fintech.close_chunk` task per chunk
    not done, once the run is committed (without a broker the tasks run in process then)."""
    with transaction.atomic():
        run = close_run_start(as_of, chunk_size=chunk_size)
        for chunk_id in (
            run.chunks.exclude(status=RunStatus.DONE).order_by("lo_id").values_list("pk", flat=True)
        ):
            # robust: a chunk failing in process is recorded on the run; the others still go.
            enqueue_on_commit("close_chunk", chunk_id, robust=True)
    return run


def close_run_wait(run_id: int, *, timeout: float = WAIT_SECONDS, poll: float = POLL_SECONDS) -> CloseRun:
    """Poll the run record until it is done, or failed with no chunk left to run, or the timeout
    passes; return it as it then stands (the caller reads its status)."""
    deadline = time.monotonic() + timeout
    while True:
        run = CloseRun.objects.get(pk=run_id)
        if run.status == RunStatus.DONE:
            return run
        if (
            run.status == RunStatus.FAILED
            and not run.chunks.filter(status__in=(RunStatus.PENDING, RunStatus.RUNNING)).exists()
        ):
            return run
        if time.monotonic() >= deadline:
            return run
        time.sleep(poll)


def close_day(
    as_of: date, *, chunk_size: int = CHUNK_SIZE, timeout: float = WAIT_SECONDS, poll: float = POLL_SECONDS
) -> CloseRun:
    """Run the close for `as_of` to its end, however many workers share it; returns the run."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("close_day waits for committed work: call it outside a transaction")
    run = close_run_dispatch(as_of, chunk_size=chunk_size)
    return close_run_wait(run.pk, timeout=timeout, poll=poll)


def close_chunk_process(chunk_id: int) -> None:
    """Close the loans of one chunk, in one transaction; a chunk already done is skipped. On
    failure nothing of the chunk is kept, and the chunk and its run are marked failed."""
    CloseChunk.objects.filter(pk=chunk_id, status=RunStatus.PENDING).update(status=RunStatus.RUNNING)
    try:
        with transaction.atomic():
            _close_chunk(chunk_id)
    except Exception as exc:
        _chunk_failed(chunk_id, exc)
        raise


def _chunk_failed(chunk_id: int, exc: Exception) -> None:
    logger.exception("close chunk %s failed", chunk_id)
    try:
        with transaction.atomic():
            chunk = CloseChunk.objects.get(pk=chunk_id)
            CloseChunk.objects.filter(pk=chunk_id).exclude(status=RunStatus.DONE).update(
                status=RunStatus.FAILED
            )
            CloseRun.objects.filter(pk=chunk.run_id).exclude(status=RunStatus.DONE).update(
                status=RunStatus.FAILED,
                error=f"chunk {chunk.pk} (loans {chunk.lo_id}-{chunk.hi_id}): {exc!r}"[:2000],
            )
    except Exception:  # the database itself may be what failed; the broker's retry still applies
        logger.exception("could not record the failure of close chunk %s", chunk_id)


def _close_chunk(chunk_id: int) -> None:
    # The chunk row first: a duplicate delivery of this task waits here, then finds it done.
    chunk = CloseChunk.objects.select_for_update().get(pk=chunk_id)
    if chunk.status == RunStatus.DONE:
        return
    as_of: date = CloseRun.objects.values_list("as_of", flat=True).get(pk=chunk.run_id)
    in_range = loans_to_close(as_of).filter(pk__range=(chunk.lo_id, chunk.hi_id))
    # Lock order of every loan write (services.repayments): applications, loans, installments,
    # each in id order. A repayment of one of these loans waits for this chunk to commit, then
    # sees its result; one that committed first is in what is read below.
    app_ids = list(
        Application.objects.select_for_update()
        .filter(pk__in=in_range.values("application_id"))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    loans = list(
        in_range.filter(application_id__in=app_ids)
        .select_for_update()
        .order_by("pk")
        .values_list("pk", "grace_days", "default_days_past_due")
    )
    loan_ids = [pk for pk, _grace, _dpd in loans]
    oldest_unpaid = dict(
        Installment.objects.filter(loan_id__in=loan_ids, status__in=UNPAID)
        .values("loan_id")
        .annotate(first_due=Min("due_on"))
        .values_list("loan_id", "first_due")
    )
    overdue = defaults = 0
    by_grace: dict[int, list[int]] = defaultdict(list)
    for pk, grace, days_past_due in loans:
        default_on = _default_day(pk, oldest_unpaid.get(pk), days_past_due, as_of)
        if default_on is None:
            by_grace[grace].append(pk)
            continue
        # The walk stops on the default day: overdue marking runs up to it, then the default.
        overdue += _mark_overdue([pk], before=default_on - timedelta(days=grace))
        loan_default_declare(
            actor=None,
            loan_id=pk,
            default_on=default_on,
            reason=f"Daily close {as_of}: installment due {oldest_unpaid[pk]} unpaid more than "
            f"{days_past_due} days past due.",
        )
        defaults += 1
    for grace, pks in by_grace.items():  # one UPDATE per grace value (a programme parameter)
        overdue += _mark_overdue(pks, before=as_of - timedelta(days=grace))
    closed = Loan.objects.filter(pk__in=loan_ids).update(last_closed_on=as_of)

    now = timezone.now()
    CloseChunk.objects.filter(pk=chunk.pk).update(
        status=RunStatus.DONE,
        loans_closed=closed,
        overdue_marked=overdue,
        defaults_count=defaults,
        finished_at=now,
    )
    CloseRun.objects.filter(pk=chunk.run_id).update(
        chunks_done=F("chunks_done") + 1,
        loans_closed=F("loans_closed") + closed,
        overdue_marked=F("overdue_marked") + overdue,
        defaults_count=F("defaults_count") + defaults,
    )
    # The UPDATE above holds the run row: of two last chunks finishing together, the second sees
    # the first's count here.
    CloseRun.objects.filter(pk=chunk.run_id, chunks_done=F("chunks_total")).update(
        status=RunStatus.DONE, finished_at=now
    )


def _default_day(loan_id: int, first_unpaid_due: date | None, days_past_due: int, as_of: date) -> date | None:
    """The day the loan defaults, if by `as_of`: its oldest unpaid installment's due date + days
    past due + 1 (DOMAIN.md section 8), never before a repayment's value date (the flow's order:
    a part-payment reported for a later day moves it there)."""
    if first_unpaid_due is None:
        return None
    crossed = first_unpaid_due + timedelta(days=days_past_due + 1)
    if crossed > as_of:
        return None
    last_paid = last_repayment_on(loan_id)
    default_on = max(crossed, last_paid) if last_paid is not None else crossed
    # A repayment dated after this close's business date: a later close defaults the loan.
    return default_on if default_on <= as_of else None


def _mark_overdue(loan_ids: list[int], *, before: date) -> int:
    """Installments due before `before` and not fully paid (a part-paid one stays "due") become
    overdue. The status condition is re-checked on each row as it is locked, so a repayment that
    completed an installment meanwhile keeps it paid."""
    if not loan_ids:
        return 0
    return Installment.objects.filter(
        loan_id__in=loan_ids, status=InstallmentStatus.DUE, due_on__lt=before
    ).update(status=InstallmentStatus.OVERDUE)


# --- Celery beat ---------------------------------------------------------------------------------

# (name, task, minute, hour) in the platform's time zone (Asia/Shanghai).
BEAT_TASKS = (
    ("fintech: daily close", "fintech.close_day_beat", "30", "0"),
    ("fintech: patents expire", "fintech.patents_expire", "0", "1"),
)


def ensure_beat_schedule(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create or update the periodic tasks of django-celery-beat's DatabaseScheduler (idempotent;
    an operator's `enabled` switch is kept). Called after every migrate."""
    from django_celery_beat.models import CrontabSchedule, PeriodicTask

    if PeriodicTask._meta.db_table not in connections[using].introspection.table_names():
        return  # migrating to a state without django-celery-beat's tables
    zone = ZoneInfo(settings.TIME_ZONE)
    for name, task, minute, hour in BEAT_TASKS:
        crontab, _ = CrontabSchedule.objects.using(using).get_or_create(
            minute=minute, hour=hour, day_of_week="*", day_of_month="*", month_of_year="*", timezone=zone
        )
        PeriodicTask.objects.using(using).update_or_create(
            name=name, defaults={"task": task, "crontab": crontab, "interval": None}
        )
