"""Subsidy runs (DOMAIN.md section 9): a regulator starts a run for a programme and a period; Celery
computes it in chunks of loans by id range; a second regulator approves it; the payment is
recorded with a reference. Every step is posted to the ledger and the audit trail.

The entitlements are computed set-based: one INSERT ... SELECT per chunk and kind, with the
benchmark split into rate segments by a join on the dated table, relying on the unique
constraints (one entitlement per installment and kind, one premium subsidy per loan) with
ON CONFLICT DO NOTHING, so a retried chunk, a repeated run or a run restarted after a killed
worker adds only what is missing. The annual cap is one windowed query after the last chunk;
totals are aggregated from the database, never from task results.

The figures follow fintech.rules.subsidies, the plain-Python reference the tests hold this SQL to.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum, Value, Window
from django.db.models.functions import Coalesce, RowNumber
from django.utils import timezone

from fintech.access import programs_served_for, require_regulator, require_role
from fintech.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    SamePersonApproval,
)
from fintech.models import (
    BenchmarkRate,
    EntitlementStatus,
    EntryKind,
    Installment,
    Loan,
    OrganizationKind,
    Policy,
    Program,
    SubsidyEntitlement,
    SubsidyKind,
    SubsidyRun,
    SubsidyRunChunk,
    SubsidyRunStatus,
    User,
)
from fintech.models.base import MoneyField
from fintech.money import FEN
from fintech.rules import subsidies as rules

from .audit import audit_record
from .common import business_today, ensure_not_future
from .enqueue import enqueue_on_commit
from .ledger import (
    GOV_BUDGET,
    SME_CASH,
    SME_SUBSIDY_INCOME,
    SUBSIDIES_PAYABLE,
    SUBSIDY_EXPENSE,
    Leg,
    ledger_post,
)

logger = logging.getLogger(__name__)

DEFAULT_CHUNK_SIZE = 500  # loans per chunk
CHUNK_PENDING, CHUNK_DONE, CHUNK_FAILED = "pending", "done", "failed"
S = SubsidyRunStatus
IN_PROGRESS = (S.PENDING, S.RUNNING)
# Runs whose entitlements count against the cap of later runs (a failed run's are adopted by the
# next run of its period; a pending or running run has not been capped yet).
FINALISED = (S.COMPUTED, S.APPROVED, S.PAID)


# --- parameters ----------------------------------------------------------------------------------


def run_params(run: SubsidyRun) -> rules.SubsidyParams:
    """The programme parameters copied onto the run when it started."""
    p = run.parameters
    return rules.SubsidyParams(
        interest_subsidy_rate=Decimal(p["interest_subsidy_rate"]),
        premium_subsidy_rate=Decimal(p["premium_subsidy_rate"]),
        period_kind=p["subsidy_period"],
        benchmark_mode=p["benchmark_mode"],
        forfeit_after_late=bool(p["forfeit_after_late"]),
        annual_cap=Decimal(p["annual_subsidy_cap"]),
    )


def _snapshot(program: Program, chunk_size: int) -> dict[str, Any]:
    return {
        "interest_subsidy_rate": str(program.interest_subsidy_rate),
        "premium_subsidy_rate": str(program.premium_subsidy_rate),
        "subsidy_period": program.subsidy_period,
        "benchmark_mode": program.benchmark_mode,
        "forfeit_after_late": program.forfeit_after_late,
        "annual_subsidy_cap": str(program.annual_subsidy_cap),
        "chunk_size": chunk_size,
    }


# --- SQL that reads the same on SQLite and PostgreSQL --------------------------------------------


def _decimal(value: Any, places: int) -> Decimal:
    """A value SQLite hands over as REAL, back to the Decimal it was stored as. The stored values
    have `places` decimals and REAL's error is far below half a unit of the last one."""
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _sqlite_interest_fen(principal: Any, rate_days: Any, subsidy_rate: Any) -> float | None:
    if principal is None or rate_days is None or subsidy_rate is None:
        return None
    amount = rules.interest_subsidy(_decimal(principal, 2), _decimal(rate_days, 8), _decimal(subsidy_rate, 8))
    return float(amount)


