"""Repayment schedules: due dates, accrual periods and the three repayment methods (DOMAIN.md section 8).

Pure functions on Decimal and date; no Django. Every amount is rounded once, with money.round_fen,
at the step the rule names.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_CEILING, Decimal, localcontext
from enum import StrEnum

from fintech.money import FEN, ZERO, round_fen

DAY_COUNT_BASIS = 360  # actual/360 (DOMAIN.md section 5)
MONTHS_PER_YEAR = 12
MAX_TERM_MONTHS = 360
# Enough digits that the products below are exact before the single rounding to the fen, and that
# (1 + i)^n carries no error that could move the rounded payment.
_WORKING_PRECISION = 60


class RepaymentMethod(StrEnum):
    INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY = "interest_monthly_principal_at_maturity"
    EQUAL_PRINCIPAL = "equal_principal"
    EQUAL_INSTALLMENT = "equal_installment"


@dataclass(frozen=True)
class PlannedInstallment:
    """One scheduled installment; interest accrues over [start_on, due_on)."""

    seq: int
    start_on: date
    due_on: date
    days: int
    opening_principal: Decimal
    principal_due: Decimal
    interest_due: Decimal


def add_months(start: date, k: int) -> date:
    """The same day k months later; the month's last day when that month is shorter."""
    _require_date(start, "start")
    if not isinstance(k, int) or isinstance(k, bool):
        raise TypeError(f"k must be int, not {type(k).__name__}")
    month_index = start.year * MONTHS_PER_YEAR + (start.month - 1) + k
    year, month0 = divmod(month_index, MONTHS_PER_YEAR)
    month = month0 + 1
    if not date.min.year <= year <= date.max.year:
        raise ValueError(f"{start.isoformat()} + {k} months is outside the supported dates")
    day = min(start.day, calendar.monthrange(year, month)[1])
    return date(year, month, day)


def due_date(disbursed_on: date, k: int) -> date:
    """Due date of installment k: counted from the disbursement date each time, never chained."""
    return add_months(disbursed_on, k)


def interest_for_days(outstanding: Decimal, annual_rate: Decimal, days: int) -> Decimal:
    """round_fen(outstanding x annual_rate x days / 360): the one place for actual/360."""
    _require_decimal(outstanding, "outstanding")
    _require_decimal(annual_rate, "annual_rate")
    if not isinstance(days, int) or isinstance(days, bool):
        raise TypeError(f"days must be int, not {type(days).__name__}")
    if days < 0:
        raise ValueError("days must not be negative")
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        return round_fen(outstanding * annual_rate * days / DAY_COUNT_BASIS)


def build_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: RepaymentMethod,
    disbursed_on: date,
) -> tuple[PlannedInstallment, ...]:
    """The planned installments of a loan, seq 1..term_months; their principals sum to the principal."""
    principal, annual_rate = _validated(principal, annual_rate, term_months, disbursed_on)
    method = RepaymentMethod(method)
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        return _build(principal, annual_rate, term_months, method, disbursed_on)


def _build(
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    method: RepaymentMethod,
    disbursed_on: date,
) -> tuple[PlannedInstallment, ...]:
    due_dates = [disbursed_on] + [due_date(disbursed_on, k) for k in range(1, term_months + 1)]
    return _amortise(principal, annual_rate, method, due_dates, 1, None)


def level_amount(principal: Decimal, annual_rate: Decimal, method: RepaymentMethod, count: int) -> Decimal:
    """The level amount of a schedule of `count` installments: the monthly principal for equal
    principal, the monthly payment for equal installment, zero for interest monthly."""
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        if method is RepaymentMethod.EQUAL_PRINCIPAL:
            return round_fen(principal / count)
        if method is RepaymentMethod.EQUAL_INSTALLMENT:
            return _level_payment(principal, annual_rate / MONTHS_PER_YEAR, count)
        return ZERO


def rebuild_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    method: RepaymentMethod,
    dates: list[date],
    first_seq: int,
    level: Decimal | None = None,
) -> tuple[PlannedInstallment, ...]:
    """The rest of a schedule rebuilt on `principal` (DOMAIN.md 8a): installments first_seq.. over
    the periods [dates[0], dates[1]), [dates[1], dates[2]), ... by the same method; with `level`
    (a shorter term) that level amount instead of the one the count of periods gives, the last
    installment clearing what is left."""
    method = RepaymentMethod(method)
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        return _amortise(principal, annual_rate, method, dates, first_seq, level)


