"""Reads of the collateral watch (DOMAIN.md section 10a): a patent's annual-fee schedule, the
coverage of loans by their pledged patents, findings counts.

Coverage is computed for a set of loans at once (a fixed number of queries whatever their
number): the API and the admin ask for one loan, the nightly watch for a chunk of loans.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from django.db import connection
from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from fintech.models import (
    CollateralAppraisal,
    FeeSchedule,
    FindingStatus,
    Installment,
    Loan,
    LoanStatus,
    Patent,
    PatentFeePayment,
    PatentStatus,
    PatentType,
    PatentValuation,
    PledgedPatent,
    Severity,
)
from fintech.money import ZERO, round_fen
from fintech.rules import fees as fee_rules

ONE = Decimal("1")
COVERAGE_PLACES = Decimal("0.000001")
DEAD_STATES = (
    PatentStatus.LAPSED,
    PatentStatus.INVALIDATED,
    PatentStatus.EXPIRED,
    PatentStatus.TERMINATED,
    PatentStatus.WAIVED,
)


# --- annual fees ---------------------------------------------------------------------------------


class FeeTables:
    """The dated fee tables, loaded once: the table in force on a due date gives the fee."""

    def __init__(self) -> None:
        self.tables = [
            (
                t.valid_from,
                t.sme_reduction_rate,
                [fee_rules.FeeRow(r.patent_type, r.year_from, r.year_to, r.amount) for r in t.rows.all()],
            )
            for t in FeeSchedule.objects.prefetch_related("rows").order_by("-valid_from")
        ]

    def fee(self, patent_type: str, year: int, due_on: date) -> Decimal:
        for valid_from, reduction, rows in self.tables:
            if valid_from <= due_on:
                return fee_rules.fee_amount(rows, patent_type, year, reduction)
        if self.tables:  # a due date before the oldest table: the oldest applies
            _valid_from, reduction, rows = self.tables[-1]
            return fee_rules.fee_amount(rows, patent_type, year, reduction)
        raise LookupError("no annual fee table")


@dataclass(frozen=True)
class FeeLine:
    fee_year: int
    due_on: date
    amount: Decimal
    grace_ends_on: date
    surcharge: Decimal
    paid_amount: Decimal | None
    paid_on: date | None
    status: str  # due | paid | in_grace | lapsed


def paid_through_year(patent: Any) -> int:
    """Fee years up to this one were paid before the platform recorded payments: the recorded
    figure, else the fee year of the patent's registration on the platform, and never before the
    grant's fee year (paid with the grant registration)."""
    grant_year = fee_rules.fee_year_on(patent.filing_date, patent.grant_date)
    if patent.fees_paid_through_year is not None:
        return max(grant_year, patent.fees_paid_through_year)
    registered = timezone.localdate(patent.created_at) if patent.created_at else patent.grant_date
    return max(grant_year, fee_rules.fee_year_on(patent.filing_date, registered))


def fee_lines(
    patent: Any,
    as_of: date,
    payments: dict[int, tuple[Decimal, date]],
    tables: FeeTables,
    *,
    first_unpaid_only: bool = False,
) -> list[FeeLine]:
    """Every fee year of the patent from its grant's year to the end of its term, as of `as_of`
    (with `first_unpaid_only`, the first unpaid year alone: the nightly watch's question)."""
    grant_year = fee_rules.fee_year_on(patent.filing_date, patent.grant_date)
    through = paid_through_year(patent)
    lines = []
    start = through + 1 if first_unpaid_only else grant_year
    for year in range(start, fee_rules.last_fee_year(patent.patent_type, patent.filing_date) + 1):
        if first_unpaid_only and year in payments:
            continue
        due_on = fee_rules.fee_year_due_on(patent.filing_date, year)
        amount = tables.fee(patent.patent_type, year, due_on)
        grace_end = fee_rules.grace_ends_on(due_on)
        paid = payments.get(year)
        if paid is not None:
            surcharge = paid[0] - amount if paid[0] > amount else ZERO
            lines.append(FeeLine(year, due_on, amount, grace_end, surcharge, paid[0], paid[1], "paid"))
            continue
        if year <= through:
            lines.append(FeeLine(year, due_on, amount, grace_end, ZERO, None, None, "paid"))
            continue
        if as_of <= due_on:
            status = "due"
        elif as_of <= grace_end:
            status = "in_grace"
        else:
            status = "lapsed"
        surcharge = (
            fee_rules.surcharge_amount(amount, due_on, min(as_of, grace_end)) if status != "due" else ZERO
        )
        lines.append(FeeLine(year, due_on, amount, grace_end, surcharge, None, None, status))
        if first_unpaid_only:
            break
    return lines


