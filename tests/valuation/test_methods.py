"""The three valuation methods, with every expected figure worked out by hand in a comment."""

from datetime import date
from decimal import Decimal

import pytest

from valuation.public import (
    Comparable,
    CostInputs,
    MarketInputs,
    RoyaltyInputs,
    ValuationInputError,
    cost_value,
    market_value,
    relief_from_royalty,
)

D = Decimal
VALUED_ON = date(2025, 1, 1)
FAR_EXPIRY = date(2040, 1, 1)  # 15 years away: no forecast here reaches it


def royalty(revenues, royalty_rate="0.04", tax_rate="0.25", discount_rate="0.14"):
    return RoyaltyInputs(
        revenue_forecast=tuple(D(r) for r in revenues),
        royalty_rate=D(royalty_rate),
        tax_rate=D(tax_rate),
        discount_rate=D(discount_rate),
    )


def comparable(price, technology="1", time="1", term="1", market="1"):
    return Comparable(
        price=D(price),
        technology_factor=D(technology),
        time_factor=D(time),
        remaining_term_factor=D(term),
        market_factor=D(market),
    )


def cost(replacement="1200000", functional="0.10", economic="0.05", life="10", remaining="6"):
    return CostInputs(
        replacement_cost=D(replacement),
        functional_obsolescence_rate=D(functional),
        economic_obsolescence_rate=D(economic),
        economic_life_years=D(life),
        remaining_economic_life_years=D(remaining),
    )


# --- relief from royalty -------------------------------------------------------------------


def test_relief_from_royalty_three_years_within_term():
    # given 40m / 44m / 48m of revenue, royalty 4 %, tax 25 %, discount 14 %, term to 2040
    inputs = royalty(["40000000", "44000000", "48000000"])

    # when
    value = relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    # then: after-tax royalty = revenue x 0.04 x 0.75 = revenue x 0.03
    #   y1 1,200,000 / 1.14      = 1,052,631.5789...
    #   y2 1,320,000 / 1.2996    = 1,015,697.1376...
    #   y3 1,440,000 / 1.481544  =   971,958.9833...
    #   sum                      = 3,040,287.6998... -> 3,040,287.70
    assert value == D("3040287.70")


def test_relief_from_royalty_counts_the_final_partial_year_pro_rata():
    # given a term of 584 days = 1.6 years (2025-01-01 .. 2026-08-08: 365 + 219 days)
    inputs = royalty(["10000000", "10000000", "10000000"], "0.05", "0.25", "0.25")

    # when
    value = relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=date(2026, 8, 8))

    # then: after-tax royalty = 10,000,000 x 0.05 x 0.75 = 375,000 a year
    #   y1 375,000 x 1   / 1.25   = 300,000
    #   y2 375,000 x 0.6 / 1.5625 = 144,000
    #   y3 beyond the term        =       0   -> 444,000.00
    assert value == D("444000.00")


def test_relief_from_royalty_stops_at_a_term_of_whole_years():
    # given a term of exactly 2 years (2025 and 2026 are 730 days) and a 3-year forecast
    inputs = royalty(["10000000", "10000000", "10000000"], "0.05", "0.25", "0.25")

    # when
    value = relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=date(2027, 1, 1))

    # then: 375,000 / 1.25 + 375,000 / 1.5625 = 300,000 + 240,000 = 540,000.00
    assert value == D("540000.00")


@pytest.mark.parametrize("expiry", [date(2024, 12, 31), date(2025, 1, 1)])
def test_relief_from_royalty_of_an_expired_patent_is_zero(expiry):
    # given a patent expiring before or on the valuation date
    inputs = royalty(["40000000", "44000000", "48000000"])

    # when
    value = relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=expiry)

    # then
    assert value == D("0.00")
    assert str(value) == "0.00"


def test_relief_from_royalty_rounds_half_up_to_the_fen():
    # given 1,000.09 x 0.5 x (1 - 0) / 1 = 500.045 exactly
    inputs = royalty(["1000.09"], "0.5", "0", "0")

    # when
    value = relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    # then: half-up gives 500.05 (half-even would give 500.04)
    assert value == D("500.05")