def _sqlite_premium_fen(premium: Any, subsidy_rate: Any) -> float | None:
    if premium is None or subsidy_rate is None:
        return None
    return float(rules.premium_subsidy(_decimal(premium, 2), _decimal(subsidy_rate, 8)))


class _Sql:
    """The few expressions whose spelling differs between the two databases.

    SQLite has no exact decimal type (its arithmetic is binary floating point, which can misround
    a half-fen tie such as 360,000.00 x 1.0595 x 25 % / 360 = 264.875), so the final product and
    its one rounding go through SQL functions registered on the connection that do exact Decimal
    arithmetic; PostgreSQL's numeric is exact and rounds half away from zero, i.e. half up for
    the positive amounts here.
    """

    def __init__(self) -> None:
        self.sqlite = connection.vendor == "sqlite"
        if self.sqlite:
            connection.ensure_connection()
            raw = connection.connection
            raw.create_function("subsidy_interest_fen", 3, _sqlite_interest_fen, deterministic=True)
            raw.create_function("subsidy_premium_fen", 2, _sqlite_premium_fen, deterministic=True)

    def days(self, hi: str, lo: str) -> str:
        if self.sqlite:
            return f"CAST(ROUND(julianday({hi}) - julianday({lo})) AS INTEGER)"
        return f"(({hi}) - ({lo}))"

    def interest_fen(self, principal: str, rate_days: str, subsidy_rate: str) -> str:
        if self.sqlite:
            return f"subsidy_interest_fen({principal}, {rate_days}, {subsidy_rate})"
        # Dividing once at the end, at a scale of 30, keeps a half-fen tie exact.
        return f"ROUND(CAST(({principal}) * ({rate_days}) * ({subsidy_rate}) AS NUMERIC(65, 30)) / 360, 2)"

    def premium_fen(self, premium: str, subsidy_rate: str) -> str:
        if self.sqlite:
            return f"subsidy_premium_fen({premium}, {subsidy_rate})"
        return f"ROUND(({premium}) * ({subsidy_rate}), 2)"

    @staticmethod
    def date(value: date) -> Any:
        return connection.ops.adapt_datefield_value(value)

    @staticmethod
    def decimal(value: Decimal) -> Any:
        return connection.ops.adapt_decimalfield_value(value)


def _tables() -> dict[str, str]:
    return {
        "ent": SubsidyEntitlement._meta.db_table,
        "inst": Installment._meta.db_table,
        "loan": Loan._meta.db_table,
        "rate": BenchmarkRate._meta.db_table,
        "policy": Policy._meta.db_table,
        "run": SubsidyRun._meta.db_table,
    }


# The SQL below is assembled only from these templates, table names from the models' metadata and
# the dialect's fragments above; every value (ids, dates, rates) is a bound parameter.