def patent_fee_lines(patent: Patent, as_of: date) -> list[FeeLine]:
    payments = {
        y: (a, d)
        for y, a, d in PatentFeePayment.objects.filter(patent=patent).values_list(
            "fee_year", "amount", "paid_on"
        )
    }
    return fee_lines(patent, as_of, payments, FeeTables())


def first_unpaid(lines: Sequence[FeeLine]) -> FeeLine | None:
    return next((line for line in lines if line.status != "paid"), None)


# --- coverage ------------------------------------------------------------------------------------


@dataclass
class PatentCover:
    patent: int
    application_number: str
    state: str  # in_force | fee_in_grace | valuation_expired | dead
    legal_status: str
    appraised_value: Decimal
    haircut: Decimal
    term_factor: Decimal
    value: Decimal
    valued_on: date | None
    valid_until: date | None
    expires_on: date
    fee: FeeLine | None


@dataclass
class LoanCover:
    loan: int
    collateral_value: Decimal
    outstanding_principal: Decimal
    coverage: Decimal | None
    level: str  # ok | warning | shortfall
    patents: list[PatentCover] = field(default_factory=list)
    program: dict[str, Any] = field(default_factory=dict)


_PROGRAM_FIELDS = (
    "haircut_in_force_rate",
    "haircut_fee_in_grace_rate",
    "haircut_valuation_expired_rate",
    "haircut_dead_rate",
    "coverage_warning_level",
    "coverage_shortfall_level",
    "fee_notice_days",
    "valuation_notice_days",
    "min_remaining_patent_months",
)


def _term_factor(expires_on: date, as_of: date, valued_on: date | None) -> Decimal:
    """min(1, remaining term at D / remaining term at the valuation date), in days (shown; the value
    takes the quotient last, collateral_value)."""
    if valued_on is None:
        return ONE
    at_valuation = (expires_on - valued_on).days
    now = max(0, (expires_on - as_of).days)
    if at_valuation <= 0:
        return Decimal("0")
    return min(ONE, Decimal(now) / Decimal(at_valuation))


def collateral_value(
    appraised: Decimal, haircut: Decimal, expires_on: date, as_of: date, valued_on: date | None
) -> Decimal:
    """appraised value x (1 - haircut) x term factor, rounded once to the fen (DOMAIN.md 10a). The
    term factor's quotient is taken last (x remaining days / days at valuation), so the figure
    before its one rounding is exact to far more places than the fen needs: the same figure as
    PostgreSQL's (COVER_CTES), whatever the days."""
    kept = appraised * (ONE - haircut)
    if valued_on is not None:
        at_valuation = (expires_on - valued_on).days
        if at_valuation <= 0:
            return ZERO
        now = max(0, (expires_on - as_of).days)
        if now < at_valuation:
            return round_fen(kept * now / at_valuation)
    return round_fen(kept)


def level_of(coverage: Decimal | None, program: dict[str, Any]) -> str:
    if coverage is None:
        return "ok"
    if coverage < program["coverage_shortfall_level"]:
        return "shortfall"
    if coverage < program["coverage_warning_level"]:
        return "warning"
    return "ok"


class PatentRow(NamedTuple):
    """What the coverage rule reads of a pledged patent (a row, not a model instance)."""

    pk: int
    application_number: str
    status: str
    expires_on: date
    filing_date: date
    grant_date: date
    patent_type: str
    fees_paid_through_year: int | None
    created_at: Any = None  # read only when no paid-through year is recorded (paid_through_year)


_PATENT_ROW = (
    "patent_id",
    "patent__application_number",
    "patent__status",
    "patent__expires_on",
    "patent__filing_date",
    "patent__grant_date",
    "patent__patent_type",
    "patent__fees_paid_through_year",
)
# No patent has a fee year after this one (its type's longest term): a patent paid through it is
# paid through its term whatever its type.
LAST_FEE_YEAR = max(fee_rules.last_fee_year(t, date.max) for t in PatentType.values)


