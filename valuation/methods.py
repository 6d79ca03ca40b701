"""The three valuation methods of DOMAIN.md section 6, one patent at a time.

Each takes its inputs dataclass plus the valuation and expiry dates, validates, computes at
PRECISION significant digits and rounds the patent's value ONCE to the fen, ROUND_HALF_UP.
Input problems raise ValuationInputError with the field relative to the inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from valuation.decimals import (
    ONE,
    ZERO,
    check_amount,
    check_finite,
    check_rate,
    clamp,
    high_precision,
    remaining_years,
    require_date,
    require_decimal,
    round_fen,
)
from valuation.errors import ValuationInputError

MAX_FORECAST_YEARS = 20  # an invention patent's full legal term
MAX_COMPARABLES = 20
# A factor is the subject's worth relative to the comparable on one count (1.10: 10 % better).
# Beyond a halving or doubling the transaction is no longer comparable.
MIN_ADJUSTMENT_FACTOR = Decimal("0.5")
MAX_ADJUSTMENT_FACTOR = Decimal("2")
# Economic life of a patent: at most the 20-year term plus up to 5 years of term compensation
# (Patent Law 2020, art. 42).
MAX_ECONOMIC_LIFE_YEARS = Decimal("25")


@dataclass(frozen=True)
class RoyaltyInputs:
    """Relief-from-royalty inputs: yearly revenue forecast (year 1 first) and three rates.

    revenue_forecast: revenue the patent supports in each forecast year, CNY, 1..20 years.
    royalty_rate: the royalty a licensee would pay, fraction of revenue, [0, 1).
    tax_rate: income tax on the saved royalty, [0, 1).
    discount_rate: yearly discount rate, > -1.
    """

    revenue_forecast: tuple[Decimal, ...]
    royalty_rate: Decimal
    tax_rate: Decimal
    discount_rate: Decimal

    def __post_init__(self) -> None:
        object.__setattr__(self, "revenue_forecast", tuple(self.revenue_forecast))
        for year, revenue in enumerate(self.revenue_forecast):
            require_decimal(revenue, f"revenue_forecast.{year}")
        require_decimal(self.royalty_rate, "royalty_rate")
        require_decimal(self.tax_rate, "tax_rate")
        require_decimal(self.discount_rate, "discount_rate")


@dataclass(frozen=True)
class Comparable:
    """One comparable patent transaction and the subject's adjustment factors against it.

    price: the transaction price, CNY.
    technology_factor: technical level of the subject relative to the comparable.
    time_factor: price-level change from the transaction date to the valuation date.
    remaining_term_factor: remaining legal term of the subject relative to the comparable.
    market_factor: market conditions (size, region, exclusivity of the licence) of the subject.
    Each factor is within [0.5, 2]; 1 means no adjustment.
    """

    price: Decimal
    technology_factor: Decimal
    time_factor: Decimal
    remaining_term_factor: Decimal
    market_factor: Decimal

    def __post_init__(self) -> None:
        for name in ("price", *_FACTORS):
            require_decimal(getattr(self, name), name)


_FACTORS = ("technology_factor", "time_factor", "remaining_term_factor", "market_factor")


@dataclass(frozen=True)
class MarketInputs:
    """Market approach: value = mean over the comparables of price x the four factors."""

    comparables: tuple[Comparable, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "comparables", tuple(self.comparables))
        for index, comparable in enumerate(self.comparables):
            if not isinstance(comparable, Comparable):
                raise TypeError(f"comparables.{index}: expected Comparable, got {type(comparable).__name__}")


@dataclass(frozen=True)
class CostInputs:
    """Cost approach: replacement cost less functional and economic obsolescence, times the
    share of the economic life that remains.

    replacement_cost: cost today of developing and registering an equivalent patent, CNY.
    functional_obsolescence_rate: loss from newer technology, [0, 1).
    economic_obsolescence_rate: loss from outside conditions (market, policy), [0, 1).
    economic_life_years: total economic life, (0, 25].
    remaining_economic_life_years: the appraiser's estimate, [0, economic_life_years]; it is
    capped by the remaining legal term.
    """

    replacement_cost: Decimal
    functional_obsolescence_rate: Decimal
    economic_obsolescence_rate: Decimal
    economic_life_years: Decimal
    remaining_economic_life_years: Decimal

    def __post_init__(self) -> None:
        for name in (
            "replacement_cost",
            "functional_obsolescence_rate",
            "economic_obsolescence_rate",
            "economic_life_years",
            "remaining_economic_life_years",
        ):
            require_decimal(getattr(self, name), name)


MethodInputs = RoyaltyInputs | MarketInputs | CostInputs


def _check_dates(valuation_date: date, expiry_date: date) -> None:
    require_date(valuation_date, "valuation_date")
    require_date(expiry_date, "expiry_date")


def _validate_royalty(inputs: RoyaltyInputs) -> None:
    forecast: Sequence[Decimal] = inputs.revenue_forecast
    if not forecast:
        raise ValuationInputError("revenue_forecast", _("Enter at least one forecast year."))
    if len(forecast) > MAX_FORECAST_YEARS:
        raise ValuationInputError(
            "revenue_forecast",
            _("Enter at most %(MAX_FORECAST_YEARS)s forecast years.")
            % {"MAX_FORECAST_YEARS": MAX_FORECAST_YEARS},
        )
    for year, revenue in enumerate(forecast):
        check_amount(revenue, f"revenue_forecast.{year}")
    check_rate(inputs.royalty_rate, "royalty_rate")
    check_rate(inputs.tax_rate, "tax_rate")
    check_finite(inputs.discount_rate, "discount_rate")
    if inputs.discount_rate <= -ONE:
        raise ValuationInputError("discount_rate", _("Enter a discount rate above -1."))


def relief_from_royalty(inputs: RoyaltyInputs, *, valuation_date: date, expiry_date: date) -> Decimal:
    """Sum over t of revenue_t x royalty x (1 - tax) x share_t / (1 + discount)^t, rounded once.

    share_t = clamp(remaining_years - (t - 1), 0, 1): years past the legal term count for
    nothing, a final partial year pro rata (remaining_years = days / 365).
    """
    _check_dates(valuation_date, expiry_date)
    _validate_royalty(inputs)
    years = remaining_years(valuation_date, expiry_date)
    with high_precision():
        after_tax_royalty = inputs.royalty_rate * (ONE - inputs.tax_rate)
        growth = ONE + inputs.discount_rate
        total = ZERO
        for t, revenue in enumerate(inputs.revenue_forecast, start=1):
            share = clamp(years - (t - 1), ZERO, ONE)
            if share == ZERO:
                break
            total += revenue * after_tax_royalty * share / growth**t
    return round_fen(total)


def _validate_market(inputs: MarketInputs) -> None:
    if not inputs.comparables:
        raise ValuationInputError("comparables", _("Enter at least one comparable transaction."))
    if len(inputs.comparables) > MAX_COMPARABLES:
        raise ValuationInputError(
            "comparables",
            _("Enter at most %(MAX_COMPARABLES)s comparable transactions.")
            % {"MAX_COMPARABLES": MAX_COMPARABLES},
        )
    for index, comparable in enumerate(inputs.comparables):
        check_amount(comparable.price, f"comparables.{index}.price")
        for name in _FACTORS:
            factor = check_finite(getattr(comparable, name), f"comparables.{index}.{name}")
            if not MIN_ADJUSTMENT_FACTOR <= factor <= MAX_ADJUSTMENT_FACTOR:
                raise ValuationInputError(
                    f"comparables.{index}.{name}", _("Enter an adjustment factor from 0.5 to 2.")
                )


def market_value(inputs: MarketInputs, *, valuation_date: date, expiry_date: date) -> Decimal:
    """Mean of the adjusted comparable prices, rounded once; 0.00 once the patent has expired."""
    _check_dates(valuation_date, expiry_date)
    _validate_market(inputs)
    if remaining_years(valuation_date, expiry_date) <= ZERO:
        return round_fen(ZERO)
    with high_precision():
        adjusted = [
            c.price * c.technology_factor * c.time_factor * c.remaining_term_factor * c.market_factor
            for c in inputs.comparables
        ]
        mean = sum(adjusted, ZERO) / len(adjusted)
    return round_fen(mean)


def _validate_cost(inputs: CostInputs) -> None:
    check_amount(inputs.replacement_cost, "replacement_cost")
    check_rate(inputs.functional_obsolescence_rate, "functional_obsolescence_rate")
    check_rate(inputs.economic_obsolescence_rate, "economic_obsolescence_rate")
    life = check_finite(inputs.economic_life_years, "economic_life_years")
    if not ZERO < life <= MAX_ECONOMIC_LIFE_YEARS:
        raise ValuationInputError(
            "economic_life_years", _("Enter an economic life above 0 and at most 25 years.")
        )
    remaining = check_finite(inputs.remaining_economic_life_years, "remaining_economic_life_years")
    if not ZERO <= remaining <= life:
        raise ValuationInputError(
            "remaining_economic_life_years", _("Enter a remaining life from 0 to the economic life.")
        )


def cost_value(inputs: CostInputs, *, valuation_date: date, expiry_date: date) -> Decimal:
    """replacement_cost x (1 - functional) x (1 - economic) x remaining / economic life, rounded once.

    The remaining life is the lesser of the appraiser's estimate and the remaining legal term:
    an expired patent is worth 0.00 whatever it cost.
    """
    _check_dates(valuation_date, expiry_date)
    _validate_cost(inputs)
    legal_years = remaining_years(valuation_date, expiry_date)
    with high_precision():
        remaining = clamp(
            min(inputs.remaining_economic_life_years, legal_years), ZERO, inputs.economic_life_years
        )
        value = (
            inputs.replacement_cost
            * (ONE - inputs.functional_obsolescence_rate)
            * (ONE - inputs.economic_obsolescence_rate)
            * remaining
            / inputs.economic_life_years
        )
    return round_fen(value)
