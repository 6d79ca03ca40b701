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
from datetime import date, timedelta

from django.db import connection
from django.db.models import Max, Min, Q, QuerySet

from fintech.models import (
    Application,
    CloseChunk,
    CloseRun,
    InstallmentStatus,
    Loan,
    LoanStatus,
    Repayment,
)
from fintech.rules.loss import default_day

from . import batch
from .defaults import (
    DefaultBatch,
    defaulted_installments_mark_overdue,
    installments_mark_overdue_loans,
    loan_default_declare,
)
from .enqueue import enqueue_on_commit
from .watch import watch_run_reserve

logger = logging.getLogger(__name__)

# Loans per chunk: a chunk's fixed cost (claim, locks, grouped look-ups, commits) is paid once per
# 2,000 loans (bench/README.md: 3.4x the floor against 4.2-6x with 500 on the same book); a
# repayment of one of its loans waits for the chunk's commit, one to three seconds.
CHUNK_SIZE = 2000
UNPAID = (InstallmentStatus.DUE, InstallmentStatus.OVERDUE)
# pg_advisory_xact_lock(namespace, day): two closes started at once for one date make one run.
_ADVISORY_NAMESPACE = 0x636C6F  # "clo"


def loans_to_close(as_of: date) -> QuerySet[Loan]:
    """Active loans disbursed by `as_of` and not yet closed through it."""
    return Loan.objects.filter(status=LoanStatus.ACTIVE, disbursed_on__lte=as_of).filter(
        Q(last_closed_on__isnull=True) | Q(last_closed_on__lt=as_of)
    )


def _catch_up_defaulted(as_of: date) -> None:
    """Before a start (under its lock): defaulted loans are not closed any more, but those
    defaulted before a default marked its past-due installments (a bank's back-dated declaration)
    are caught up here, set-based."""
    caught_up = defaulted_installments_mark_overdue()
    if caught_up:
        logger.info("close %s: %s installments of defaulted loans marked overdue", as_of, caught_up)


def _watch_after_close(run: CloseRun) -> None:
    """The close of `run.as_of` is done: in this transaction, that date's collateral watch run is
    created pending (services.watch), then its start is queued once this commits. Idempotent: the
    watch run is unique per date, so a second close finish for the date finds it and starts
    nothing; a start lost with its message is made by the watchdog."""
    watch_run_reserve(run.as_of)
    enqueue_on_commit("collateral_watch_start", run.as_of.isoformat(), robust=True)


def _close_chunk(chunk: CloseChunk) -> dict[str, int]:
    """The chunk's work, its row locked (services.batch). Locks only what it writes, in the order
    of every loan write (services.repayments: applications, loans, installments, each in id
    order): the applications of the chunk's loans, then the loans by id RANGE, then the
    installments its UPDATE touches. A repayment of one of these loans waits for this chunk to
    commit, then sees its result; one that committed first is in what is read below."""
    as_of: date = chunk.run.as_of  # read with the chunk's row (services.batch)
    in_range = loans_to_close(as_of).filter(pk__range=(chunk.lo_id, chunk.hi_id))
    # Every application of the chunk's loans, not only those that may default: one statement by
    # the range, where finding the candidates first took a grouped look of its own.
    locked_apps = _lock_applications_of(in_range)
    loans = _loan_terms(in_range.select_for_update())
    defaults = _defaults(in_range, as_of, loans)
    # A loan that became one to close since its applications were locked (disbursed meanwhile):
    # its application is locked now, out of order; a deadlock with a repayment is retried by the
    # task.
    _lock_applications({pk: app for pk, (_d, _f, app) in defaults.items() if app not in locked_apps})
    # The walk stops on the default day: the installments of a defaulting loan are marked up to
    # it, those of the others up to the close date (grace days off each), in one UPDATE.
    overdue = installments_mark_overdue_loans(
        in_range,
        as_of=as_of,
        before={
            pk: default_on - timedelta(days=loans[pk][0]) for pk, (default_on, _f, _a) in defaults.items()
        },
    )
    closed = in_range.update(last_closed_on=as_of)
    # Last, the defaults: set-based, and the programme rows (the fund's draws) locked for the rest
    # of the chunk's transaction only from here.
    pending = DefaultBatch(overdue_marked=True)
    for pk, (default_on, first_due, _app) in defaults.items():
        loan_default_declare(
            actor=None,
            loan_id=pk,
            default_on=default_on,
            reason=f"Daily close {as_of}: installment due {first_due} unpaid more than "
            f"{loans[pk][1]} days past due.",
            batch=pending,
        )
    pending.write()
    # The collateral watch is its own job, started once the whole close has finished (_finish_locked).
    return {"loans_closed": closed, "overdue_marked": overdue, "defaults_count": len(defaults)}