def _needs_fee_line(patent: PatentRow) -> bool:
    """Whether the patent may have an unpaid fee year: alive and not paid through its term (the
    recorded paid-through year settles most at once: the fee year of its registration is only
    read when none is recorded)."""
    if patent.status in DEAD_STATES:
        return False
    last = fee_rules.last_fee_year(patent.patent_type, patent.filing_date)
    if patent.fees_paid_through_year is not None and patent.fees_paid_through_year >= last:
        return False
    return paid_through_year(patent) < last


def first_unpaid_fees(patents: Iterable[PatentRow], as_of: date) -> dict[int, FeeLine | None]:
    """The first unpaid fee line on `as_of` of each patent that may have one (_needs_fee_line; the
    others are paid through their term and absent): the fee tables and the payments are read only
    when there is such a patent."""
    rows = {p.pk: p for p in patents}
    unrecorded = sorted(pk for pk, p in rows.items() if p.fees_paid_through_year is None)
    if unrecorded:
        for pk, created_at in Patent.objects.filter(pk__in=unrecorded).values_list("pk", "created_at"):
            rows[pk] = rows[pk]._replace(created_at=created_at)
    unpaid = sorted(pk for pk, p in rows.items() if _needs_fee_line(p))
    if not unpaid:
        return {}
    tables = FeeTables()
    payments: dict[int, dict[int, tuple[Decimal, date]]] = defaultdict(dict)
    for patent_id, year, amount, paid_on in PatentFeePayment.objects.filter(patent_id__in=unpaid).values_list(
        "patent_id", "fee_year", "amount", "paid_on"
    ):
        payments[patent_id][year] = (amount, paid_on)
    return {
        pk: first_unpaid(fee_lines(rows[pk], as_of, payments.get(pk, {}), tables, first_unpaid_only=True))
        for pk in unpaid
    }


def patent_cover(
    patent: PatentRow,
    appraised: tuple[Decimal, date | None, date | None],
    fee: FeeLine | None,
    program: dict[str, Any],
    as_of: date,
) -> PatentCover:
    """The collateral value of one pledged patent on `as_of` (DOMAIN.md section 10a): the
    appraised value x (1 - the haircut of its state) x the term factor, rounded to the fen."""
    value, valued_on, until = appraised
    state, haircut = patent_state(
        patent.status, patent.expires_on, until, fee is not None and fee.status == "in_grace", program, as_of
    )
    return PatentCover(
        patent.pk,
        patent.application_number,
        state,
        patent.status,
        value,
        haircut,
        _term_factor(patent.expires_on, as_of, valued_on),
        collateral_value(value, haircut, patent.expires_on, as_of, valued_on),
        valued_on,
        until,
        patent.expires_on,
        fee,
    )


def patent_state(
    status: str,
    expires_on: date,
    valid_until: date | None,
    fee_in_grace: bool,
    program: dict[str, Any],
    as_of: date,
) -> tuple[str, Decimal]:
    """The state of a pledged patent and its haircut: dead (lapsed, invalidated, expired...), else
    the largest haircut of in force, fee in grace and valuation expired that applies."""
    if status in DEAD_STATES or expires_on < as_of:
        return "dead", program["haircut_dead_rate"]
    state, haircut = "in_force", program["haircut_in_force_rate"]
    if fee_in_grace and program["haircut_fee_in_grace_rate"] > haircut:
        state, haircut = "fee_in_grace", program["haircut_fee_in_grace_rate"]
    if (
        valid_until is not None
        and valid_until < as_of
        and program["haircut_valuation_expired_rate"] > haircut
    ):
        state, haircut = "valuation_expired", program["haircut_valuation_expired_rate"]
    return state, haircut


def loans_cover(
    loan_ids: Iterable[int], as_of: date, *, id_range: tuple[int, int] | None = None
) -> dict[int, LoanCover]:
    """Coverage of each loan on `as_of` (DOMAIN.md section 10a): the one computation of the rule,
    read by the API and the admin (one loan) and by the nightly watch (a chunk of loans).

    On PostgreSQL one statement (COVER_CTES, the statement the watch diffs its findings in) computes
    the values, haircuts, sums, coverage and levels; elsewhere (SQLite) the same rule in Python over
    four range reads. Either way the fee state comes from the fee lines Python computes for the few
    patents not paid through their term. The tests run on both with the same figures."""
    ids = sorted(set(loan_ids))
    if not ids:
        return {}
    # A chunk's loans are an id range: the queries filter on the range (short SQL, an index range
    # scan), the rows of other loans in it are dropped.
    lo, hi = id_range if id_range is not None else (ids[0], ids[-1])
    if connection.vendor == "postgresql":
        # Unique ids as many as the integers of [lo, hi]: every loan of the range.
        return _loans_cover_sql(ids, as_of, lo, hi, whole=len(ids) == hi - lo + 1)
    return _loans_cover_python(ids, as_of, lo, hi)


