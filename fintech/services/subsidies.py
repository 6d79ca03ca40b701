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
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from fintech.access import programs_served_for, require_regulator, require_role
from fintech.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PeriodNotEnded,
    SamePersonApproval,
)
from fintech.models import (
    BenchmarkRate,
    ChunkStatus,
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

from . import batch
from .audit import audit_record
from .clawbacks import clawbacks_attach, clawbacks_net
from .common import business_today, ensure_not_future, program_to_start
from .events import events_insert_select, json_bool, json_object
from .ledger import (
    CLAWBACK_RECEIVABLE,
    GOV_BUDGET,
    SME_CASH,
    SME_SUBSIDY_INCOME,
    SUBSIDIES_PAYABLE,
    SUBSIDY_EXPENSE,
    Leg,
    ledger_post,
)

logger = logging.getLogger(__name__)

# Loans per chunk. A chunk's fixed cost (claim, its transaction and commit, the counter UPDATE,
# the completion check, the task) is paid once per 2,000 loans: at 1M installments 36 chunks run
# at 1.9x the floor where 143 chunks of 500 ran at 2.5-3.1x (bench/README.md).
DEFAULT_CHUNK_SIZE = 2000
MAX_LOAN_ID = 2**62  # the upper bound of the one id range of a preview
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
        subsidise_extended=bool(p.get("subsidise_extended_installments", False)),
    )


def _snapshot(program: Program, chunk_size: int) -> dict[str, Any]:
    return {
        "interest_subsidy_rate": str(program.interest_subsidy_rate),
        "premium_subsidy_rate": str(program.premium_subsidy_rate),
        "subsidy_period": program.subsidy_period,
        "benchmark_mode": program.benchmark_mode,
        "forfeit_after_late": program.forfeit_after_late,
        "annual_subsidy_cap": str(program.annual_subsidy_cap),
        "subsidise_extended_installments": program.subsidise_extended_installments,
        "chunk_size": chunk_size,
    }


# --- SQL that reads the same on SQLite and PostgreSQL --------------------------------------------


def _decimal(value: Any, places: int) -> Decimal:
    """A value SQLite hands over as REAL, back to the Decimal it was stored as. The stored values
    have `places` decimals and REAL's error is far below half a unit of the last one."""
    text = repr(value) if isinstance(value, float) else str(value)
    return Decimal(text).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _sqlite_interest_fen(
    principal: Any, rate_days: Any, after: Any, rate_days_after: Any, subsidy_rate: Any
) -> float | None:
    if None in (principal, rate_days, after, rate_days_after, subsidy_rate):
        return None
    amount = rules.interest_subsidy_split(
        (
            (_decimal(principal, 2), _decimal(rate_days, 8)),
            (_decimal(after, 2), _decimal(rate_days_after, 8)),
        ),
        _decimal(subsidy_rate, 8),
    )
    return float(amount)


def _sqlite_premium_fen(premium: Any, subsidy_rate: Any) -> float | None:
    if premium is None or subsidy_rate is None:
        return None
    return float(rules.premium_subsidy(_decimal(premium, 2), _decimal(subsidy_rate, 8)))


def _sqlite_money_text(value: Any) -> str | None:
    return None if value is None else f"{_decimal(value, 2):.2f}"


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
            raw.create_function("subsidy_interest_fen", 5, _sqlite_interest_fen, deterministic=True)
            raw.create_function("subsidy_premium_fen", 2, _sqlite_premium_fen, deterministic=True)
            raw.create_function("subsidy_money_text", 1, _sqlite_money_text, deterministic=True)

    def days(self, hi: str, lo: str) -> str:
        if self.sqlite:
            return f"CAST(ROUND(julianday({hi}) - julianday({lo})) AS INTEGER)"
        return f"(({hi}) - ({lo}))"

    def interest_fen(
        self, principal: str, rate_days: str, after: str, rate_days_after: str, subsidy_rate: str
    ) -> str:
        """round((principal x rate-days + principal after a prepayment x its rate-days) x rate / 360)."""
        if self.sqlite:
            return (
                f"subsidy_interest_fen({principal}, {rate_days}, {after}, {rate_days_after}, {subsidy_rate})"
            )
        # Dividing once at the end, at a scale of 30, keeps a half-fen tie exact.
        product = f"(({principal}) * ({rate_days}) + ({after}) * ({rate_days_after})) * ({subsidy_rate})"
        return f"ROUND(CAST({product} AS NUMERIC(65, 30)) / 360, 2)"

    def money_text(self, amount: str) -> str:
        """A money column as the events' 2-place text (SQLite: through Decimal, not REAL)."""
        if self.sqlite:
            return f"subsidy_money_text({amount})"
        return f"CAST({amount} AS TEXT)"

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
        "chunk": SubsidyRunChunk._meta.db_table,
    }


# The SQL below is assembled only from these templates, table names from the models' metadata and
# the dialect's fragments above; every value (ids, dates, rates) is a bound parameter.

