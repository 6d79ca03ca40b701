"""The only place that knows money precision, rounding and ratio splitting (DOMAIN.md section 5)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

FEN = Decimal("0.01")
ZERO = Decimal("0.00")
MONEY_DIGITS, MONEY_PLACES = 18, 2  # every amount column: models.base.MoneyField
RATE_DIGITS = 12
RATE_PLACES = 8  # a rate (annual rate, premium rate, ratio) is stored with 8 places: models.base.RateField

_PLAIN_MONEY = re.compile(r"^[0-9]{1,16}(\.[0-9]{1,2})?$")


class InvalidMoney(ValueError):
    """Raised for money input that is not a plain, non-negative amount with at most two places."""


def round_fen(value: Decimal) -> Decimal:
    """Round once to the fen, ROUND_HALF_UP (PostgreSQL's round(numeric) agrees for positives)."""
    if not isinstance(value, Decimal):
        raise TypeError(f"money must be Decimal, not {type(value).__name__}")
    return value.quantize(FEN, rounding=ROUND_HALF_UP)


# Money cells in XLSX exports: a number (sums stay sums in the spreadsheet) shown with two places.
XLSX_MONEY_FORMAT = "#,##0.00"


def parse_money(raw: object) -> Decimal:
    """Parse API money input: a string or number in plain notation, >= 0, at most 2 places.

    Exponents, NaN, Infinity, negatives, floats with binary noise and more places are refused.
    """
    if isinstance(raw, bool) or raw is None:
        raise InvalidMoney(_('Enter an amount as a decimal string, e.g. "1000.00".'))
    # JSON numbers reach us as Decimal (config.api.DecimalJSONParser), never as float.
    if isinstance(raw, int | str | Decimal):
        text = str(raw).strip()
    else:
        raise InvalidMoney(_('Enter an amount as a decimal string, e.g. "1000.00".'))
    if not _PLAIN_MONEY.match(text):
        raise InvalidMoney(_("Enter a non-negative amount in plain notation with at most 2 decimal places."))
    try:
        return Decimal(text).quantize(FEN)
    except InvalidOperation as exc:  # the pattern admits only 16 integer digits; kept as a guard
        raise InvalidMoney(_("Enter a valid amount.")) from exc


def split_by_ratios(amount: Decimal, ratios: Sequence[Decimal]) -> list[Decimal]:
    """Split an amount by ratios with the largest-remainder rule, to the fen.

    Each part gets the floor of its exact share in fen; the leftover fen go one by one to the
    largest fractional remainders, ties in the order the ratios are given (insurer, government,
    bank). The parts always sum exactly to the amount.
    """
    if not ratios:
        raise ValueError("at least one ratio is needed")
    if any(not isinstance(r, Decimal) or r < 0 for r in ratios):
        raise ValueError("ratios must be non-negative Decimals")
    total_ratio = sum(ratios, Decimal(0))
    if total_ratio <= 0:
        raise ValueError("ratios must not all be zero")
    amount = round_fen(amount)
    negative = amount < 0
    fen_total = int((-amount if negative else amount) / FEN)
    exact = [Decimal(fen_total) * r / total_ratio for r in ratios]
    floors = [int(e.to_integral_value(rounding=ROUND_DOWN)) for e in exact]
    leftover = fen_total - sum(floors)
    order = sorted(range(len(ratios)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:leftover]:
        floors[i] += 1
    parts = [Decimal(f) * FEN for f in floors]
    return [-p for p in parts] if negative else parts


def format_money(value: Decimal, *, grouped: bool = False) -> str:
    """An amount as text with exactly two places, as the API and the admin show it: "1234.50", or
    "1,234.50" grouped for reading (the admin)."""
    fen = round_fen(value)  # stored money has two places; anything finer rounds half up, not half-even
    return f"{fen:,.2f}" if grouped else f"{fen:.2f}"


def format_rate(value: Decimal) -> str:
    """A rate or share stored as a fraction, shown as a percentage without trailing zeros, as the
    admin shows it: 0.04350000 -> "4.35 %", 0.5 -> "50 %"."""
    return f"{(value * 100).normalize():f} %"