def fee_candidates(
    loan_ids: Sequence[int], lo: int, hi: int, *, active_only: bool = False
) -> list[tuple[int, PatentRow]]:
    """(loan, patent) of the loans' pledged patents that may have an unpaid fee year: alive and with
    no paid-through year recorded or one before LAST_FEE_YEAR (one indexed read; first_unpaid_fees
    settles each). `active_only`: of the active loans alone."""
    wanted = set(loan_ids)
    pledged = PledgedPatent.objects.filter(pledge__loan__id__range=(lo, hi), is_active=True)
    if active_only:
        pledged = pledged.filter(pledge__loan__status=LoanStatus.ACTIVE)
    return [
        (loan_id, PatentRow(*patent))  # type: ignore[arg-type]
        for loan_id, *patent in pledged.exclude(patent__status__in=DEAD_STATES)
        .filter(
            Q(patent__fees_paid_through_year__isnull=True)
            | Q(patent__fees_paid_through_year__lt=LAST_FEE_YEAR)
        )
        .order_by("pledge__loan_id", "patent_id")
        .values_list("pledge__loan_id", *_PATENT_ROW)
        if loan_id in wanted
    ]


# The coverage rule in one PostgreSQL statement over the loans of %(ids)s in [%(lo)s, %(hi)s] (the
# active ones alone unless %(all_loans)s) on %(d)s, %(in_grace)s the patents whose first unpaid fee
# is in grace (first_unpaid_fees): the same
# figures as _loans_cover_python, each value rounded once to the fen from its exact figure (the
# quotient last, numeric(40,20): collateral_value), the coverage to 6 places. CTEs:
#   cover_loans   the loans (id, status, programme)
#   cover_unknown the pledged patents that may have an unpaid fee year (fee_candidates' rule) whose
#                 fee state the caller did not pass in %(fee_known)s: the watch computes their fee
#                 lines and runs the statement again (services.collateral._watch_sql)
#   cover_values  one row per pledged patent (pledge item active): appraisal (the latest
#                 re-appraisal, else the origination valuation), state, haircut, value
#   cover_levels  one row per loan: collateral value, outstanding principal, coverage, level and
#                 the programme's parameters
_DEAD_SQL = "(" + ", ".join(f"'{s}'" for s in DEAD_STATES) + ")"
COVER_CTES = f"""
WITH cover_loans AS NOT MATERIALIZED (
    SELECT l.id, l.status, l.program_id, l.application_id
    FROM fintech_loan l
    WHERE (%(whole)s AND l.id BETWEEN %(lo)s AND %(hi)s
           OR NOT %(whole)s AND l.id = ANY(%(ids)s::bigint[]))
        AND (%(all_loans)s OR l.status = 'active')
), cover_patents AS (
    SELECT cl.id AS loan_id, cl.status AS loan_status, pt.id AS patent_id, pt.application_number,
        pt.status AS legal_status, pt.expires_on, pt.filing_date, pt.grant_date, pt.patent_type,
        pt.fees_paid_through_year,
        CASE WHEN la.id IS NULL THEN coalesce(ov.value, 0.00) ELSE la.value END AS appraised,
        CASE WHEN la.id IS NULL THEN ov.valuation_date ELSE la.valued_on END AS valued_on,
        CASE WHEN la.id IS NULL THEN ov.valid_until ELSE la.valid_until END AS valid_until,
        pt.status IN {_DEAD_SQL} OR pt.expires_on < %(d)s AS dead,
        pt.id = ANY(%(in_grace)s::bigint[])
            AND pr.haircut_fee_in_grace_rate > pr.haircut_in_force_rate AS grace,
        pr.haircut_in_force_rate, pr.haircut_fee_in_grace_rate, pr.haircut_valuation_expired_rate,
        pr.haircut_dead_rate, pr.valuation_notice_days, pr.min_remaining_patent_months
    FROM cover_loans cl
    JOIN fintech_program pr ON pr.id = cl.program_id
    JOIN fintech_pledge pl ON pl.loan_id = cl.id AND pl.loan_id BETWEEN %(lo)s AND %(hi)s
    JOIN fintech_pledgedpatent pp ON pp.pledge_id = pl.id AND pp.is_active
    JOIN fintech_patent pt ON pt.id = pp.patent_id
    LEFT JOIN LATERAL (
        SELECT c.id, c.value, c.valued_on, c.valid_until FROM fintech_collateralappraisal c
        WHERE c.loan_id = cl.id AND c.patent_id = pt.id ORDER BY c.valued_on DESC, c.id DESC LIMIT 1
    ) la ON true
    LEFT JOIN LATERAL (
        SELECT pv.value, va.valuation_date, va.valid_until FROM fintech_valuation va
        JOIN fintech_patentvaluation pv ON pv.valuation_id = va.id AND pv.patent_id = pt.id
        WHERE va.application_id = cl.application_id
    ) ov ON la.id IS NULL
), cover_unknown AS (
    SELECT loan_id, patent_id, application_number, legal_status, expires_on, filing_date, grant_date,
        patent_type, fees_paid_through_year
    FROM cover_patents
    WHERE legal_status NOT IN {_DEAD_SQL}
        AND (fees_paid_through_year IS NULL OR fees_paid_through_year < {LAST_FEE_YEAR})
        AND patent_id <> ALL(%(fee_known)s::bigint[])
), cover_states AS (
    SELECT p.*,
        CASE WHEN p.dead THEN 'dead'
             WHEN p.valid_until < %(d)s AND p.haircut_valuation_expired_rate > CASE WHEN p.grace
                 THEN p.haircut_fee_in_grace_rate ELSE p.haircut_in_force_rate END THEN 'valuation_expired'
             WHEN p.grace THEN 'fee_in_grace' ELSE 'in_force' END AS state
    FROM cover_patents p
), cover_values AS (
    SELECT s.*, h.haircut,
        CASE WHEN s.valued_on IS NULL THEN round(s.appraised * (1 - h.haircut), 2)
             WHEN s.expires_on - s.valued_on <= 0 THEN 0.00
             WHEN s.expires_on - %(d)s >= s.expires_on - s.valued_on
                 THEN round(s.appraised * (1 - h.haircut), 2)
             ELSE round((s.appraised * (1 - h.haircut) * greatest(0, s.expires_on - %(d)s))::numeric(40, 20)
                        / (s.expires_on - s.valued_on), 2) END AS value
    FROM cover_states s
    CROSS JOIN LATERAL (SELECT CASE s.state WHEN 'dead' THEN s.haircut_dead_rate
        WHEN 'valuation_expired' THEN s.haircut_valuation_expired_rate
        WHEN 'fee_in_grace' THEN s.haircut_fee_in_grace_rate ELSE s.haircut_in_force_rate END AS haircut) h
), cover_sums AS (
    SELECT loan_id, sum(value) AS collateral FROM cover_values GROUP BY loan_id
), cover_owed AS (
    SELECT i.loan_id, sum(i.principal_due) - sum(i.principal_paid) AS outstanding
    FROM fintech_installment i WHERE i.loan_id BETWEEN %(lo)s AND %(hi)s GROUP BY i.loan_id
), cover_coverage AS (
    SELECT cl.id AS loan_id, cl.status AS loan_status, coalesce(s.collateral, 0.00) AS collateral,
        coalesce(o.outstanding, 0.00) AS outstanding,
        CASE WHEN o.outstanding > 0
            THEN round(coalesce(s.collateral, 0.00)::numeric(40, 20) / o.outstanding, 6) END AS coverage,
        {", ".join(f"pr.{f}" for f in _PROGRAM_FIELDS)}
    FROM cover_loans cl JOIN fintech_program pr ON pr.id = cl.program_id
    LEFT JOIN cover_sums s ON s.loan_id = cl.id LEFT JOIN cover_owed o ON o.loan_id = cl.id
), cover_levels AS (
    SELECT c.*, CASE WHEN c.coverage IS NULL THEN 'ok'
        WHEN c.coverage < c.coverage_shortfall_level THEN 'shortfall'
        WHEN c.coverage < c.coverage_warning_level THEN 'warning' ELSE 'ok' END AS level
    FROM cover_coverage c
)"""  # noqa: S608 (the dead states are the model's choices; values are parameters)