# What a chunk writes, one row per entitlement: (program_id, sme_id, loan_id, installment_id,
# kind, amount); the INSERT around it (_insert_sql) adds the run's columns.
_INTEREST_ROWS = """
WITH terms AS (
    SELECT DISTINCT l0.term_months FROM {loan} l0
    WHERE l0.program_id = %(program)s AND l0.id BETWEEN %(lo)s AND %(hi)s
), covering AS (
    SELECT t.term_months, b.effective_on, b.rate,
           ROW_NUMBER() OVER (PARTITION BY t.term_months, b.effective_on
                              ORDER BY b.term_min_months DESC) AS pick
    FROM terms t JOIN {rate} b ON {covers_b}
), bt AS (
    SELECT c.term_months, c.effective_on AS b_on, c.rate AS b_rate,
           LEAD(c.effective_on) OVER (PARTITION BY c.term_months ORDER BY c.effective_on) AS next_on
    FROM covering c WHERE c.pick = 1
)
SELECT s.program_id, s.sme_id, s.loan_id, s.installment_id, 'interest' AS kind, s.amount
FROM (
    SELECT l.program_id, l.sme_id, l.id AS loan_id, i.id AS installment_id,
           {amount} AS amount
    FROM {inst} i
    JOIN {loan} l ON l.id = i.loan_id
    JOIN bt ON bt.term_months = l.term_months
    WHERE l.program_id = %(program)s AND l.id BETWEEN %(lo)s AND %(hi)s
      AND i.status = 'paid' AND COALESCE(i.accrual_end_on, i.due_on) BETWEEN %(start)s AND %(end)s
      AND {in_force}
      {forfeit}
      {extended}
    GROUP BY l.program_id, l.sme_id, l.id, i.id, i.opening_principal, i.principal_after_change
) s
WHERE s.amount > 0
"""

_FORFEIT_SQL = """AND NOT EXISTS (SELECT 1 FROM {inst} j WHERE j.loan_id = i.loan_id AND j.seq < i.seq
                      AND j.status IN ('paid_late', 'overdue'))"""

_PREMIUM_ROWS = """
SELECT s.program_id, s.sme_id, s.loan_id, CAST(NULL AS BIGINT) AS installment_id, 'premium' AS kind, s.amount
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
"""

# The rows as entitlements of the run ("WHERE" before "ON CONFLICT": SQLite's parser needs one).
_INSERT_SQL = """
INSERT INTO {ent} (run_id, program_id, sme_id, loan_id, installment_id, kind, period, year,
                   computed_amount, amount, capped, status, announced, created_at)
SELECT %(run)s, n.program_id, n.sme_id, n.loan_id, n.installment_id, n.kind, %(period)s, %(year)s,
       n.amount, n.amount, %(false)s, 'computed', {announced}, %(now)s
FROM {rows} n
WHERE n.amount > 0
ON CONFLICT DO NOTHING
"""

_CAP_SQL = """
WITH used AS (
    SELECT o.sme_id, SUM(CAST(ROUND(o.amount * 100) AS BIGINT)) AS used_fen
    FROM {ent} o JOIN {run} r ON r.id = o.run_id
    WHERE o.program_id = %(program)s AND o.year = %(year)s AND o.run_id <> %(run)s {smes_o}
      AND o.status <> 'cancelled' AND (r.status IN ('computed', 'approved', 'paid') OR o.announced = %(true)s)
    GROUP BY o.sme_id
)
SELECT y.id, y.granted_fen, y.computed_fen, y.announced FROM (
    SELECT x.id, x.amount_fen, x.capped, x.computed_fen, x.announced,
           CASE WHEN {left} <= 0 THEN 0 WHEN {left} < x.computed_fen THEN {left} ELSE x.computed_fen END
               AS granted_fen
    FROM (
        SELECT e.id, e.capped, e.announced,
               CAST(ROUND(e.computed_amount * 100) AS BIGINT) AS computed_fen,
               CAST(ROUND(e.amount * 100) AS BIGINT) AS amount_fen,
               SUM(CAST(ROUND(e.computed_amount * 100) AS BIGINT)) OVER (
                   PARTITION BY e.sme_id, e.year
                   ORDER BY CASE WHEN e.announced = %(true)s THEN 0 ELSE 1 END,
                            COALESCE(i.due_on, {premium_on}), e.loan_id, e.kind, COALESCE(e.installment_id, 0)
                   ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
               ) AS through_fen,
               COALESCE(u.used_fen, 0) AS used_fen
        FROM {ent} e
        JOIN {loan} l ON l.id = e.loan_id
        LEFT JOIN {inst} i ON i.id = e.installment_id
        LEFT JOIN used u ON u.sme_id = e.sme_id
        WHERE e.run_id = %(run)s {smes_e}
    ) x
) y
WHERE y.granted_fen <> y.amount_fen OR (y.granted_fen < y.computed_fen) <> y.capped
"""