_INTEREST_SQL = """
INSERT INTO {ent} (run_id, program_id, sme_id, loan_id, installment_id, kind, period, year,
                   computed_amount, amount, capped, status, created_at)
SELECT %(run)s, s.program_id, s.sme_id, s.loan_id, s.installment_id, 'interest', %(period)s, %(year)s,
       s.amount, s.amount, %(false)s, 'computed', %(now)s
FROM (
    SELECT l.program_id, l.sme_id, l.id AS loan_id, i.id AS installment_id,
           {amount} AS amount
    FROM {inst} i
    JOIN {loan} l ON l.id = i.loan_id
    JOIN (
        SELECT t.term_months, b.effective_on AS b_on, b.rate AS b_rate,
               (SELECT MIN(b2.effective_on) FROM {rate} b2
                 WHERE b2.effective_on > b.effective_on AND {covers_b2}) AS next_on
        FROM (SELECT DISTINCT l0.term_months FROM {loan} l0
              WHERE l0.program_id = %(program)s AND l0.id BETWEEN %(lo)s AND %(hi)s) t
        JOIN {rate} b ON {covers_b}
        WHERE NOT EXISTS (SELECT 1 FROM {rate} b3 WHERE b3.effective_on = b.effective_on
                          AND b3.term_min_months > b.term_min_months AND {covers_b3})
    ) bt ON bt.term_months = l.term_months
    WHERE l.program_id = %(program)s AND l.id BETWEEN %(lo)s AND %(hi)s
      AND i.status = 'paid' AND i.due_on BETWEEN %(start)s AND %(end)s
      AND {in_force}
      {forfeit}
    GROUP BY l.program_id, l.sme_id, l.id, i.id, i.opening_principal
) s
WHERE s.amount > 0
ON CONFLICT DO NOTHING
"""

_FORFEIT_SQL = """AND NOT EXISTS (SELECT 1 FROM {inst} j WHERE j.loan_id = i.loan_id AND j.seq < i.seq
                      AND j.status IN ('paid_late', 'overdue'))"""

_PREMIUM_SQL = """
INSERT INTO {ent} (run_id, program_id, sme_id, loan_id, installment_id, kind, period, year,
                   computed_amount, amount, capped, status, created_at)
SELECT %(run)s, s.program_id, s.sme_id, s.loan_id, NULL, 'premium', %(period)s, %(year)s,
       s.amount, s.amount, %(false)s, 'computed', %(now)s
FROM (
    SELECT l.program_id, l.sme_id, l.id AS loan_id, {amount} AS amount
    FROM {loan} l
    JOIN {policy} p ON p.id = l.policy_id
    WHERE l.program_id = %(program)s AND l.id BETWEEN %(lo)s AND %(hi)s
      AND l.status = 'settled' AND l.settled_on IS NOT NULL
      AND {premium_on} BETWEEN %(start)s AND %(end)s
      AND EXISTS (SELECT 1 FROM {inst} k WHERE k.loan_id = l.id)
      AND NOT EXISTS (SELECT 1 FROM {inst} j WHERE j.loan_id = l.id AND j.status <> 'paid')
) s
WHERE s.amount > 0
ON CONFLICT DO NOTHING
"""

_CAP_SQL = """
SELECT y.id, y.granted_fen, y.computed_fen FROM (
    SELECT x.id, x.amount_fen, x.capped, x.computed_fen,
           CASE WHEN {left} <= 0 THEN 0 WHEN {left} < x.computed_fen THEN {left} ELSE x.computed_fen END
               AS granted_fen
    FROM (
        SELECT e.id, e.capped,
               CAST(ROUND(e.computed_amount * 100) AS BIGINT) AS computed_fen,
               CAST(ROUND(e.amount * 100) AS BIGINT) AS amount_fen,
               SUM(CAST(ROUND(e.computed_amount * 100) AS BIGINT)) OVER (
                   PARTITION BY e.sme_id
                   ORDER BY COALESCE(i.due_on, {premium_on}), e.loan_id, e.kind, COALESCE(e.installment_id, 0)
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
               ) AS through_fen,
               COALESCE((
                   SELECT SUM(CAST(ROUND(o.amount * 100) AS BIGINT))
                   FROM {ent} o JOIN {run} r ON r.id = o.run_id
                   WHERE o.sme_id = e.sme_id AND o.program_id = e.program_id AND o.year = e.year
                     AND o.run_id <> e.run_id AND o.status <> 'cancelled'
                     AND r.status IN ('computed', 'approved', 'paid')
               ), 0) AS used_fen
        FROM {ent} e
        JOIN {loan} l ON l.id = e.loan_id
        LEFT JOIN {inst} i ON i.id = e.installment_id
        WHERE e.run_id = %(run)s
    ) x
) y
WHERE y.granted_fen <> y.amount_fen OR (y.granted_fen < y.computed_fen) <> y.capped
"""