def test_relief_from_royalty_rounds_once_not_per_year():
    # given two years of 0.01 x 0.5 = 0.005 each, undiscounted
    inputs = royalty(["0.01", "0.01"], "0.5", "0", "0")

    # when
    value = relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    # then: 0.005 + 0.005 = 0.01; rounding each year first would give 0.02
    assert value == D("0.01")


# --- market approach -----------------------------------------------------------------------


def test_market_value_is_the_mean_of_adjusted_prices():
    # given two comparables
    inputs = MarketInputs(
        comparables=(
            comparable("2000000", technology="1.10", time="1.02", term="0.90", market="1.00"),
            comparable("1500000", technology="1.20", time="1.00", term="1.05", market="0.95"),
        )
    )

    # when
    value = market_value(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    # then: 2,000,000 x 1.10 x 1.02 x 0.90 x 1.00 = 2,019,600
    #       1,500,000 x 1.20 x 1.00 x 1.05 x 0.95 = 1,795,500
    #       mean (3,815,100 / 2)                  = 1,907,550.00
    assert value == D("1907550.00")


def test_market_value_rounds_the_mean_once_half_up():
    # given three comparables whose mean is 3,000,000.02 / 3 = 1,000,000.00666...
    inputs = MarketInputs(
        comparables=(comparable("1000000.00"), comparable("1000000.00"), comparable("1000000.02"))
    )

    # when
    value = market_value(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    # then
    assert value == D("1000000.01")


def test_market_value_half_a_fen_rounds_up():
    # given 0.01 x 0.5 = 0.005
    inputs = MarketInputs(comparables=(comparable("0.01", technology="0.5"),))

    # when / then
    assert market_value(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY) == D("0.01")


def test_market_value_of_an_expired_patent_is_zero():
    inputs = MarketInputs(comparables=(comparable("2000000"),))

    assert market_value(inputs, valuation_date=VALUED_ON, expiry_date=date(2024, 6, 30)) == D("0.00")


# --- cost approach -------------------------------------------------------------------------


def test_cost_value_less_obsolescence_and_used_life():
    # given replacement cost 1,200,000, functional 10 %, economic 5 %, 6 of 10 years left,
    # legal term 8 years (2025-01-01 .. 2033-01-01), longer than the economic life left
    inputs = cost()

    # when
    value = cost_value(inputs, valuation_date=VALUED_ON, expiry_date=date(2033, 1, 1))

    # then: 1,200,000 x 0.90 = 1,080,000; x 0.95 = 1,026,000; x 6/10 = 615,600.00
    assert value == D("615600.00")


def test_cost_value_remaining_life_is_capped_by_the_legal_term():
    # given the same inputs but a legal term of 1,095 days = 3.0 years (2025..2027, no leap day)
    inputs = cost()

    # when
    value = cost_value(inputs, valuation_date=VALUED_ON, expiry_date=date(2028, 1, 1))

    # then: 1,026,000 x 3/10 = 307,800.00
    assert value == D("307800.00")


def test_cost_value_rounds_half_up():
    # given 100.01 x 1 x 1 x 1/2 = 50.005
    inputs = cost("100.01", "0", "0", "2", "1")

    # when / then
    assert cost_value(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY) == D("50.01")


def test_cost_value_of_an_expired_patent_is_zero():
    assert cost_value(cost(), valuation_date=VALUED_ON, expiry_date=date(2020, 1, 1)) == D("0.00")


# --- invalid input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        (royalty([]), "revenue_forecast"),
        (royalty(["1000"] * 21), "revenue_forecast"),
        (royalty(["1000", "-1"]), "revenue_forecast.1"),
        (royalty(["1000.001"]), "revenue_forecast.0"),
        (royalty(["NaN"]), "revenue_forecast.0"),
        (royalty(["1E+16"]), "revenue_forecast.0"),
        (royalty(["1000"], royalty_rate="1"), "royalty_rate"),
        (royalty(["1000"], royalty_rate="-0.01"), "royalty_rate"),
        (royalty(["1000"], tax_rate="1"), "tax_rate"),
        (royalty(["1000"], tax_rate="-0.25"), "tax_rate"),
        (royalty(["1000"], discount_rate="-1"), "discount_rate"),
        (royalty(["1000"], discount_rate="Infinity"), "discount_rate"),
    ],
)
def test_relief_from_royalty_rejects_invalid_input(inputs, field):
    with pytest.raises(ValuationInputError) as caught:
        relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    assert caught.value.field == field
    assert isinstance(caught.value, ValueError)