# A chunk announces (marks, then writes the `subsidy.computed` events of) the run's entitlements
# of the SMEs it computes for that no cap can cut any more: no chunk of the run other than this one
# still to compute a loan of the SME, no other run of the programme and year computing (a run
# pending or running, or a chunk of another run claimed and not finished: its uncommitted rows
# would be unseen here), and everything the SME may hold this year within the cap (all of its
# entitlements of other runs, whatever their status, and the whole of this run's at their amounts
# before the cap: those already written plus those the chunk writes). Later caps count announced
# entitlements and never change them (_CAP_SQL), so an announced amount is final; the rest are
# announced by the completion.
#
# The SMEs are decided BEFORE the chunk's rows are written, from the rows it is about to write
# (`fresh`), so each new row is written once, with its mark (_CHUNK_PG_SQL); only the run's rows
# of those SMEs written earlier (by another chunk, or adopted from a failed run) are marked by an
# UPDATE. A new row that conflicts with one already there is counted twice: the decision errs on
# the side of not announcing (the completion then does).
_DECIDE_SQL = """
WITH fresh_i AS MATERIALIZED ({interest_rows}
), fresh_p AS MATERIALIZED ({premium_rows}
), fresh AS (
    SELECT * FROM fresh_i UNION ALL SELECT * FROM fresh_p
), cand AS MATERIALIZED (
    SELECT DISTINCT l.sme_id FROM {loan} l
    WHERE l.program_id = %(program)s AND l.id BETWEEN %(lo)s AND %(hi)s
), busy AS MATERIALIZED (
    SELECT COUNT(*) AS n FROM {run} r
    WHERE r.program_id = %(program)s AND r.id <> %(run)s
      AND r.period_start >= %(year_start)s AND r.period_start < %(next_year)s
      AND (r.status IN ('pending', 'running')
           OR EXISTS (SELECT 1 FROM {chunk} k WHERE k.run_id = r.id AND k.status = 'running'))
), pending AS MATERIALIZED (
    SELECT DISTINCT l2.sme_id FROM cand c
    JOIN {loan} l2 ON l2.sme_id = c.sme_id AND l2.program_id = %(program)s
    JOIN {chunk} k ON k.run_id = %(run)s AND k.id <> %(chunk_id)s AND k.status <> 'done'
                  AND l2.id BETWEEN k.lo_id AND k.hi_id
), fresh_fen AS MATERIALIZED (
    SELECT f.sme_id, SUM(CAST(ROUND(f.amount * 100) AS BIGINT)) AS fen FROM fresh f GROUP BY f.sme_id
), safe AS MATERIALIZED (
    SELECT c.sme_id FROM cand c
    LEFT JOIN fresh_fen ff ON ff.sme_id = c.sme_id
    WHERE (SELECT b.n FROM busy b) = 0
      AND c.sme_id NOT IN (SELECT p.sme_id FROM pending p)
      AND COALESCE((
          SELECT SUM(CAST(ROUND(o.amount * 100) AS BIGINT)) FROM {ent} o
          WHERE o.sme_id = c.sme_id AND o.run_id <> %(run)s AND o.program_id = %(program)s
            AND o.year = %(year)s AND o.status <> 'cancelled'
      ), 0) + COALESCE((
          SELECT SUM(CAST(ROUND(o.computed_amount * 100) AS BIGINT)) FROM {ent} o
          WHERE o.sme_id = c.sme_id AND o.run_id = %(run)s AND o.status <> 'cancelled'
      ), 0) + COALESCE(ff.fen, 0) <= %(cap)s
)"""
_MARK_SQL = """
UPDATE {ent} SET announced = %(true)s
FROM safe s
WHERE {ent}.sme_id = s.sme_id AND {ent}.run_id = %(run)s AND {ent}.announced = %(false)s
  AND {ent}.status = 'computed'
RETURNING {ent}.id"""
_NEW_MARK = "CASE WHEN n.sme_id IN (SELECT s.sme_id FROM safe s) THEN %(true)s ELSE %(false)s END"
# PostgreSQL: the chunk's whole write in ONE statement (the rows computed once, materialised).
_CHUNK_PG_SQL = """{decide}, marked AS ({mark}
), added AS ({insert} RETURNING id, announced
)
SELECT a.id, a.announced, 1 FROM added a UNION ALL SELECT m.id, %(true)s, 0 FROM marked m"""

# The maturity date, or the settlement date when the loan was settled before maturity.
_PREMIUM_ON = "CASE WHEN l.settled_on < l.maturity_on THEN l.settled_on ELSE l.maturity_on END"


def _covers(alias: str, term: str) -> str:
    return (
        f"{alias}.term_min_months <= {term}"
        f" AND ({alias}.term_max_months IS NULL OR {alias}.term_max_months >= {term})"
    )


def _overlap(sql: _Sql, lo: str, hi: str) -> str:
    """Days of the benchmark row's segment [b_on, next_on) inside [lo, hi), none when apart."""
    top = f"CASE WHEN bt.next_on IS NULL OR bt.next_on > {hi} THEN {hi} ELSE bt.next_on END"
    bottom = f"CASE WHEN bt.b_on > {lo} THEN bt.b_on ELSE {lo} END"
    return f"CASE WHEN {top} > {bottom} THEN {sql.days(top, bottom)} ELSE 0 END"


# The day the installment's accrual stopped (its due date unless an early settlement closed the
# period; DOMAIN.md 8a: the installment then belongs to the period containing that day), and the
# day a prepayment changed its principal (the end when none did).
_ACCRUAL_END = "COALESCE(i.accrual_end_on, i.due_on)"
_CHANGED_ON = f"COALESCE(i.principal_changed_on, {_ACCRUAL_END})"