def installments_to_clear(
    principal: Decimal, annual_rate: Decimal, method: RepaymentMethod, level: Decimal
) -> int:
    """How many installments of the level amount clear `principal` (keep the installment, shorten
    the term): ceil(P / level) for equal principal; for equal installment the count at which the
    level payment, less each month's interest, has repaid the principal."""
    method = RepaymentMethod(method)
    if level <= 0:
        raise ValueError("a level amount is above zero")
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        if method is RepaymentMethod.EQUAL_PRINCIPAL:
            return int((principal / level).to_integral_value(rounding=ROUND_CEILING))
        if method is not RepaymentMethod.EQUAL_INSTALLMENT:
            raise ValueError("an interest-monthly loan keeps its term")
        monthly_rate = annual_rate / MONTHS_PER_YEAR
        outstanding, count = principal, 0
        while outstanding > 0:
            step = level - round_fen(outstanding * monthly_rate)
            if step <= 0:
                raise ValueError("the level payment does not cover the interest")
            outstanding -= min(step, outstanding)
            count += 1
        return count


def _amortise(
    principal: Decimal,
    annual_rate: Decimal,
    method: RepaymentMethod,
    due_dates: list[date],
    first_seq: int,
    level: Decimal | None,
) -> tuple[PlannedInstallment, ...]:
    count = len(due_dates) - 1
    monthly_rate = annual_rate / MONTHS_PER_YEAR  # not rounded (DOMAIN.md section 8)
    # The level amount: the monthly principal for equal principal, the monthly payment for equal
    # installment.
    if level is None:
        level = level_amount(principal, annual_rate, method, count)

    rows: list[PlannedInstallment] = []
    outstanding = principal
    for k in range(1, count + 1):
        start_on, due_on = due_dates[k - 1], due_dates[k]
        days = (due_on - start_on).days
        if method is RepaymentMethod.EQUAL_INSTALLMENT:
            interest = round_fen(outstanding * monthly_rate)
            principal_due = level - interest
        else:
            interest = interest_for_days(outstanding, annual_rate, days)
            principal_due = level
        if k == count:
            principal_due = outstanding  # the last installment clears the principal
        # An installment never takes more principal than is still outstanding. This only bites for
        # loans of a few fen per month (e.g. 0.05 over 10 months, where round(P/n) = 0.01 each
        # would leave the last installment -0.04); for any real loan it changes nothing.
        principal_due = min(principal_due, outstanding)
        rows.append(
            PlannedInstallment(
                seq=first_seq + k - 1,
                start_on=start_on,
                due_on=due_on,
                days=days,
                opening_principal=outstanding,
                principal_due=principal_due,
                interest_due=interest,
            )
        )
        outstanding -= principal_due
    return tuple(rows)


def _level_payment(principal: Decimal, monthly_rate: Decimal, term_months: int) -> Decimal:
    """A = round_fen(P i (1+i)^n / ((1+i)^n - 1)); round_fen(P / n) when the rate is zero."""
    if monthly_rate == 0:
        return round_fen(principal / term_months)
    growth = (1 + monthly_rate) ** term_months
    return round_fen(principal * monthly_rate * growth / (growth - 1))


def _validated(
    principal: Decimal, annual_rate: Decimal, term_months: int, disbursed_on: date
) -> tuple[Decimal, Decimal]:
    _require_decimal(principal, "principal")
    _require_decimal(annual_rate, "annual_rate")
    if not isinstance(term_months, int) or isinstance(term_months, bool):
        raise TypeError(f"term_months must be int, not {type(term_months).__name__}")
    _require_date(disbursed_on, "disbursed_on")
    if not principal.is_finite() or principal <= 0:
        raise ValueError("principal must be a positive amount")
    with localcontext() as ctx:
        ctx.prec = _WORKING_PRECISION
        in_fen = principal.quantize(FEN)
    if principal != in_fen:
        raise ValueError("principal must have at most 2 decimal places")
    if not annual_rate.is_finite() or annual_rate < 0:
        raise ValueError("annual_rate must be a non-negative fraction, e.g. 0.045")
    if not 1 <= term_months <= MAX_TERM_MONTHS:
        raise ValueError(f"term_months must be between 1 and {MAX_TERM_MONTHS}")
    return in_fen, annual_rate


def _require_decimal(value: object, name: str) -> None:
    if not isinstance(value, Decimal):
        raise TypeError(f"{name} must be Decimal, not {type(value).__name__}")


def _require_date(value: object, name: str) -> None:
    # datetime is a date subclass; a time of day has no place in a business date.
    if not isinstance(value, date) or isinstance(value, datetime):
        raise TypeError(f"{name} must be a date, not {type(value).__name__}")
