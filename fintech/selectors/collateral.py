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

from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When
from django.utils import timezone

from fintech.models import (
    CollateralAppraisal,
    FeeSchedule,
    FindingStatus,
    Installment,
    Loan,
    Patent,
    PatentFeePayment,
    PatentStatus,
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
    """min(1, remaining term at D / remaining term at the valuation date), in days."""
    if valued_on is None:
        return ONE
    at_valuation = (expires_on - valued_on).days
    now = max(0, (expires_on - as_of).days)
    if at_valuation <= 0:
        return Decimal("0")
    return min(ONE, Decimal(now) / Decimal(at_valuation))


def level_of(coverage: Decimal | None, program: dict[str, Any]) -> str:
    if coverage is None:
        return "ok"
    if coverage < program["coverage_shortfall_level"]:
        return "shortfall"
    if coverage < program["coverage_warning_level"]:
        return "warning"
    return "ok"


class _PatentRow(NamedTuple):
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


def _needs_fee_line(patent: _PatentRow) -> bool:
    """Whether the patent may have an unpaid fee year: alive and not paid through its term (the
    recorded paid-through year settles most at once: the fee year of its registration is only
    read when none is recorded)."""
    if patent.status in DEAD_STATES:
        return False
    last = fee_rules.last_fee_year(patent.patent_type, patent.filing_date)
    if patent.fees_paid_through_year is not None and patent.fees_paid_through_year >= last:
        return False
    return paid_through_year(patent) < last


def patent_cover(
    patent: _PatentRow,
    appraised: tuple[Decimal, date | None, date | None],
    fee: FeeLine | None,
    program: dict[str, Any],
    as_of: date,
) -> PatentCover:
    """The collateral value of one pledged patent on `as_of` (DOMAIN.md section 10a): the
    appraised value x (1 - the haircut of its state) x the term factor, rounded to the fen."""
    value, valued_on, until = appraised
    if patent.status in DEAD_STATES or patent.expires_on < as_of:
        state, haircut = "dead", program["haircut_dead_rate"]
    else:
        state, haircut = "in_force", program["haircut_in_force_rate"]
        if fee is not None and fee.status == "in_grace" and program["haircut_fee_in_grace_rate"] > haircut:
            state, haircut = "fee_in_grace", program["haircut_fee_in_grace_rate"]
        if until is not None and until < as_of and program["haircut_valuation_expired_rate"] > haircut:
            state, haircut = "valuation_expired", program["haircut_valuation_expired_rate"]
    factor = _term_factor(patent.expires_on, as_of, valued_on)
    return PatentCover(
        patent.pk,
        patent.application_number,
        state,
        patent.status,
        value,
        haircut,
        factor,
        round_fen(value * (ONE - haircut) * factor),
        valued_on,
        until,
        patent.expires_on,
        fee,
    )


def loans_cover(
    loan_ids: Iterable[int], as_of: date, *, id_range: tuple[int, int] | None = None
) -> dict[int, LoanCover]:
    """Coverage of each loan on `as_of` (DOMAIN.md section 10a): the one computation of the rule,
    read by the API and the admin (one loan) and by the nightly watch (a chunk of loans).

    Set-based: four queries for the lot, rows read as tuples (no model instance), plus the fee
    tables and payments only when a patent of the lot is not paid through its term."""
    ids = list(loan_ids)
    if not ids:
        return {}
    # A chunk's loans are an id range: the queries filter on the range (short SQL, an index range
    # scan), the rows of other loans in it are dropped below.
    lo, hi = id_range if id_range is not None else (min(ids), max(ids))
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
        (loan_id, _PatentRow(*patent))  # type: ignore[arg-type]
        for loan_id, *patent in PledgedPatent.objects.filter(pledge__loan__id__range=(lo, hi), is_active=True)
        .order_by("pledge__loan_id", "patent_id")
        .values_list(
            "pledge__loan_id",
            "patent_id",
            "patent__application_number",
            "patent__status",
            "patent__expires_on",
            "patent__filing_date",
            "patent__grant_date",
            "patent__patent_type",
            "patent__fees_paid_through_year",
        )
        if loan_id in covers
    ]
    unrecorded = {p.pk for _loan, p in items if p.fees_paid_through_year is None}
    if unrecorded:
        registered = dict(Patent.objects.filter(pk__in=sorted(unrecorded)).values_list("pk", "created_at"))
        items = [(loan_id, p._replace(created_at=registered.get(p.pk))) for loan_id, p in items]
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
    unpaid = {p.pk for _loan, p in items if _needs_fee_line(p)}
    payments: dict[int, dict[int, tuple[Decimal, date]]] = defaultdict(dict)
    tables = None
    if unpaid:
        tables = FeeTables()
        for patent_id, year, amount, paid_on in PatentFeePayment.objects.filter(
            patent_id__in=sorted(unpaid)
        ).values_list("patent_id", "fee_year", "amount", "paid_on"):
            payments[patent_id][year] = (amount, paid_on)
    for loan_id, patent in items:
        cover = covers[loan_id]
        fee = None
        if tables is not None and patent.pk in unpaid:
            fee = first_unpaid(
                fee_lines(patent, as_of, payments.get(patent.pk, {}), tables, first_unpaid_only=True)
            )
        item = patent_cover(
            patent, appraised.get((loan_id, patent.pk), (ZERO, None, None)), fee, cover.program, as_of
        )
        cover.patents.append(item)
        cover.collateral_value += item.value
    for cover in covers.values():
        if cover.outstanding_principal > 0:
            cover.coverage = (cover.collateral_value / cover.outstanding_principal).quantize(
                COVERAGE_PLACES, rounding=ROUND_HALF_UP
            )
        cover.level = level_of(cover.coverage, cover.program)
    return {pk: covers[pk] for pk in ids if pk in covers}


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
