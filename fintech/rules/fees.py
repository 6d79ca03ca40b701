"""Annual patent fees (DOMAIN.md section 10a): fee years, due dates, grace and late surcharge.

Pure functions of dates and amounts; the dated fee table lives in the database (models.collateral)
and is passed in as rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from fintech.money import round_fen

from .identifiers import _anniversary, patent_term_years
from .schedules import add_months

GRACE_MONTHS = 6
# 0 % in the first month of grace, then 5 % of the fee per further started month, at most 25 %.
SURCHARGE_STEP_RATE = Decimal("0.05")
SURCHARGE_MAX_RATE = Decimal("0.25")
# Restoration within 2 months of the lapse.
RESTORATION_MONTHS = 2


def fee_year_due_on(filing_date: date, year: int) -> date:
    """Fee year k runs from the (k-1)-th anniversary of the filing date; its fee is due that day.
    A 29 February filing has its anniversary on 1 March in a common year."""
    if year < 1:
        raise ValueError("fee years start at 1")
    return _anniversary(filing_date, year - 1)


def fee_year_on(filing_date: date, day: date) -> int:
    """The fee year `day` falls in (1 from the filing date)."""
    k = max(1, day.year - filing_date.year + 1)
    while k > 1 and fee_year_due_on(filing_date, k) > day:
        k -= 1
    while fee_year_due_on(filing_date, k + 1) <= day:
        k += 1
    return k


def last_fee_year(patent_type: str, filing_date: date) -> int:
    return patent_term_years(patent_type, filing_date)


def grace_ends_on(due_on: date) -> date:
    """The last day of the six months of grace after the due date."""
    return add_months(due_on, GRACE_MONTHS)


def surcharge_rate(due_on: date, paid_on: date) -> Decimal:
    """0 on time and in the first month of grace; then 5 % per further started month (up to 25 %).

    Paid within month m of grace (due + (m-1) months < paid_on <= due + m months): 5 % x (m - 1)."""
    if paid_on <= due_on:
        return Decimal("0")
    m = 1
    while paid_on > add_months(due_on, m):
        m += 1
    return min(SURCHARGE_MAX_RATE, SURCHARGE_STEP_RATE * (m - 1))


@dataclass(frozen=True)
class FeeRow:
    patent_type: str
    year_from: int
    year_to: int
    amount: Decimal


def fee_amount(rows: Iterable[FeeRow], patent_type: str, year: int, reduction_rate: Decimal) -> Decimal:
    """The table's fee for the year, less the SME reduction, rounded once to the fen."""
    for row in rows:
        if row.patent_type == patent_type and row.year_from <= year <= row.year_to:
            return round_fen(row.amount * (Decimal("1") - reduction_rate))
    raise LookupError(f"no fee for {patent_type} year {year}")


def surcharge_amount(fee: Decimal, due_on: date, paid_on: date) -> Decimal:
    return round_fen(fee * surcharge_rate(due_on, paid_on))