def test_relief_from_royalty_accepts_the_limits():
    # given 20 forecast years, rates just under 1 and a discount rate just above -1
    inputs = royalty(["0"] * 20, "0.999999", "0.999999", "-0.999999")

    # when / then: 0 revenue is worth 0 whatever the rates
    assert relief_from_royalty(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY) == D("0.00")


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        (MarketInputs(comparables=()), "comparables"),
        (MarketInputs(comparables=(comparable("1000"),) * 21), "comparables"),
        (MarketInputs(comparables=(comparable("-1"),)), "comparables.0.price"),
        (MarketInputs(comparables=(comparable("1"), comparable("1", time="0"))), "comparables.1.time_factor"),
        (MarketInputs(comparables=(comparable("1", technology="2.01"),)), "comparables.0.technology_factor"),
        (MarketInputs(comparables=(comparable("1", term="0.49"),)), "comparables.0.remaining_term_factor"),
        (MarketInputs(comparables=(comparable("1", market="NaN"),)), "comparables.0.market_factor"),
    ],
)
def test_market_value_rejects_invalid_input(inputs, field):
    with pytest.raises(ValuationInputError) as caught:
        market_value(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    assert caught.value.field == field


@pytest.mark.parametrize(
    ("inputs", "field"),
    [
        (cost(replacement="-1"), "replacement_cost"),
        (cost(functional="1"), "functional_obsolescence_rate"),
        (cost(economic="-0.1"), "economic_obsolescence_rate"),
        (cost(life="0", remaining="0"), "economic_life_years"),
        (cost(life="26", remaining="6"), "economic_life_years"),
        (cost(life="10", remaining="10.5"), "remaining_economic_life_years"),
        (cost(remaining="-1"), "remaining_economic_life_years"),
    ],
)
def test_cost_value_rejects_invalid_input(inputs, field):
    with pytest.raises(ValuationInputError) as caught:
        cost_value(inputs, valuation_date=VALUED_ON, expiry_date=FAR_EXPIRY)

    assert caught.value.field == field


@pytest.mark.parametrize(
    "build",
    [
        lambda: RoyaltyInputs((40000000.0,), D("0.04"), D("0.25"), D("0.14")),
        lambda: RoyaltyInputs((D("40000000"),), 0.04, D("0.25"), D("0.14")),
        lambda: RoyaltyInputs((D("40000000"),), D("0.04"), D("0.25"), 0.14),
        lambda: Comparable(2000000.0, D("1"), D("1"), D("1"), D("1")),
        lambda: Comparable(D("2000000"), D("1"), 1.1, D("1"), D("1")),
        lambda: CostInputs(D("1200000"), 0.1, D("0.05"), D("10"), D("6")),
        lambda: CostInputs(D("1200000"), D("0.1"), D("0.05"), D("10"), 6.0),
    ],
)
def test_float_input_raises_type_error(build):
    with pytest.raises(TypeError, match="float"):
        build()


def test_non_decimal_numbers_raise_type_error():
    with pytest.raises(TypeError):
        RoyaltyInputs((40000000,), D("0.04"), D("0.25"), D("0.14"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        RoyaltyInputs((D("1"),), "0.04", D("0.25"), D("0.14"))  # type: ignore[arg-type]


def test_methods_refuse_datetimes_for_dates():
    from datetime import datetime

    with pytest.raises(TypeError):
        relief_from_royalty(royalty(["1"]), valuation_date=datetime(2025, 1, 1), expiry_date=FAR_EXPIRY)


def test_inputs_are_frozen():
    inputs = royalty(["1000"])

    with pytest.raises(AttributeError):
        inputs.royalty_rate = D("0.5")  # type: ignore[misc]
