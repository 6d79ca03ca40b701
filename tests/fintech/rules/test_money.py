"""money.py: rounding to the fen, parsing input, splitting by ratios (DOMAIN.md section 5)."""

from __future__ import annotations

from decimal import Decimal, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fintech.money import FEN, InvalidMoney, parse_money, round_fen, split_by_ratios

D = Decimal


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (D("0.005"), D("0.01")),  # half up, not to even (even would give 0.00)
        (D("0.015"), D("0.02")),
        (D("0.025"), D("0.03")),  # even would give 0.02
        (D("2.675"), D("2.68")),
        (D("1234.565"), D("1234.57")),
        (D("0.0049999"), D("0.00")),
        (D("1.004999"), D("1.00")),
        (D("0.0050001"), D("0.01")),
        (D("7"), D("7.00")),
        (D("0"), D("0.00")),
    ],
)
def test_round_fen_is_half_up(value: Decimal, expected: Decimal) -> None:
    rounded = round_fen(value)
    assert rounded == expected
    assert rounded.as_tuple().exponent == -2


@pytest.mark.parametrize("value", [0.005, 1.0, 1, "1.00"])
def test_round_fen_refuses_anything_but_decimal(value: object) -> None:
    with pytest.raises(TypeError):
        round_fen(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1000", D("1000.00")),
        ("1000.5", D("1000.50")),
        ("1000.50", D("1000.50")),
        ("0", D("0.00")),
        (1000, D("1000.00")),
        (D("1000"), D("1000.00")),
        (D("1000.5"), D("1000.50")),
    ],
)
def test_parse_money_accepts_plain_amounts(raw: object, expected: Decimal) -> None:
    parsed = parse_money(raw)
    assert parsed == expected
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "raw",
    ["1e3", "NaN", "Infinity", "-1", "1.234", "", True, None, " 1,000.00", D("NaN"), D("1E+3"), -1, [1]],
)
def test_parse_money_refuses_anything_else(raw: object) -> None:
    with pytest.raises(InvalidMoney):
        parse_money(raw)


def test_invalid_money_is_a_value_error() -> None:
    assert issubclass(InvalidMoney, ValueError)


def test_split_by_ratios_five_three_two() -> None:
    # 123,456,789 fen: x 0.5 = 61,728,394.5, x 0.3 = 37,037,036.7, x 0.2 = 24,691,357.8;
    # floors sum to 123,456,787; 2 leftover fen to the largest remainders .8 (bank), .7 (government)
    assert split_by_ratios(D("1234567.89"), [D("5"), D("3"), D("2")]) == [
        D("617283.94"),
        D("370370.37"),
        D("246913.58"),
    ]


def test_split_by_ratios_ties_go_in_the_order_given() -> None:
    one_one_one = [D("1"), D("1"), D("1")]
    assert split_by_ratios(D("0.01"), one_one_one) == [D("0.01"), D("0.00"), D("0.00")]
    assert split_by_ratios(D("0.02"), one_one_one) == [D("0.01"), D("0.01"), D("0.00")]
    assert split_by_ratios(D("0.03"), one_one_one) == [D("0.01"), D("0.01"), D("0.01")]
    # fractions work as ratios too: 0.5:0.3:0.2 of 1.00 = 0.50 / 0.30 / 0.20
    assert split_by_ratios(D("1.00"), [D("0.5"), D("0.3"), D("0.2")]) == [D("0.50"), D("0.30"), D("0.20")]


@pytest.mark.parametrize("ratios", [[], [D("0"), D("0")], [D("-1"), D("2")], [1, 1]])
def test_split_by_ratios_refuses_bad_ratios(ratios: list[Decimal]) -> None:
    with pytest.raises(ValueError):
        split_by_ratios(D("1.00"), ratios)


@given(
    amount=st.decimals(min_value=D("-1000000000.00"), max_value=D("1000000000.00"), places=2),
    ratios=st.lists(
        st.decimals(min_value=D("0"), max_value=D("100"), places=6), min_size=1, max_size=5
    ).filter(lambda rs: sum(rs) > 0),
)
def test_split_parts_sum_exactly_and_stay_within_a_fen_of_the_exact_share(
    amount: Decimal, ratios: list[Decimal]
) -> None:
    parts = split_by_ratios(amount, ratios)

    assert len(parts) == len(ratios)
    assert sum(parts, D("0")) == amount
    total = sum(ratios, D("0"))
    with localcontext() as ctx:
        ctx.prec = 60
        for part, ratio in zip(parts, ratios, strict=True):
            assert part.as_tuple().exponent == -2
            assert abs(part - amount * ratio / total) < FEN