def cover_params(
    ids: Sequence[int],
    lo: int,
    hi: int,
    as_of: date,
    fees: dict[int, FeeLine | None],
    *,
    whole: bool = False,
    active_only: bool = False,
) -> dict[str, Any]:
    """The parameters of COVER_CTES: `fees` the first unpaid fee line of each patent whose fee
    state is known (None: paid through its term), `whole` when `ids` are every loan of [lo, hi] (a
    chunk: the range alone, whose row estimates the planner gets right), `active_only` for the
    active loans of `ids` alone (the watch's)."""
    in_grace = sorted(pk for pk, fee in fees.items() if fee is not None and fee.status == "in_grace")
    return {
        "fee_known": sorted(fees),
        "ids": [] if whole else list(ids),
        "whole": whole,
        "lo": lo,
        "hi": hi,
        "d": as_of,
        "in_grace": in_grace,
        "all_loans": not active_only,
    }


_COVER_SELECT = f"""
SELECT v.loan_id, v.collateral, v.outstanding, v.coverage, v.level,
    {", ".join(f"v.{f}" for f in _PROGRAM_FIELDS)},
    p.patent_id, p.application_number, p.state, p.legal_status, p.appraised, p.haircut, p.value,
    p.valued_on, p.valid_until, p.expires_on
FROM cover_levels v LEFT JOIN cover_values p ON p.loan_id = v.loan_id
ORDER BY v.loan_id, p.patent_id
"""  # noqa: S608 (column names of the programme model)


