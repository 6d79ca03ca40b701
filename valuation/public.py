"""The interface of the valuation app: the only module the rest of the project imports.

Plain, pure functions over frozen dataclasses; every amount, rate and score is a Decimal (a
float raises TypeError). Bad input raises ValuationInputError(field, message), a ValueError
whose ``field`` is a dotted path (``patents.0.revenue_forecast``) for a 400 field error.

    appraise(request: AppraisalRequest) -> AppraisalResult
        Value every patent with its method, score the application on the scorecard version,
        grade it, look the grade up in the programme's pledge-rate table and derive the
        credit ceiling. appraised_value is the sum of the patent values, each rounded once
        to the fen, ROUND_HALF_UP.

    relief_from_royalty(inputs: RoyaltyInputs, *, valuation_date, expiry_date) -> Decimal
    market_value(inputs: MarketInputs, *, valuation_date, expiry_date) -> Decimal
    cost_value(inputs: CostInputs, *, valuation_date, expiry_date) -> Decimal
        One patent's value by one method, rounded once to the fen.

    composite_score(scores: GroupScores, version=CURRENT_SCORECARD_VERSION) -> Decimal
    grade_for(score: Decimal, version=CURRENT_SCORECARD_VERSION) -> str
    group_score_from_sub_indicators(group, sub_indicators, version=...) -> Decimal
    credit_ceiling(appraised_value, pledge_rate | None, loan_cap) -> Decimal

Scorecard versions live in SCORECARDS; CURRENT_SCORECARD_VERSION is the one used by default
and AppraisalResult.scorecard_version records the one that was used.
"""

from valuation.appraisal import (
    COST,
    MARKET,
    MAX_PATENTS,
    METHODS,
    RELIEF_FROM_ROYALTY,
    AppraisalRequest,
    AppraisalResult,
    EnterpriseScores,
    PatentAppraisal,
    PatentIndicators,
    PatentInput,
    appraise,
    credit_ceiling,
)
from valuation.errors import ValuationInputError
from valuation.methods import (
    MAX_FORECAST_YEARS,
    Comparable,
    CostInputs,
    MarketInputs,
    MethodInputs,
    RoyaltyInputs,
    cost_value,
    market_value,
    relief_from_royalty,
)
from valuation.scorecard import (
    CURRENT_SCORECARD_VERSION,
    ENTERPRISE_GROUPS,
    GROUPS,
    PATENT_GROUPS,
    SCORECARDS,
    GroupScores,
    Scorecard,
    composite_score,
    get_scorecard,
    grade_for,
    group_score_from_sub_indicators,
)

__all__ = [
    "COST",
    "CURRENT_SCORECARD_VERSION",
    "ENTERPRISE_GROUPS",
    "GROUPS",
    "MARKET",
    "MAX_FORECAST_YEARS",
    "MAX_PATENTS",
    "METHODS",
    "PATENT_GROUPS",
    "RELIEF_FROM_ROYALTY",
    "SCORECARDS",
    "AppraisalRequest",
    "AppraisalResult",
    "Comparable",
    "CostInputs",
    "EnterpriseScores",
    "GroupScores",
    "MarketInputs",
    "MethodInputs",
    "PatentAppraisal",
    "PatentIndicators",
    "PatentInput",
    "RoyaltyInputs",
    "Scorecard",
    "ValuationInputError",
    "appraise",
    "composite_score",
    "cost_value",
    "credit_ceiling",
    "get_scorecard",
    "grade_for",
    "group_score_from_sub_indicators",
    "market_value",
    "relief_from_royalty",
]