def _interest_sql(sql: _Sql, forfeit: bool, fixed: bool, extended: bool = True) -> str:
    """Interest subsidies of the chunk's on-time installments due in the period.

    `bt` lists, for each loan term found in the chunk, the benchmark rows applying to that term
    (of two rows of one day covering it, the one starting at the longer term), each in force from
    its effective date to the next such row's (`next_on`, by LEAD: the segments are computed once
    per statement, not once per installment). Joined to an
    installment, a row is one rate segment, its days the overlap with [start_on, due_on).
    rate-days = sum of days x min(contract rate, benchmark); the subsidy = round(opening principal
    x rate-days / 360 x rate), one rounding. With the benchmark fixed at disbursement, the one row
    in force on the disbursement date serves every day of the accrual period.
    """
    if fixed:
        in_force = "bt.b_on <= l.disbursed_on AND (bt.next_on IS NULL OR bt.next_on > l.disbursed_on)"
        days = sql.days(_CHANGED_ON, "i.start_on")
        days_after = sql.days(_ACCRUAL_END, _CHANGED_ON)
    else:
        in_force = f"bt.b_on < {_ACCRUAL_END} AND (bt.next_on IS NULL OR bt.next_on > i.start_on)"
        days = _overlap(sql, "i.start_on", _CHANGED_ON)
        days_after = _overlap(sql, _CHANGED_ON, _ACCRUAL_END)
    rate = "CASE WHEN bt.b_rate < l.annual_rate THEN bt.b_rate ELSE l.annual_rate END"
    tables = _tables()
    # The principal ran at opening_principal to the change and at principal_after_change after it
    # (a partial prepayment): rate-days of each stretch weigh its own principal (DOMAIN.md 8a).
    return _INTEREST_ROWS.format(
        **tables,
        amount=sql.interest_fen(
            "i.opening_principal",
            f"SUM({days} * {rate})",
            "COALESCE(i.principal_after_change, i.opening_principal)",
            f"SUM({days_after} * {rate})",
            "%(interest_rate)s",
        ),
        in_force=in_force,
        forfeit=_FORFEIT_SQL.format(**tables) if forfeit else "",
        extended="" if extended else "AND i.after_extension = %(false)s",
        covers_b=_covers("b", "t.term_months"),
    )


def _premium_sql(sql: _Sql) -> str:
    """Premium subsidies of the chunk's loans settled with every installment on time, whose
    maturity (or earlier settlement) falls in the period: round(premium paid x rate)."""
    return _PREMIUM_ROWS.format(
        **_tables(),
        amount=sql.premium_fen("p.premium_paid_amount", "%(premium_rate)s"),
        premium_on=_PREMIUM_ON,
    )


def _cap_sql(smes: Sequence[int] | None = None) -> str:
    """This run's entitlements whose amount the annual cap changes: per SME, in a deterministic
    order (event date, loan, kind, installment), each is granted what is left of the cap after the
    SME's entitlements of finalised runs of the year and this run's earlier ones. In integer fen,
    so that SQLite's binary arithmetic is exact too.

    One window (a running sum per SME and year) over the run's rows, joined to the other runs' use
    aggregated once per SME: linear in the run's rows whatever the statistics say (the correlated
    per-entitlement sub-query it replaces was quadratic on a never-analysed table). Announced
    entitlements come first in their SME's order: their amounts are final (see _ANNOUNCE_SQL).
    `smes`: only these SMEs (the cap of the others has nothing to change), else every SME."""
    left = "(%(cap)s - x.used_fen - (x.through_fen - x.computed_fen))"
    if smes is None:
        only_o = only_e = ""
    else:  # integers read from the table (int() keeps them so)
        listed = ", ".join(str(int(pk)) for pk in smes)
        only_o, only_e = f"AND o.sme_id IN ({listed})", f"AND e.sme_id IN ({listed})"
    return _CAP_SQL.format(**_tables(), left=left, premium_on=_PREMIUM_ON, smes_o=only_o, smes_e=only_e)


# --- starting a run ------------------------------------------------------------------------------


def _chunk_bounds(program: Program, chunk_size: int) -> list[tuple[int, int]]:
    """[lo, hi] loan id ranges of `chunk_size` disbursed loans each (the engine's one cut)."""
    return batch.chunk_bounds(Loan.objects.filter(program=program, disbursed_on__isnull=False), chunk_size)


def _program_and_period(actor: User, program_id: int, period: str) -> tuple[Program, rules.Period]:
    """The programme (one serving the regulator's region) and the period it names, or a 400."""
    require_regulator(actor)
    program = program_to_start(programs_served_for(actor), program_id)
    try:
        span = rules.parse_period(period, program.subsidy_period)
    except rules.InvalidPeriod as exc:
        raise InvalidInput.on("period", str(exc)) from exc
    return program, span


def period_ended(span: rules.Period, today: date) -> bool:
    """A period is over the day after its last day: only then is every installment of it due."""
    return span.end < today


def _require_ended(span: rules.Period) -> None:
    today = business_today()
    if not period_ended(span, today):
        message = _(
            "The period %(period)s has not ended: it runs to %(end)s, so a run may start from "
            "%(first)s (today is %(today)s). A preview shows the figures so far without saving them."
        ) % {
            "period": span.label,
            "end": span.end.isoformat(),
            "first": (span.end + timedelta(days=1)).isoformat(),
            "today": today.isoformat(),
        }
        raise PeriodNotEnded(message, fields={"period": [message]})


