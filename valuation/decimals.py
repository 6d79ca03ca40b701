"""Decimal arithmetic for valuation: a high-precision context, rounding and input checks.

valuation is a leaf app and may not import fintech.money, so it keeps its own ROUND_HALF_UP to
the fen (DOMAIN.md section 5); tests/valuation/test_leaf.py checks that the two agree.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)

from django.utils.translation import gettext as _

from valuation.errors import ValuationInputError

FEN = Decimal("0.01")
SCORE_STEP = Decimal("0.01")
ZERO = Decimal("0")
ONE = Decimal("1")
HUNDRED = Decimal("100")
DAYS_PER_YEAR = Decimal("365")
# 10^15 CNY: far above any patent or loan, and keeps every intermediate well inside PRECISION.
MAX_AMOUNT = Decimal("1000000000000000")
# Intermediate results carry 50 significant digits, so the single final rounding is the only one
# that matters; 34 (IEEE decimal128) would do, 50 leaves room for 20 years of discount factors.
PRECISION = 50


def _context() -> Context:
    return Context(
        prec=PRECISION, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow]
    )


def high_precision() -> AbstractContextManager[Context]:
    """A local decimal context for the arithmetic between the inputs and the one rounding."""
    return localcontext(_context())


def round_fen(value: Decimal) -> Decimal:
    """Round once to the fen, ROUND_HALF_UP."""
    return value.quantize(FEN, rounding=ROUND_HALF_UP, context=_context())


def round_score(value: Decimal) -> Decimal:
    """Round a score to 2 places, ROUND_HALF_UP."""
    return value.quantize(SCORE_STEP, rounding=ROUND_HALF_UP, context=_context())


def require_decimal(value: object, field: str) -> Decimal:
    """Refuse anything but Decimal: a float has already lost the exact figure the caller meant."""
    if isinstance(value, float):
        raise TypeError(f"{field}: float is not accepted for money, rates or scores; pass a Decimal")
    if not isinstance(value, Decimal):
        raise TypeError(f"{field}: expected Decimal, got {type(value).__name__}")
    return value


def require_optional_decimal(value: object, field: str) -> Decimal | None:
    return None if value is None else require_decimal(value, field)


def require_date(value: object, field: str) -> date:
    if isinstance(value, datetime) or not isinstance(value, date):
        raise TypeError(f"{field}: expected a date, got {type(value).__name__}")
    return value


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check_finite(value: Decimal, field: str) -> Decimal:
    if not value.is_finite():
        raise ValuationInputError(field, _("Enter a finite number."))
    return value


def check_amount(value: Decimal, field: str) -> Decimal:
    """A money input: finite, 0 <= value <= 10^15, at most 2 decimal places."""
    check_finite(value, field)
    if value < 0:
        raise ValuationInputError(field, _("Enter a non-negative amount."))
    if value > MAX_AMOUNT:
        raise ValuationInputError(field, _("Enter an amount of at most 1000000000000000.00."))
    if _places(value) > 2:
        raise ValuationInputError(field, _("Enter an amount with at most 2 decimal places."))
    return value


def check_rate(value: Decimal, field: str) -> Decimal:
    """A rate as a fraction in [0, 1)."""
    check_finite(value, field)
    if not ZERO <= value < ONE:
        raise ValuationInputError(field, _("Enter a rate as a fraction, at least 0 and below 1."))
    return value


def check_score(value: Decimal, field: str) -> Decimal:
    """A score: 0 to 100, at most 2 decimal places (the precision of every score reported)."""
    check_finite(value, field)
    if not ZERO <= value <= HUNDRED:
        raise ValuationInputError(field, _("Enter a score from 0 to 100."))
    if _places(value) > 2:
        raise ValuationInputError(field, _("Enter a score with at most 2 decimal places."))
    return value


def remaining_years(valuation_date: date, expiry_date: date) -> Decimal:
    """The remaining legal term in years, days / 365 (DOMAIN.md section 6); negative if expired."""
    with high_precision():
        return Decimal((expiry_date - valuation_date).days) / DAYS_PER_YEAR


def clamp(value: Decimal, low: Decimal, high: Decimal) -> Decimal:
    return max(low, min(high, value))
