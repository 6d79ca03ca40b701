"""The API's money and rate fields (API.md "Conventions")."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework import serializers

from fintech.api.fields import MoneyField, RateField, rate_text


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("1000000.00", Decimal("1000000.00")),
        ("0", Decimal("0.00")),
        ("12.3", Decimal("12.30")),
        (" 5.00 ", Decimal("5.00")),
        (1000, Decimal("1000.00")),
        # JSON numbers arrive as Decimal (config.api.DecimalJSONParser).
        (Decimal("12.5"), Decimal("12.50")),
        (Decimal("7.01"), Decimal("7.01")),
    ],
)
def test_money_field_accepts_plain_amounts(raw: Any, value: Decimal) -> None:
    # given a plain amount, when it is parsed, then it is a Decimal to the fen
    parsed = MoneyField().to_internal_value(raw)
    assert parsed == value
    assert parsed.as_tuple().exponent == -2


NOT_MONEY: list[Any] = [
    *["1e3", "1E3", "NaN", "nan", "Infinity", "-5", "-0.01", "1.234", "1,000", "", " ", "0x10", "1_000"],
    "\uff11\uff10\uff10",  # full-width digits
    *[Decimal("1E+3"), Decimal("NaN"), Decimal("-5"), Decimal("1.234"), -5, True, False, None, [], {}],
    # A float never touches money: only a parser that kept floats could hand one over.
    *[12.5, 0.1, 1e20, float("nan"), float("inf")],
]


@pytest.mark.parametrize("raw", NOT_MONEY)
def test_money_field_refuses_everything_else(raw: Any) -> None:
    # given input outside the convention, when it is parsed, then a validation error
    with pytest.raises(serializers.ValidationError):
        MoneyField().to_internal_value(raw)


@pytest.mark.parametrize(
    ("value", "text"),
    [(Decimal("1000000"), "1000000.00"), (Decimal("0.5"), "0.50"), (Decimal("12.345"), "12.35")],
)
def test_money_field_writes_two_places(value: Decimal, text: str) -> None:
    # given a stored amount, when it is written, then with two places
    assert MoneyField().to_representation(value) == text


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        ("0.0435", Decimal("0.0435")),
        ("0", Decimal("0")),
        ("0.99999999", Decimal("0.99999999")),
        (0.25, Decimal("0.25")),
        (0, Decimal("0")),
    ],
)
def test_rate_field_accepts_fractions(raw: Any, value: Decimal) -> None:
    # given a fraction in plain notation, when it is parsed, then the exact Decimal
    assert RateField().to_internal_value(raw) == value


NOT_A_RATE: list[Any] = [
    *["1", "1.0", "4.35", "-0.01", "-0", "-0.0", "1e-2", "NaN", "Infinity", "0.123456789", "", "abc"],
    *[1, 1e-05, True, None, [], {}],
]


@pytest.mark.parametrize("raw", NOT_A_RATE)
def test_rate_field_refuses_everything_else(raw: Any) -> None:
    # given input that is not a fraction from 0 to below 1 in plain notation, then a validation error
    with pytest.raises(serializers.ValidationError):
        RateField().to_internal_value(raw)


def test_rate_field_takes_a_larger_bound_when_asked() -> None:
    # given a field for a figure that may reach 100 (e.g. a score ratio)
    field = RateField(max_value=Decimal(100))

    # when 4.35 is parsed, then it is accepted; 100 is not
    assert field.to_internal_value("4.35") == Decimal("4.35")
    with pytest.raises(serializers.ValidationError):
        field.to_internal_value("100")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("0.50000000"), "0.50"),
        (Decimal("0.30000000"), "0.30"),
        (Decimal("0.00500000"), "0.005"),
        (Decimal("0.04350000"), "0.0435"),
        (Decimal("0E-8"), "0.00"),
        (Decimal("1.00000000"), "1.00"),
        (Decimal("0.12345678"), "0.12345678"),
    ],
)
def test_rates_are_written_without_trailing_zeros_but_with_two_places(value: Decimal, text: str) -> None:
    # given a stored rate (eight places), when it is written, then trailing zeros go, two places stay
    assert rate_text(value) == text
    assert RateField().to_representation(value) == text