# The maturity date, or the settlement date when the loan was settled before maturity.
_PREMIUM_ON = "CASE WHEN l.settled_on < l.maturity_on THEN l.settled_on ELSE l.maturity_on END"


def _covers(alias: str, term: str) -> str:
    return (
        f"{alias}.term_min_months <= {term}"
        f" AND ({alias}.term_max_months IS NULL OR {alias}.term_max_months >= {term})"
    )


def _interest_sql(sql: _Sql, forfeit: bool, fixed: bool) -> str:
    """Interest subsidies of the chunk's on-time installments due in the period.

    `bt` lists, for each loan term found in the chunk, the benchmark rows applying to that term,
    each in force from its effective date to the next such row's (`next_on`). Joined to an
    installment, a row is one rate segment, its days the overlap with [start_on, due_on).
    rate-days = sum of days x min(contract rate, benchmark); the subsidy = round(opening principal
    x rate-days / 360 x rate), one rounding. With the benchmark fixed at disbursement, the one row
    in force on the disbursement date serves every day of the accrual period.
    """
    if fixed:
        in_force = "bt.b_on <= l.disbursed_on AND (bt.next_on IS NULL OR bt.next_on > l.disbursed_on)"
        days = "i.days"
    else:
        in_force = "bt.b_on < i.due_on AND (bt.next_on IS NULL OR bt.next_on > i.start_on)"
        days = sql.days(
            "CASE WHEN bt.next_on IS NULL OR bt.next_on > i.due_on THEN i.due_on ELSE bt.next_on END",
            "CASE WHEN bt.b_on > i.start_on THEN bt.b_on ELSE i.start_on END",
        )
    rate = "CASE WHEN bt.b_rate < l.annual_rate THEN bt.b_rate ELSE l.annual_rate END"
    tables = _tables()
    return _INTEREST_SQL.format(
        **tables,
        amount=sql.interest_fen("i.opening_principal", f"SUM({days} * {rate})", "%(rate)s"),
        in_force=in_force,
        forfeit=_FORFEIT_SQL.format(**tables) if forfeit else "",
        covers_b=_covers("b", "t.term_months"),
        covers_b2=_covers("b2", "t.term_months"),
        covers_b3=_covers("b3", "t.term_months"),
    )


def _premium_sql(sql: _Sql) -> str:
    """Premium subsidies of the chunk's loans settled with every installment on time, whose
    maturity (or earlier settlement) falls in the period: round(premium paid x rate)."""
    return _PREMIUM_SQL.format(
        **_tables(), amount=sql.premium_fen("p.premium_paid_amount", "%(rate)s"), premium_on=_PREMIUM_ON
    )


def _cap_sql() -> str:
    """This run's entitlements whose amount the annual cap changes: per SME, in a deterministic
    order (event date, loan, kind, installment), each is granted what is left of the cap after the
    SME's entitlements of finalised runs of the year and this run's earlier ones. In integer fen,
    so that SQLite's binary arithmetic is exact too."""
    left = "(%(cap)s - x.used_fen - (x.through_fen - x.computed_fen))"
    return _CAP_SQL.format(**_tables(), left=left, premium_on=_PREMIUM_ON)


# --- starting a run ------------------------------------------------------------------------------


def _chunk_bounds(program: Program, chunk_size: int) -> list[tuple[int, int]]:
    """[lo, hi] loan id ranges of `chunk_size` disbursed loans each, chosen in the database."""
    loans = Loan.objects.filter(program=program, disbursed_on__isnull=False)
    top = loans.order_by("-id").values_list("id", flat=True).first()
    if top is None:
        return []
    firsts = list(
        loans.annotate(n=Window(RowNumber(), order_by=F("id").asc()))
        .annotate(bucket=(F("n") - 1) % chunk_size)
        .filter(bucket=0)
        .order_by("id")
        .values_list("id", flat=True)
    )
    his = [nxt - 1 for nxt in firsts[1:]] + [top]
    return list(zip(firsts, his, strict=True))