def _loan_terms(loans: QuerySet[Loan]) -> dict[int, tuple[int, int]]:
    """loan id -> (grace days, days past due), in id order (locking in that order if asked)."""
    return {
        pk: (grace, dpd)
        for pk, grace, dpd in loans.order_by("pk").values_list("pk", "grace_days", "default_days_past_due")
    }


def _lock_applications_of(loans: QuerySet[Loan]) -> set[int]:
    """Lock the applications of `loans` in id order, in one statement; their ids. (A loan's
    application never changes, so they are read without locking the loans.)"""
    if connection.vendor != "postgresql":
        return set(
            Application.objects.select_for_update()
            .filter(pk__in=loans.order_by().values("application_id"))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    sql, params = loans.order_by().values("application_id").query.sql_with_params()
    table = connection.ops.quote_name(Application._meta.db_table)
    with connection.cursor() as cursor:
        # ARRAY(...): the ids first, then the applications by primary key (a semi-join here is
        # planned as a scan of every application).
        cursor.execute(
            f"SELECT id FROM {table} WHERE id = ANY(ARRAY({sql})) ORDER BY id FOR UPDATE",  # noqa: S608
            params,
        )
        return {pk for (pk,) in cursor.fetchall()}


def _lock_applications(apps: dict[int, int]) -> set[int]:
    """Lock the applications of these loans (loan id -> application id), in id order; the loans."""
    if apps:
        list(
            Application.objects.select_for_update()
            .filter(pk__in=sorted(set(apps.values())))
            .order_by("pk")
            .values_list("pk", flat=True)
        )
    return set(apps)


def _oldest_unpaid(in_range: QuerySet[Loan]) -> list[tuple[int, int, int, date]]:
    """(loan id, days past due, application id, oldest unpaid due date) of each loan of `in_range`
    with an unpaid installment: read from the loans' id range, their installments by loan."""
    return [
        (row["pk"], row["default_days_past_due"], row["application_id"], row["first_due"])
        for row in in_range.filter(installments__status__in=UNPAID)
        .order_by()
        .values("pk", "default_days_past_due", "application_id")
        .annotate(first_due=Min("installments__due_on"))
    ]


def _defaults(
    in_range: QuerySet[Loan], as_of: date, loans: dict[int, tuple[int, int]]
) -> dict[int, tuple[date, date, int]]:
    """loan id -> (default day, oldest unpaid due date, application id) for the loans of the chunk
    that default by `as_of`: the oldest unpaid installment's due date + days past due + 1 (DOMAIN.md
    section 8), never before a repayment's value date (the flow's order: a part-payment reported
    for a later day moves it there). Two grouped queries for the whole chunk."""
    oldest_unpaid = {pk: (first_due, app) for pk, _dpd, app, first_due in _oldest_unpaid(in_range)}
    crossed = {
        pk: default_day(first_due, loans[pk][1])
        for pk, (first_due, _app) in oldest_unpaid.items()
        if pk in loans
    }
    crossed = {pk: day for pk, day in crossed.items() if day <= as_of}
    if not crossed:
        return {}
    last_paid = dict(
        Repayment.objects.filter(loan_id__in=list(crossed), reversal__isnull=True)
        .values("loan_id")
        .annotate(last=Max("paid_on"))
        .values_list("loan_id", "last")
    )
    found = {}
    for pk in sorted(crossed):
        paid = last_paid.get(pk)
        default_on = max(crossed[pk], paid) if paid is not None else crossed[pk]
        # A repayment dated after this close's business date: a later close defaults the loan.
        if default_on <= as_of:
            found[pk] = (default_on, *oldest_unpaid[pk])
    return found


# The close's run, start, dispatch, wait and finish: the dated-job layer (services.batch.DatedJob).
CLOSE = batch.DatedJob(
    name="close_run",
    title="close",
    run_model=CloseRun,
    chunk_model=CloseChunk,
    task_name="fintech.close_chunk",
    process=lambda chunk: _close_chunk(chunk),
    counters=("loans_closed", "overdue_marked", "defaults_count"),
    rows=loans_to_close,
    lock_namespace=_ADVISORY_NAMESPACE,
    chunk_size=CHUNK_SIZE,
    before_start=_catch_up_defaulted,
    after_finish=_watch_after_close,
)
CLOSE_JOB = CLOSE.job
# Start the close for a date, or resume its unfinished run; dispatch it (its chunks queued on
# commit); wait for a run; run a date to its end (outside a transaction); one chunk's task.
close_run_start = CLOSE.start
close_run_dispatch = CLOSE.dispatch
close_run_wait = CLOSE.wait
close_day = CLOSE.day
close_chunk_process = CLOSE.chunk_process
