"""Subsidies (DOMAIN.md section 9): periods, the benchmark in force, the interest subsidy of one
installment, the premium subsidy of one loan and the annual cap per SME.

Pure functions on Decimal and date; no Django. The services compute the same figures set-based in
SQL (fintech.services.subsidies); this module states each rule once, in plain Python, and is the
reference the tests hold the SQL to. Every amount is rounded once, with money.round_fen, at the
step the rule names.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal, localcontext
from itertools import pairwise

from django.utils.translation import gettext as _

from fintech.money import ZERO, round_fen

DAY_COUNT_BASIS = 360  # actual/360 (DOMAIN.md section 5)
MONTH, QUARTER = "month", "quarter"  # the programme's subsidy period kinds
DAILY, FIXED_AT_DISBURSEMENT = "daily", "fixed_at_disbursement"  # the programme's benchmark modes
INTEREST, PREMIUM = "interest", "premium"
ON_TIME = "paid"  # the installment status of a completion on or before due date + grace days
LATE_STATUSES = ("paid_late", "overdue")
SETTLED = "settled"
# Products of a principal (2 places), rate-days (8) and a subsidy rate (8) are exact with this many
# digits, so the one rounding to the fen sees the exact value (a half-fen tie stays a tie).
_WORKING_PRECISION = 60

_QUARTER_RE = re.compile(r"^([0-9]{4})Q([1-4])$")
_MONTH_RE = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")


class InvalidPeriod(ValueError):
    """A period label that is not `2025Q3` or `2025-07`, or not of the programme's kind."""


@dataclass(frozen=True)
class Period:
    """A subsidy period: a calendar quarter (`2025Q3`) or month (`2025-07`), both ends inclusive."""

    label: str
    kind: str
    start: date
    end: date

    @property
    def year(self) -> int:
        return self.start.year

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end

    def labels(self) -> tuple[str, ...]:
        """The period labels this period covers: a quarter covers its three months as well."""
        if self.kind == MONTH:
            return (self.label,)
        months = tuple(f"{self.year}-{m:02d}" for m in range(self.start.month, self.start.month + 3))
        return (self.label, *months)