def _loans_cover_sql(ids: list[int], as_of: date, lo: int, hi: int, *, whole: bool) -> dict[int, LoanCover]:
    fees = first_unpaid_fees((p for _loan, p in fee_candidates(ids, lo, hi)), as_of)
    covers: dict[int, LoanCover] = {}
    width = len(_PROGRAM_FIELDS)
    with connection.cursor() as cursor:
        cursor.execute(COVER_CTES + _COVER_SELECT, cover_params(ids, lo, hi, as_of, fees, whole=whole))
        for loan_id, collateral, outstanding, coverage, level, *row in cursor.fetchall():
            cover = covers.get(loan_id)
            if cover is None:
                program = dict(zip(_PROGRAM_FIELDS, row[:width], strict=True))
                cover = covers[loan_id] = LoanCover(
                    loan_id, collateral, outstanding, coverage, level, [], program
                )
            patent_id, number, state, legal, appraised, haircut, value, valued_on, until, expires = row[
                width:
            ]
            if patent_id is None:
                continue  # a loan without pledged patents
            cover.patents.append(
                PatentCover(
                    patent_id,
                    number,
                    state,
                    legal,
                    appraised,
                    haircut,
                    _term_factor(expires, as_of, valued_on),
                    value,
                    valued_on,
                    until,
                    expires,
                    fees.get(patent_id),
                )
            )
    return covers