@transaction.atomic
def subsidy_run_start(
    *, actor: User, program_id: int, period: str, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> SubsidyRun:
    """Start a run for a programme and a period that has ended (regulator): snapshot the
    programme's parameters, cut the loans into id-range chunks and queue one Celery task per chunk
    on commit. Running a period again is allowed and adds only what is missing."""
    program, span = _program_and_period(actor, program_id, period)
    _require_ended(span)
    if chunk_size < 1:
        raise ValueError("chunk_size must be positive")
    program = Program.objects.select_for_update().get(pk=program.pk)  # one start per programme at a time
    busy = SubsidyRun.objects.filter(program=program, period=span.label, status__in=IN_PROGRESS).first()
    if busy is not None:
        raise Conflict(
            _("Run #%(pk)s of %(period)s is still %(status)s; start again when it has finished.")
            % {"pk": busy.pk, "period": span.label, "status": busy.get_status_display()}
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
    chunk_ids = batch.chunks_create(SUBSIDY_JOB, run, _chunk_bounds(program, chunk_size))
    run.chunks_total = len(chunk_ids)
    run.save(update_fields=["chunks_total"])
    if chunk_ids:
        batch.chunks_enqueue(SUBSIDY_JOB, chunk_ids)
    else:
        # No loans, so no chunk of another run of the programme is in flight: the announcers' lock
        # after the programme row cannot wait on one here (see _announcers_lock).
        _announcers_lock(program.pk, span.start.year)
        _mark_running(run)
        _finish(run)
    return run


@dataclass(frozen=True)
class SubsidyPreview:
    """What a run of the period would compute now (nothing is saved)."""

    program: Program
    period: str
    period_start: date
    period_end: date
    ended: bool
    interest_total: Decimal
    premium_total: Decimal
    entitlements_count: int
    capped_count: int

    @property
    def total_amount(self) -> Decimal:
        return self.interest_total + self.premium_total


class _Discard(Exception):
    """Leaves the preview's savepoint, rolling back everything it wrote."""


def subsidy_run_preview(*, actor: User, program_id: int, period: str) -> SubsidyPreview:
    """A dry run (regulator): the entitlements a run of the period would add now, after the cap,
    computed by the run's own SQL inside a savepoint that is rolled back, so nothing is written
    (no run, no entitlement, no audit row). Also for a period that has not ended: its figures so
    far."""
    program, span = _program_and_period(actor, program_id, period)
    found: dict[str, Any] = {}
    try:
        with transaction.atomic():
            run = SubsidyRun.objects.create(
                program=program,
                period=span.label,
                period_start=span.start,
                period_end=span.end,
                parameters=_snapshot(program, DEFAULT_CHUNK_SIZE),
                started_by=actor,
            )
            _insert_entitlements(run, 0, MAX_LOAN_ID)
            _apply_cap(run)
            found = run.entitlements.aggregate(
                interest=_sum(Q(kind=SubsidyKind.INTEREST)),
                premium=_sum(Q(kind=SubsidyKind.PREMIUM)),
                count=Count("id"),
                capped=Count("id", filter=Q(capped=True)),
            )
            raise _Discard
    except _Discard:
        pass
    return SubsidyPreview(
        program=program,
        period=span.label,
        period_start=span.start,
        period_end=span.end,
        ended=period_ended(span, business_today()),
        interest_total=found["interest"],
        premium_total=found["premium"],
        entitlements_count=found["count"],
        capped_count=found["capped"],
    )


def subsidy_run_resume(*, actor: User, run_id: int) -> SubsidyRun:
    """Queue again the chunks of a pending or running run that are not done (e.g. when the broker
    lost their messages). Harmless when they were only slow: a chunk done is skipped."""
    require_regulator(actor)
    with transaction.atomic():
        if not SubsidyRun.objects.filter(
            program__in=programs_served_for(actor).values("pk"), pk=run_id
        ).exists():
            raise NotFound(_("Subsidy run not found."))
        # Chunk rows before the run row, the order a worker takes them in (its chunk, then the run
        # through the entitlements' foreign key): opposite orders could deadlock.
        pending = batch.chunks_requeue(SUBSIDY_JOB, run_id)
        run = SubsidyRun.objects.select_for_update().select_related("program").get(pk=run_id)
        if run.status not in IN_PROGRESS:
            raise InvalidTransition.of(run, "resume")
        audit_record(actor=actor, action="subsidy_run.resume", obj=run, payload={"chunks": pending})
        return run


# --- computing a chunk ---------------------------------------------------------------------------


def _mark_running(run: SubsidyRun) -> None:
    """pending -> running, audited; on the first claim of a chunk (the run row locked once)."""
    locked = SubsidyRun.objects.select_for_update().get(pk=run.pk)
    if locked.status == S.PENDING:
        locked.start_running()
        locked.save(update_fields=["status"])
        audit_record(
            actor=None, action="subsidy_run.running", obj=locked, from_state=S.PENDING, to_state=S.RUNNING
        )
    run.status = locked.status


def _chunk_process(chunk: SubsidyRunChunk) -> dict[str, int]:
    """The chunk's entitlements, then the events of those no cap can cut any more, in the chunk's
    transaction: a chunk retried after a crash writes both again or neither (a done chunk is
    skipped), and an announced entitlement is never announced again."""
    run = SubsidyRun.objects.get(pk=chunk.run_id)
    _loans_share(run, chunk)  # first: the chunk holds nothing else a reversal may wait for
    _announcers_lock(run.program_id, run.period_start.year, shared=True)  # before it decides
    announced: list[int] = []
    created = _insert_entitlements(run, chunk.lo_id, chunk.hi_id, chunk=chunk, announced=announced)
    _announce_settled(run, chunk, announced)
    return {"entitlements_count": created}


def _loans_share(run: SubsidyRun, chunk: SubsidyRunChunk) -> None:
    """FOR SHARE on the chunk's loans, in id order, held to the commit (PostgreSQL; SQLite runs one
    writer at a time). It conflicts with the FOR NO KEY UPDATE a repayment reversal takes on its
    loan before it makes installments unpaid and looks for their entitlements: a reversal in
    flight is waited for, and the chunk's statements after this one (READ COMMITTED: a snapshot
    each) see its installments unpaid; a reversal coming later waits for this commit, and then
    finds the entitlement written here and cancels it. Without it each could miss the other, and
    an entitlement would stand on an installment no longer paid."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id FROM {Loan._meta.db_table} WHERE program_id = %s AND id BETWEEN %s AND %s"  # noqa: S608
            " ORDER BY id FOR SHARE",
            [run.program_id, chunk.lo_id, chunk.hi_id],
        )


# pg_advisory_xact_lock(namespace, programme x 10000 + year), held to the commit: whoever announces
# entitlements of one programme and year takes its turn, so each sees every amount announced before
# it. A run's completion (_finish, after its cap) takes it alone; the chunks take it shared: chunks
# of one run never announce the same SME's rows side by side (_DECIDE_SQL's `pending`), and a chunk
# announces nothing while another run of the programme and year computes (`busy`), so two runs'
# chunks never both promise an SME the rest of its cap, and a completion waits for the chunks in
# flight (and they for it). Without it two runs of the same year computing at once could each
# promise an SME the rest of its cap, neither seeing the other's uncommitted announcement.
# Taken BEFORE the programme row: a chunk holding it shared locks the programme row only at its
# commit (the entitlements' foreign key), so a completion or a start holding the programme row
# while waiting for it would deadlock with that chunk (tests/fintech/subsidies/
# test_announce_concurrency.py drove exactly that).
_ANNOUNCE_NAMESPACE = 0x616E6E  # "ann"


def _announcers_lock(program_id: int, year: int, *, shared: bool = False) -> None:
    if connection.vendor == "postgresql":
        fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT {fn}(%s, %s)",
                [_ANNOUNCE_NAMESPACE, program_id * 10000 + year],
            )


def _announce_settled(run: SubsidyRun, chunk: SubsidyRunChunk, ids: Sequence[int]) -> int:
    """Announce (`subsidy.computed`, one set-based batch) the run's entitlements the chunk marked
    announced (_DECIDE_SQL: their amounts are final already); returns how many."""
    return _entitlement_events_for("subsidy.computed", EntitlementStatus.COMPUTED, ids)


def subsidy_chunk_compute(chunk_id: int, *, retries: int = 0) -> None:
    """Insert the entitlements of one chunk that are missing (a done chunk is skipped), then close
    the run if it was the last one (services.batch). Safe to run twice, or after a worker died half
    way: the chunk's inserts and its `done` mark commit together or not at all."""
    batch.chunk_execute(SUBSIDY_JOB, chunk_id, retries=retries)


def _insert_entitlements(
    run: SubsidyRun,
    lo: int,
    hi: int,
    *,
    chunk: SubsidyRunChunk | None = None,
    announced: list[int] | None = None,
) -> int:
    """The entitlements of the loans lo..hi that are missing; returns how many were written.
    With a chunk (a run's chunk, its announcers' lock held): the SMEs whose amounts are final are
    decided first (_DECIDE_SQL), the new rows written with their `announced` mark and the run's
    earlier rows of those SMEs marked; the ids of every entitlement marked go to `announced`."""
    sql = _Sql()
    params = run_params(run)
    year = run.period_start.year
    common = {
        "run": run.pk,
        "program": run.program_id,
        "lo": lo,
        "hi": hi,
        "start": sql.date(run.period_start),
        "end": sql.date(run.period_end),
        "period": run.period,
        "year": year,
        "false": False,
        "true": True,
        "now": connection.ops.adapt_datetimefield_value(timezone.now()),
        "interest_rate": sql.decimal(params.interest_subsidy_rate),
        "premium_rate": sql.decimal(params.premium_subsidy_rate),
    }
    fixed = params.benchmark_mode == rules.FIXED_AT_DISBURSEMENT
    interest = _interest_sql(sql, params.forfeit_after_late, fixed, params.subsidise_extended)
    premium = _premium_sql(sql)
    tables = _tables()
    if chunk is None:
        created = 0
        with connection.cursor() as cursor:
            for rows in (interest, premium):
                cursor.execute(_INSERT_SQL.format(**tables, rows=f"({rows})", announced="%(false)s"), common)
                created += max(cursor.rowcount, 0)
        return created
    common.update(
        chunk_id=chunk.pk,
        cap=int(params.annual_cap / FEN),
        year_start=sql.date(date(year, 1, 1)),
        next_year=sql.date(date(year + 1, 1, 1)),
    )
    decide = _DECIDE_SQL.format(**tables, interest_rows=interest, premium_rows=premium)
    mark = _MARK_SQL.format(**tables)
    insert = _INSERT_SQL.format(**tables, rows="fresh", announced=_NEW_MARK)
    marked: list[int] = []
    created = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(_CHUNK_PG_SQL.format(decide=decide, mark=mark, insert=insert), common)
            for pk, is_announced, new in cursor.fetchall():
                created += int(new)
                if is_announced:
                    marked.append(int(pk))
        else:
            # SQLite (no statement inside a WITH): the same decision before each of the two writes
            # (the rows already there first: the new ones do not change the sums it reads).
            cursor.execute(f"{decide}\n{mark}", common)
            marked += [int(pk) for (pk,) in cursor.fetchall()]
            cursor.execute(f"{decide}\n{insert} RETURNING id, announced", common)
            for pk, is_announced in cursor.fetchall():
                created += 1
                if is_announced:
                    marked.append(int(pk))
    if announced is not None:
        announced += sorted(marked)
    return created


def subsidy_chunk_fail(chunk_id: int, error: BaseException) -> None:
    """A chunk failed for good: the run is failed with the error (its entitlements are taken over
    by the next run of the period)."""
    batch.chunk_fail(SUBSIDY_JOB, chunk_id, str(error))


# --- closing a run: the cap and the totals -------------------------------------------------------


def subsidy_run_finish(run_id: int) -> None:
    """Once every chunk is done: apply the annual cap and store the totals (status `computed`).
    Called after each chunk; only the call that finds all chunks done does anything."""
    found = SubsidyRun.objects.filter(pk=run_id).values_list("program_id", "period_start").first()
    if found is None:
        return
    program_id, period_start = found
    if SubsidyRunChunk.objects.filter(run_id=run_id).exclude(status=ChunkStatus.DONE).exists():
        return
    _analyze_entitlements()  # before the locks: nobody waits for it
    with transaction.atomic():
        # The announcers' turn first, then the programme row (see _announcers_lock): before the cap
        # reads what the other runs announced.
        _announcers_lock(program_id, period_start.year)
        # Cap passes of one programme one at a time: each sees the others' final amounts.
        Program.objects.select_for_update().get(pk=program_id)
        locked_at = time.monotonic()
        run = SubsidyRun.objects.select_for_update().get(pk=run_id)
        if run.status != S.RUNNING or run.chunks.exclude(status=ChunkStatus.DONE).exists():
            return
        _finish(run)
    # The programme and run rows were held from locked_at to the commit (bench/subsidy_run.py).
    logger.info("subsidy run %s completed in %.3f s", run_id, time.monotonic() - locked_at)


def _analyze_entitlements() -> None:
    """Fresh statistics for the table the run has just bulk-written: the cap's plan and every
    later query's then rest on counts, not on the planner's defaults for a never-analysed table."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {SubsidyEntitlement._meta.db_table}")


def _finish(run: SubsidyRun) -> None:
    """The cap, the announcements left, the clawbacks and the totals; the caller holds the
    announcers' lock (exclusive), the programme row and the run row."""
    _apply_cap(run)
    # The entitlements no chunk could announce (their SME's cap was in play, or chunks of the SME
    # ran side by side): after the cap, now final.
    rest = SubsidyEntitlement.objects.filter(
        run_id=run.pk, status=EntitlementStatus.COMPUTED, announced=False
    )
    ids = sorted(rest.values_list("pk", flat=True))
    if ids:
        # One batch: the run's stream rows locked in one ordered pass (services.events).
        rest.update(announced=True)  # the same rows: the run and the announcers' lock are held
        _entitlement_events_for("subsidy.computed", EntitlementStatus.COMPUTED, ids)
    run.clawback_total = clawbacks_attach(run)
    totals = run.entitlements.exclude(status=EntitlementStatus.CANCELLED).aggregate(
        interest=_sum(Q(kind=SubsidyKind.INTEREST)),
        premium=_sum(Q(kind=SubsidyKind.PREMIUM)),
        count=Count("id"),
    )
    run.interest_total, run.premium_total = totals["interest"], totals["premium"]
    run.entitlements_count = totals["count"]
    run.chunks_done = run.chunks.filter(status=ChunkStatus.DONE).count()
    run.compute()
    run.save(
        update_fields=[
            "interest_total",
            "premium_total",
            "clawback_total",
            "entitlements_count",
            "chunks_done",
            "status",
            "finished_at",
        ]
    )
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


def _entitlement_events(run: SubsidyRun, name: str, status: str, **details: Any) -> None:
    """The run's entitlements' events (`subsidy.computed` after the cap, `subsidy.paid`), written
    set-based by chunks of ids in the run's transaction (services.events)."""
    ids = sorted(SubsidyEntitlement.objects.filter(run_id=run.pk, status=status).values_list("pk", flat=True))
    _entitlement_events_for(name, status, ids, **details)


_EVENTS_SOURCE_SQL = """
SELECT e.id AS subject_id, l.application_id AS aggregate_id, {data} AS data
FROM {ent} e JOIN {loan} l ON l.id = e.loan_id
WHERE {which}
"""


def _entitlement_events_for(name: str, status: str, ids: Sequence[int], **details: str) -> int:
    """The events of these entitlements, data and all built in SQL (one INSERT ... SELECT): the
    envelope's data as events_emit writes it (subject, application, loan, to_state, amount, and
    details kind, period, capped and the given ones)."""
    if not ids:
        return 0
    sql = _Sql()
    extra = [(key, f"%(detail_{key})s") for key in details]
    data = json_object(
        ("subject", json_object(("type", "'subsidy_entitlement'"), ("id", "e.id"))),
        ("application", "l.application_id"),
        ("loan", "e.loan_id"),
        ("to_state", "%(to_state)s"),
        ("amount", sql.money_text("e.amount")),
        (
            "details",
            json_object(
                ("kind", "e.kind"), ("period", "e.period"), ("capped", json_bool("e.capped")), *extra
            ),
        ),
    )
    params: dict[str, Any] = {"to_state": status}
    params.update({f"detail_{key}": value for key, value in details.items()})
    if connection.vendor == "postgresql":
        which = "e.id = ANY(%(ids)s)"  # one array parameter, however many
        params["ids"] = list(ids)
    else:  # integers read from the table (int() keeps them so)
        which = f"e.id IN ({', '.join(str(int(pk)) for pk in ids)})"
    source = _EVENTS_SOURCE_SQL.format(**_tables(), data=data, which=which)
    return events_insert_select(name, SubsidyEntitlement, source, params)


def _sum(condition: Q | None = None) -> Coalesce:
    money = MoneyField()
    return Coalesce(
        Sum("amount", filter=condition), Value(Decimal("0.00"), output_field=money), output_field=money
    )


# Up to this many SMEs with entitlements not announced, the cap pass reads only theirs.
_CAP_LISTED_SMES = 1000


def _apply_cap(run: SubsidyRun) -> None:
    # The cap never changes an announced entitlement (_ANNOUNCE_SQL): only the SMEs with one not
    # announced are in play, usually none or a few (chunks of one SME side by side, a cap in play).
    smes: list[int] | None = list(
        SubsidyEntitlement.objects.filter(run_id=run.pk, announced=False)
        .values_list("sme_id", flat=True)
        .distinct()
        .order_by()[: _CAP_LISTED_SMES + 1]
    )
    if not smes:
        return
    if len(smes) > _CAP_LISTED_SMES:
        smes = None  # one pass over the whole run
    cap_fen = int(run_params(run).annual_cap / FEN)
    with connection.cursor() as cursor:
        cursor.execute(
            _cap_sql(smes),
            {
                "run": run.pk,
                "cap": cap_fen,
                "program": run.program_id,
                "year": run.period_start.year,
                "true": True,
            },
        )
        changes = cursor.fetchall()  # only the entitlements the cap cuts: a handful per SME at most
    if any(announced for *_, announced in changes):
        # Never: an entitlement is announced only when no cap can cut it (_ANNOUNCE_SQL).
        raise RuntimeError(f"run {run.pk}: the cap would change an entitlement already announced")
    rows = [
        SubsidyEntitlement(pk=pk, amount=Decimal(int(granted)) * FEN, capped=int(granted) < int(computed))
        for pk, granted, computed, _ in changes
    ]
    SubsidyEntitlement.objects.bulk_update(rows, ["amount", "capped"], batch_size=500)


# --- approval and payment ------------------------------------------------------------------------


def _locked_run(actor: User, run_id: int) -> SubsidyRun:
    visible = SubsidyRun.objects.filter(program__in=programs_served_for(actor).values("pk"), pk=run_id)
    if not visible.exists():
        raise NotFound(_("Subsidy run not found."))
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
        raise InvalidTransition.of(run, "approve")
    run.approve()
    run.approved_by, run.approved_at = actor, timezone.now()
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
        raise InvalidInput.on("reference", _("Give the payment's reference."))
    ensure_not_future(paid_on, "paid_on")
    run = _locked_run(actor, run_id)
    if run.status != S.APPROVED:
        raise InvalidTransition.of(run, "record a payment")
    run.pay()
    run.paid_on, run.payment_reference = paid_on, reference[:100]
    run.save(update_fields=["status", "paid_on", "payment_reference"])
    run.entitlements.filter(status=EntitlementStatus.APPROVED).update(status=EntitlementStatus.PAID)
    _entitlement_events(run, "subsidy.paid", EntitlementStatus.PAID, paid_on=str(paid_on))
    total = run.interest_total + run.premium_total
    per_sme = (
        run.entitlements.filter(amount__gt=0)
        .exclude(status=EntitlementStatus.CANCELLED)
        .values("sme_id")
        .annotate(total=Sum("amount"))
        .order_by("sme_id")
    )
    # Clawbacks of earlier subsidies are netted against what this run pays each SME (DOMAIN.md 8a).
    netted, netting_legs = clawbacks_net(
        actor=actor, run=run, paid_to_sme={row["sme_id"]: row["total"] for row in per_sme}
    )
    legs = [
        Leg(SUBSIDIES_PAYABLE, GOV_BUDGET, total - netted, organization_id=actor.organization_id),
        Leg(SUBSIDIES_PAYABLE, CLAWBACK_RECEIVABLE, netted, organization_id=actor.organization_id),
    ]
    legs += [
        Leg(SME_CASH, SME_SUBSIDY_INCOME, row["total"], organization_id=row["sme_id"]) for row in per_sme
    ]
    legs += netting_legs
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
        raise InvalidInput.on("rate", _("A rate is a fraction above 0 and below 1, e.g. 0.0345."))
    if rate.term_max_months is not None and rate.term_max_months < rate.term_min_months:
        raise InvalidInput.on("term_max_months", _("The range ends before it starts."))
    clash = benchmark_overlap(rate)
    if clash is not None:
        raise InvalidInput.on(
            "term_min_months", _("The range overlaps %(clash)s of the same day.") % {"clash": clash}
        )
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


# --- the engine's job ----------------------------------------------------------------------------

SUBSIDY_JOB = batch.register(
    batch.Job(
        name="subsidy_run",
        chunk_model=SubsidyRunChunk,
        run_model=SubsidyRun,
        task_name="fintech.subsidy_chunk",
        process=lambda chunk: _chunk_process(chunk),  # looked up at call time (tests patch it)
        finish=lambda run_id: subsidy_run_finish(run_id),
        active=IN_PROGRESS,
        running=S.RUNNING,
        on_first_claim=lambda run: _mark_running(run),
        label=lambda chunk: f"chunk {chunk.pk}",
        error_text=str,
    )
)