def _month_end(year: int, month: int) -> date:
    first_of_next = date(year + month // 12, month % 12 + 1, 1)
    return first_of_next - timedelta(days=1)


def parse_period(text: str, kind: str | None = None) -> Period:
    """`2025Q3` -> 2025-07-01..2025-09-30; `2025-07` -> 2025-07-01..2025-07-31.

    With `kind` (the programme's subsidy period), a label of the other kind is refused.
    """
    text = (text or "").strip()
    quarter, month = _QUARTER_RE.match(text), _MONTH_RE.match(text)
    matched = quarter or month
    if matched is None or not 1900 <= int(matched.group(1)) <= 2999:
        raise InvalidPeriod(
            _("'%(text)s' is not a period: write a quarter like 2025Q3 or a month like 2025-07.")
            % {"text": text}
        )
    year, number = int(matched.group(1)), int(matched.group(2))
    if quarter is not None:
        first = 3 * (number - 1) + 1
        found = Period(text, QUARTER, date(year, first, 1), _month_end(year, first + 2))
    else:
        found = Period(text, MONTH, date(year, number, 1), _month_end(year, number))
    if kind is not None and found.kind != kind:
        raise InvalidPeriod(
            (
                _("The programme's subsidy period is a quarter: write it like 2025Q3, not '%(text)s'.")
                if kind == QUARTER
                else _("The programme's subsidy period is a month: write it like 2025-07, not '%(text)s'.")
            )
            % {"text": text}
        )
    return found


def period_containing(day: date, kind: str) -> Period:
    """The quarter or month that contains the day."""
    if kind == QUARTER:
        return parse_period(f"{day.year}Q{(day.month - 1) // 3 + 1}")
    return parse_period(f"{day.year}-{day.month:02d}")


# --- the benchmark -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BenchmarkRow:
    """A benchmark rate in force from `effective_on` for terms within [term_min, term_max] months."""

    effective_on: date
    term_min_months: int
    term_max_months: int | None
    rate: Decimal

    def covers(self, term_months: int) -> bool:
        top = self.term_max_months
        return self.term_min_months <= term_months and (top is None or term_months <= top)


def benchmark_timeline(rows: Iterable[BenchmarkRow], term_months: int) -> list[BenchmarkRow]:
    """The rows that apply to a term, one per effective date, oldest first.

    Should two rows of the same day cover the term (the admin refuses overlapping ranges, so only
    hand-made data does this), the narrower bucket, the one starting at the longer term, wins.
    """
    by_day: dict[date, BenchmarkRow] = {}
    for row in rows:
        if not row.covers(term_months):
            continue
        held = by_day.get(row.effective_on)
        if held is None or row.term_min_months > held.term_min_months:
            by_day[row.effective_on] = row
    return [by_day[day] for day in sorted(by_day)]


def benchmark_on(rows: Iterable[BenchmarkRow], day: date, term_months: int) -> Decimal | None:
    """The rate in force on `day` for a term of `term_months`: the row with the latest effective
    date on or before the day among those covering the term (None before the first one)."""
    rate: Decimal | None = None
    for row in benchmark_timeline(rows, term_months):
        if row.effective_on > day:
            break
        rate = row.rate
    return rate


@dataclass(frozen=True)
class RateSegment:
    """Days [start, end) over which one benchmark rate (None: no rate known yet) is in force."""

    start: date
    end: date
    rate: Decimal | None

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def rate_segments(
    rows: Iterable[BenchmarkRow], start: date, end: date, term_months: int
) -> list[RateSegment]:
    """Split [start, end) where a new rate takes effect inside it (e.g. a new LPR fixing)."""
    timeline = benchmark_timeline(rows, term_months)
    cuts = sorted({start, end} | {r.effective_on for r in timeline if start < r.effective_on < end})
    return [RateSegment(lo, hi, benchmark_on(timeline, lo, term_months)) for lo, hi in pairwise(cuts)]


def rate_days(
    rows: Iterable[BenchmarkRow],
    start: date,
    end: date,
    contract_rate: Decimal,
    term_months: int,
    fixed_on: date | None = None,
) -> Decimal:
    """Sum over each day d of [start, end) of min(contract rate, benchmark(d)), by segments.

    With `fixed_on` (benchmark fixed at disbursement) the rate in force that day serves every day.
    Days with no benchmark in force (before the table's first row) count nothing.
    """
    rows = list(rows)
    if fixed_on is not None:
        fixed = benchmark_on(rows, fixed_on, term_months)
        return ZERO if fixed is None else (end - start).days * min(contract_rate, fixed)
    total = Decimal(0)
    for segment in rate_segments(rows, start, end, term_months):
        if segment.rate is not None:
            total += segment.days * min(contract_rate, segment.rate)
    return total


def rate_days_day_by_day(
    rows: Iterable[BenchmarkRow], start: date, end: date, contract_rate: Decimal, term_months: int
) -> Decimal:
    """The rule word for word, one day at a time: the yardstick of `rate_days` in the tests."""
    rows = list(rows)
    total = Decimal(0)
    day = start
    while day < end:
        rate = benchmark_on(rows, day, term_months)
        if rate is not None:
            total += min(contract_rate, rate)
        day += timedelta(days=1)
    return total


# --- the two subsidies ---------------------------------------------------------------------------


def interest_subsidy(opening_principal: Decimal, rate_days_sum: Decimal, subsidy_rate: Decimal) -> Decimal:
    """round(outstanding principal x rate-days / 360 x subsidy rate): one rounding, at the end."""
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        exact = opening_principal * rate_days_sum * subsidy_rate / DAY_COUNT_BASIS
    return round_fen(exact)


def interest_subsidy_split(stretches: Iterable[tuple[Decimal, Decimal]], subsidy_rate: Decimal) -> Decimal:
    """round(sum over stretches of principal x rate-days / 360 x subsidy rate): the principal
    outstanding on each day (a prepayment changes it inside a period; DOMAIN.md 8a), one rounding."""
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        exact = sum((p * d for p, d in stretches), Decimal(0)) * subsidy_rate / DAY_COUNT_BASIS
    return round_fen(exact)


def premium_subsidy(premium_paid: Decimal, subsidy_rate: Decimal) -> Decimal:
    """round(premium paid x premium subsidy rate)."""
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        exact = premium_paid * subsidy_rate
    return round_fen(exact)


def apply_cap(computed: Sequence[Decimal], used: Decimal, cap: Decimal) -> list[tuple[Decimal, bool]]:
    """Grant entitlements in order until the annual cap: the one that would cross it is cut to what
    is left, the later ones to nothing; each cut one is marked capped. `used` = already granted."""
    left = max(cap - used, ZERO)
    out: list[tuple[Decimal, bool]] = []
    for amount in computed:
        granted = min(amount, left)
        left -= granted
        out.append((granted, granted < amount))
    return out


# --- a whole loan, a whole book (the reference for the set-based SQL) ---------------------------


@dataclass(frozen=True)
class SubsidyParams:
    """The programme parameters a subsidy run uses (copied onto the run when it starts)."""

    interest_subsidy_rate: Decimal = Decimal("0.25")
    premium_subsidy_rate: Decimal = Decimal("0.40")
    period_kind: str = QUARTER
    benchmark_mode: str = DAILY
    forfeit_after_late: bool = False
    annual_cap: Decimal = Decimal("500000.00")
    subsidise_extended: bool = False  # installments due after an extension (DOMAIN.md 8a)


@dataclass(frozen=True)
class InstallmentFacts:
    seq: int
    start_on: date
    due_on: date
    opening_principal: Decimal
    status: str
    # A prepayment on `principal_changed_on` left `principal_after_change` for the rest of the
    # period; an early settlement stopped the accrual on `accrual_end_on` (DOMAIN.md 8a).
    principal_changed_on: date | None = None
    principal_after_change: Decimal | None = None
    accrual_end_on: date | None = None
    after_extension: bool = False

    @property
    def accrual_end(self) -> date:
        return self.accrual_end_on or self.due_on


@dataclass(frozen=True)
class LoanFacts:
    loan_id: int
    sme_id: int
    term_months: int
    annual_rate: Decimal
    disbursed_on: date
    maturity_on: date
    settled_on: date | None
    status: str
    premium_paid: Decimal
    installments: tuple[InstallmentFacts, ...]


@dataclass(frozen=True)
class Owed:
    """One entitlement before the cap."""

    loan_id: int
    sme_id: int
    seq: int | None
    kind: str
    event_on: date
    computed_amount: Decimal

    @property
    def order_key(self) -> tuple[date, int, str, int]:
        # Deterministic and independent of insertion order: the cap cuts the same entitlements
        # however the run's chunks were scheduled.
        return (self.event_on, self.loan_id, self.kind, self.seq or 0)


def premium_event_on(loan: LoanFacts) -> date | None:
    """The maturity date, or the settlement date when the loan was settled before maturity."""
    if loan.settled_on is None:
        return None
    return min(loan.settled_on, loan.maturity_on)


def loan_subsidies(
    loan: LoanFacts, period: Period, params: SubsidyParams, rows: Sequence[BenchmarkRow]
) -> list[Owed]:
    """The entitlements a loan earns in a period, before the cap (zero amounts are not owed)."""
    owed: list[Owed] = []
    fixed_on = loan.disbursed_on if params.benchmark_mode == FIXED_AT_DISBURSEMENT else None
    ordered = sorted(loan.installments, key=lambda i: i.seq)
    for inst in ordered:
        end = inst.accrual_end  # an installment closed by an early settlement: the settlement day
        if inst.status != ON_TIME or not period.contains(end):
            continue  # a late installment earns nothing, ever
        if params.forfeit_after_late and any(j.seq < inst.seq and j.status in LATE_STATUSES for j in ordered):
            continue  # one late installment forfeits the loan's later subsidies
        if inst.after_extension and not params.subsidise_extended:
            continue
        # The principal outstanding day by day: the opening principal to a prepayment's day, the
        # principal it left after (DOMAIN.md 8a).
        changed = min(inst.principal_changed_on or end, end)
        after = (
            inst.principal_after_change if inst.principal_after_change is not None else inst.opening_principal
        )
        stretches = [
            (
                inst.opening_principal,
                rate_days(rows, inst.start_on, changed, loan.annual_rate, loan.term_months, fixed_on),
            ),
            (after, rate_days(rows, changed, end, loan.annual_rate, loan.term_months, fixed_on)),
        ]
        amount = interest_subsidy_split(stretches, params.interest_subsidy_rate)
        if amount > 0:
            owed.append(Owed(loan.loan_id, loan.sme_id, inst.seq, INTEREST, inst.due_on, amount))
    event_on = premium_event_on(loan)
    all_on_time = bool(ordered) and all(i.status == ON_TIME for i in ordered)
    if loan.status == SETTLED and event_on is not None and period.contains(event_on) and all_on_time:
        amount = premium_subsidy(loan.premium_paid, params.premium_subsidy_rate)
        if amount > 0:
            owed.append(Owed(loan.loan_id, loan.sme_id, None, PREMIUM, event_on, amount))
    return owed


def cap_book(
    owed: Iterable[Owed], used_by_sme: Mapping[int, Decimal], cap: Decimal
) -> list[tuple[Owed, Decimal, bool]]:
    """Apply the annual cap per SME to a period's entitlements: (entitlement, amount, capped)."""
    by_sme: dict[int, list[Owed]] = {}
    for item in sorted(owed, key=lambda o: o.order_key):
        by_sme.setdefault(item.sme_id, []).append(item)
    out: list[tuple[Owed, Decimal, bool]] = []
    for sme_id, items in by_sme.items():
        granted = apply_cap([i.computed_amount for i in items], used_by_sme.get(sme_id, ZERO), cap)
        out.extend((item, amount, capped) for item, (amount, capped) in zip(items, granted, strict=True))
    return out