def _loans_cover_python(ids: list[int], as_of: date, lo: int, hi: int) -> dict[int, LoanCover]:
    """loans_cover in Python over four range reads (the portable path: SQLite)."""
    # The loans' programme parameters (one dict per programme), then the outstanding principal
    # grouped on the installments' loan index alone.
    programs: dict[int, dict[str, Any]] = {}
    program_of: dict[int, int] = {}
    for row in Loan.objects.filter(pk__range=(lo, hi)).values(
        "pk", "program_id", *(f"program__{f}" for f in _PROGRAM_FIELDS)
    ):
        program_of[row["pk"]] = row["program_id"]
        if row["program_id"] not in programs:
            programs[row["program_id"]] = {f: row[f"program__{f}"] for f in _PROGRAM_FIELDS}
    outstanding = {
        loan_id: round_fen((due or ZERO) - (paid or ZERO))  # to the fen, as stored
        for loan_id, due, paid in Installment.objects.filter(loan__id__range=(lo, hi))
        .values("loan_id")
        .annotate(due=Sum("principal_due"), paid=Sum("principal_paid"))
        .values_list("loan_id", "due", "paid")
        .order_by()
    }
    covers: dict[int, LoanCover] = {
        pk: LoanCover(pk, ZERO, outstanding.get(pk, ZERO), None, "ok", [], programs[program_of[pk]])
        for pk in ids
        if pk in program_of
    }
    items = [
        (loan_id, PatentRow(*patent))  # type: ignore[arg-type]
        for loan_id, *patent in PledgedPatent.objects.filter(pledge__loan__id__range=(lo, hi), is_active=True)
        .order_by("pledge__loan_id", "patent_id")
        .values_list("pledge__loan_id", *_PATENT_ROW)
        if loan_id in covers
    ]
    appraised: dict[tuple[int, int], tuple[Decimal, date | None, date | None]] = {}
    if items:
        for loan_id, patent_id, value, valued_on, until in PatentValuation.objects.filter(
            valuation__application__loan__id__range=(lo, hi)
        ).values_list(
            "valuation__application__loan",
            "patent_id",
            "value",
            "valuation__valuation_date",
            "valuation__valid_until",
        ):
            appraised[(loan_id, patent_id)] = (value, valued_on, until)  # at origination
        for loan_id, patent_id, value, valued_on, until in (
            CollateralAppraisal.objects.filter(loan__id__range=(lo, hi))
            .order_by("loan_id", "patent_id", "valued_on", "id")
            .values_list("loan_id", "patent_id", "value", "valued_on", "valid_until")
        ):
            appraised[(loan_id, patent_id)] = (value, valued_on, until)  # the latest wins
    # The fee state: only patents not paid through their term can have an unpaid year.
    fees = first_unpaid_fees((p for _loan, p in items), as_of)
    for loan_id, patent in items:
        cover = covers[loan_id]
        item = patent_cover(
            patent,
            appraised.get((loan_id, patent.pk), (ZERO, None, None)),
            fees.get(patent.pk),
            cover.program,
            as_of,
        )
        cover.patents.append(item)
        cover.collateral_value += item.value
    for cover in covers.values():
        if cover.outstanding_principal > 0:
            cover.coverage = (cover.collateral_value / cover.outstanding_principal).quantize(
                COVERAGE_PLACES, rounding=ROUND_HALF_UP
            )
        cover.level = level_of(cover.coverage, cover.program)
    return covers


def loan_cover(loan: Loan, as_of: date) -> LoanCover:
    return loans_cover([loan.pk], as_of)[loan.pk]


# --- findings ------------------------------------------------------------------------------------


def severity_rank() -> Case:
    """0 critical, 1 warning, 2 info: the queue's order."""
    return Case(
        When(severity=Severity.CRITICAL, then=Value(0)),
        When(severity=Severity.WARNING, then=Value(1)),
        default=Value(2),
        output_field=IntegerField(),
    )


def findings_queue(findings: Any) -> Any:
    """Open before resolved, then critical, warning, info, then the latest seen first."""
    return findings.order_by("status", severity_rank().asc(), "-last_seen_on", "-id")


SEVERITIES = (Severity.INFO, Severity.WARNING, Severity.CRITICAL)


def findings_counts(findings: Any, *, status: str | None = None) -> dict[str, int]:
    """Findings by severity, `{info, warning, critical}`: the open ones, or those of `status`."""
    counts = dict(
        findings.filter(status=status or FindingStatus.OPEN)
        .order_by()
        .values("severity")
        .annotate(n=Count("pk"))
        .values_list("severity", "n")
    )
    return {str(s): counts.get(s, 0) for s in SEVERITIES}


def program_totals(findings: Any, program_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per programme (each of `program_ids`, zeros for one without findings), in one query: its open
    findings by severity, all open findings, the loans they touch (each loan once, whatever its
    number of findings) and the findings resolved so far."""
    is_open = Q(status=FindingStatus.OPEN)
    rows = (
        findings.filter(loan__program_id__in=program_ids)
        .order_by()
        .values("loan__program_id")
        .annotate(
            **{str(s): Count("pk", filter=is_open & Q(severity=s)) for s in SEVERITIES},
            findings=Count("pk", filter=is_open),
            loans=Count("loan_id", filter=is_open, distinct=True),
            resolved=Count("pk", filter=Q(status=FindingStatus.RESOLVED)),
        )
    )
    zero = {**{str(s): 0 for s in SEVERITIES}, "findings": 0, "loans": 0, "resolved": 0}
    totals = {pk: dict(zero) for pk in program_ids}
    for row in rows:
        totals[row.pop("loan__program_id")] = row
    return totals