def _queue_chunks(chunk_ids: Sequence[int]) -> None:
    for chunk_id in chunk_ids:
        enqueue_on_commit("subsidy_chunk", chunk_id)


@transaction.atomic
def subsidy_run_start(
    *, actor: User, program_id: int, period: str, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> SubsidyRun:
    """Start a run for a programme and period (regulator): snapshot the programme's parameters,
    cut the loans into id-range chunks and queue one Celery task per chunk on commit. Running a
    period again is allowed and adds only what is missing."""
    require_regulator(actor)
    program = programs_served_for(actor).filter(pk=program_id).first()
    if program is None:
        raise InvalidInput.on("program", "No programme with this id serves your region.")
    try:
        span = rules.parse_period(period, program.subsidy_period)
    except rules.InvalidPeriod as exc:
        raise InvalidInput.on("period", str(exc)) from exc
    if span.start > business_today():
        raise InvalidInput.on("period", f"The period {span.label} has not begun yet.")
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    program = Program.objects.select_for_update().get(pk=program.pk)  # one start per programme at a time
    busy = SubsidyRun.objects.filter(program=program, period=span.label, status__in=IN_PROGRESS).first()
    if busy is not None:
        raise Conflict(
            f"Run #{busy.pk} of {span.label} is still {busy.status}; start again when it has finished."
        )
    run = SubsidyRun.objects.create(
        program=program,
        period=span.label,
        period_start=span.start,
        period_end=span.end,
        parameters=_snapshot(program, chunk_size),
        started_by=actor,
    )
    audit_record(
        actor=actor,
        action="subsidy_run.start",
        obj=run,
        to_state=S.PENDING,
        payload={"program": program.pk, "period": span.label, "parameters": run.parameters},
    )
    # Entitlements a failed run of this period left behind were never approved: this run takes
    # them over (the unique constraints would otherwise keep them out of every later run).
    orphans = SubsidyEntitlement.objects.filter(
        program=program, period=span.label, run__status=S.FAILED, status=EntitlementStatus.COMPUTED
    )
    adopted = orphans.update(run=run)
    if adopted:
        audit_record(actor=actor, action="subsidy_run.adopt", obj=run, payload={"entitlements": adopted})
    chunks = SubsidyRunChunk.objects.bulk_create(
        SubsidyRunChunk(run=run, lo_id=lo, hi_id=hi) for lo, hi in _chunk_bounds(program, chunk_size)
    )
    run.chunks_total = len(chunks)
    run.save(update_fields=["chunks_total"])
    if chunks:
        _queue_chunks([c.pk for c in chunks])
    else:
        _mark_running(run)
        _finish(run)
    return run


def subsidy_run_resume(*, actor: User, run_id: int) -> SubsidyRun:
    """Queue again the chunks of a pending or running run that are not done (e.g. when the broker
    lost their messages). Harmless when they were only slow: a chunk done is skipped."""
    require_regulator(actor)
    with transaction.atomic():
        run = _locked_run(actor, run_id)
        if run.status not in IN_PROGRESS:
            raise InvalidTransition(run.status, "resume")
        pending = list(run.chunks.exclude(status=CHUNK_DONE).values_list("pk", flat=True))
        audit_record(actor=actor, action="subsidy_run.resume", obj=run, payload={"chunks": pending})
        _queue_chunks(pending)
        return run


# --- computing a chunk ---------------------------------------------------------------------------


def _mark_running(run: SubsidyRun) -> None:
    if SubsidyRun.objects.filter(pk=run.pk, status=S.PENDING).update(status=S.RUNNING):
        audit_record(
            actor=None, action="subsidy_run.running", obj=run, from_state=S.PENDING, to_state=S.RUNNING
        )
        run.status = S.RUNNING


def subsidy_chunk_compute(chunk_id: int) -> None:
    """Insert the entitlements of one chunk that are missing (a done chunk is skipped), then close
    the run if it was the last one. Safe to run twice, or after a worker died half way: the
    chunk's inserts and its `done` mark commit together or not at all."""
    with transaction.atomic():
        chunk = SubsidyRunChunk.objects.select_for_update().filter(pk=chunk_id).first()
        if chunk is None:
            return
        run = SubsidyRun.objects.get(pk=chunk.run_id)
        if chunk.status == CHUNK_DONE or run.status not in IN_PROGRESS:
            done_before = True
        else:
            done_before = False
            _mark_running(run)
            created = _insert_entitlements(run, chunk.lo_id, chunk.hi_id)
            chunk.status, chunk.entitlements_count, chunk.finished_at = CHUNK_DONE, created, timezone.now()
            chunk.save(update_fields=["status", "entitlements_count", "finished_at"])
            updated = SubsidyRun.objects.filter(pk=run.pk, status=S.RUNNING).update(
                chunks_done=F("chunks_done") + 1
            )
            if not updated:  # the run failed meanwhile: keep nothing of this chunk
                transaction.set_rollback(True)
                return
    if done_before and run.status != S.RUNNING:
        return
    subsidy_run_finish(run.pk)


def _insert_entitlements(run: SubsidyRun, lo: int, hi: int) -> int:
    sql = _Sql()
    params = run_params(run)
    common = {
        "run": run.pk,
        "program": run.program_id,
        "lo": lo,
        "hi": hi,
        "start": sql.date(run.period_start),
        "end": sql.date(run.period_end),
        "period": run.period,
        "year": run.period_start.year,
        "false": False,
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
    }
    fixed = params.benchmark_mode == rules.FIXED_AT_DISBURSEMENT
    created = 0
    with connection.cursor() as cursor:
        cursor.execute(
            _interest_sql(sql, params.forfeit_after_late, fixed),
            {**common, "rate": sql.decimal(params.interest_subsidy_rate)},
        )
        created += max(cursor.rowcount, 0)
        cursor.execute(_premium_sql(sql), {**common, "rate": sql.decimal(params.premium_subsidy_rate)})
        created += max(cursor.rowcount, 0)
    return created


def subsidy_chunk_fail(chunk_id: int, error: BaseException) -> None:
    """A chunk failed for good: the run is failed with the error (its entitlements are taken over
    by the next run of the period)."""
    with transaction.atomic():
        chunk = SubsidyRunChunk.objects.select_for_update().filter(pk=chunk_id).first()
        if chunk is None:
            return
        run = SubsidyRun.objects.select_for_update().get(pk=chunk.run_id)
        if chunk.status != CHUNK_DONE:
            chunk.status = CHUNK_FAILED
            chunk.save(update_fields=["status"])
        if run.status in IN_PROGRESS:
            previous = run.status
            run.status, run.error, run.finished_at = (
                S.FAILED,
                f"chunk {chunk.pk}: {error}"[:2000],
                timezone.now(),
            )
            run.save(update_fields=["status", "error", "finished_at"])
            audit_record(
                actor=None,
                action="subsidy_run.fail",
                obj=run,
                from_state=previous,
                to_state=S.FAILED,
                reason=run.error[:300],
            )


# --- closing a run: the cap and the totals -------------------------------------------------------


def subsidy_run_finish(run_id: int) -> None:
    """Once every chunk is done: apply the annual cap and store the totals (status `computed`).
    Called after each chunk; only the call that finds all chunks done does anything."""
    with transaction.atomic():
        program_id = SubsidyRun.objects.filter(pk=run_id).values_list("program_id", flat=True).first()
        if program_id is None:
            return
        # Cap passes of one programme one at a time: each sees the others' final amounts.
        Program.objects.select_for_update().get(pk=program_id)
        run = SubsidyRun.objects.select_for_update().get(pk=run_id)
        if run.status != S.RUNNING or run.chunks.exclude(status=CHUNK_DONE).exists():
            return
        _finish(run)


def _finish(run: SubsidyRun) -> None:
    _apply_cap(run)
    totals = run.entitlements.aggregate(
        interest=_sum(Q(kind=SubsidyKind.INTEREST)),
        premium=_sum(Q(kind=SubsidyKind.PREMIUM)),
        count=Count("id"),
    )
    run.interest_total, run.premium_total = totals["interest"], totals["premium"]
    run.entitlements_count = totals["count"]
    run.status, run.finished_at = S.COMPUTED, timezone.now()
    run.save(update_fields=["interest_total", "premium_total", "entitlements_count", "status", "finished_at"])
    audit_record(
        actor=None,
        action="subsidy_run.compute",
        obj=run,
        from_state=S.RUNNING,
        to_state=S.COMPUTED,
        amount=run.interest_total + run.premium_total,
        payload={
            "interest_total": run.interest_total,
            "premium_total": run.premium_total,
            "entitlements": run.entitlements_count,
        },
    )


def _sum(condition: Q | None = None) -> Coalesce:
    money = MoneyField()
    return Coalesce(
        Sum("amount", filter=condition), Value(Decimal("0.00"), output_field=money), output_field=money
    )


def _apply_cap(run: SubsidyRun) -> None:
    cap_fen = int(run_params(run).annual_cap / FEN)
    with connection.cursor() as cursor:
        cursor.execute(_cap_sql(), {"run": run.pk, "cap": cap_fen})
        changes = cursor.fetchall()  # only the entitlements the cap cuts: a handful per SME at most
    rows = [
        SubsidyEntitlement(pk=pk, amount=Decimal(int(granted)) * FEN, capped=int(granted) < int(computed))
        for pk, granted, computed in changes
    ]
    SubsidyEntitlement.objects.bulk_update(rows, ["amount", "capped"], batch_size=500)


# --- approval and payment ------------------------------------------------------------------------


def _locked_run(actor: User, run_id: int) -> SubsidyRun:
    visible = SubsidyRun.objects.filter(program__in=programs_served_for(actor).values("pk"), pk=run_id)
    if not visible.exists():
        raise NotFound("Subsidy run not found.")
    return SubsidyRun.objects.select_for_update().select_related("program").get(pk=run_id)


@transaction.atomic
def subsidy_run_approve(*, actor: User, run_id: int) -> SubsidyRun:
    """Approve a computed run (a regulator other than the one who started it): the run and its
    entitlements become approved and the subsidy expense is accrued in the ledger."""
    require_regulator(actor)
    run = _locked_run(actor, run_id)
    if run.started_by_id == actor.pk:
        raise SamePersonApproval()
    if run.status != S.COMPUTED:
        raise InvalidTransition(run.status, "approve")
    run.status, run.approved_by, run.approved_at = S.APPROVED, actor, timezone.now()
    run.save(update_fields=["status", "approved_by", "approved_at"])
    run.entitlements.filter(status=EntitlementStatus.COMPUTED).update(status=EntitlementStatus.APPROVED)
    total = run.interest_total + run.premium_total
    ledger_post(
        kind=EntryKind.SUBSIDY_ACCRUAL,
        booked_on=business_today(),
        source=run,
        legs=[Leg(SUBSIDY_EXPENSE, SUBSIDIES_PAYABLE, total, organization_id=actor.organization_id)],
        program=run.program,
        memo=f"subsidies {run.program.code} {run.period} (run {run.pk}) approved",
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="subsidy_run.approve",
        obj=run,
        from_state=S.COMPUTED,
        to_state=S.APPROVED,
        amount=total,
    )
    return run


@transaction.atomic
def subsidy_run_pay(*, actor: User, run_id: int, paid_on: date, reference: str) -> SubsidyRun:
    """Record the payment of an approved run with its reference: run and entitlements paid; the
    ledger moves the payable to the budget and credits each SME its subsidies."""
    require_regulator(actor)
    reference = (reference or "").strip()
    if not reference:
        raise InvalidInput.on("reference", "Give the payment's reference.")
    ensure_not_future(paid_on, "paid_on")
    run = _locked_run(actor, run_id)
    if run.status != S.APPROVED:
        raise InvalidTransition(run.status, "record a payment")
    run.status, run.paid_on, run.payment_reference = S.PAID, paid_on, reference[:100]
    run.save(update_fields=["status", "paid_on", "payment_reference"])
    run.entitlements.filter(status=EntitlementStatus.APPROVED).update(status=EntitlementStatus.PAID)
    total = run.interest_total + run.premium_total
    per_sme = (
        run.entitlements.filter(amount__gt=0)
        .values("sme_id")
        .annotate(total=Sum("amount"))
        .order_by("sme_id")
    )
    legs = [Leg(SUBSIDIES_PAYABLE, GOV_BUDGET, total, organization_id=actor.organization_id)]
    legs += [
        Leg(SME_CASH, SME_SUBSIDY_INCOME, row["total"], organization_id=row["sme_id"]) for row in per_sme
    ]
    ledger_post(
        kind=EntryKind.SUBSIDY_PAYMENT,
        booked_on=paid_on,
        source=run,
        legs=legs,
        program=run.program,
        memo=f"subsidies {run.program.code} {run.period} (run {run.pk}) paid, ref {reference}",
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="subsidy_run.pay",
        obj=run,
        from_state=S.APPROVED,
        to_state=S.PAID,
        amount=total,
        payload={"paid_on": paid_on, "reference": reference},
    )
    return run


# --- benchmark rates (the admin) -----------------------------------------------------------------


def benchmark_overlap(rate: BenchmarkRate) -> BenchmarkRate | None:
    """Another row of the same effective date whose term range overlaps this one's, if any."""
    top = rate.term_max_months
    same_day = BenchmarkRate.objects.filter(effective_on=rate.effective_on).exclude(pk=rate.pk)
    clash = same_day.filter(Q(term_max_months__isnull=True) | Q(term_max_months__gte=rate.term_min_months))
    if top is not None:
        clash = clash.filter(term_min_months__lte=top)
    return clash.order_by("term_min_months").first()


@transaction.atomic
def benchmark_rate_save(*, actor: User, rate: BenchmarkRate, changed: Sequence[str] = ()) -> BenchmarkRate:
    """Record a new fixing or correct one (regulator or platform). Runs already computed keep their
    figures; later runs use the table as it then is."""
    require_role(actor, OrganizationKind.REGULATOR)  # and platform staff
    if not (Decimal(0) < rate.rate < Decimal(1)):
        raise InvalidInput.on("rate", "A rate is a fraction above 0 and below 1, e.g. 0.0345.")
    if rate.term_max_months is not None and rate.term_max_months < rate.term_min_months:
        raise InvalidInput.on("term_max_months", "The range ends before it starts.")
    clash = benchmark_overlap(rate)
    if clash is not None:
        raise InvalidInput.on("term_min_months", f"The range overlaps {clash} of the same day.")
    creating = rate.pk is None
    rate.save()
    audit_record(
        actor=actor,
        action="benchmark_rate.create" if creating else "benchmark_rate.change",
        obj=rate,
        payload={
            "source": rate.source,
            "effective_on": rate.effective_on,
            "rate": rate.rate,
            "term_min_months": rate.term_min_months,
            "term_max_months": rate.term_max_months,
            "changed": list(changed),
        },
    )
    return rate
