"""appraise(): per-patent values, scorecard, risk grade, pledge rate and credit ceiling."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from django.utils.translation import gettext as _

from valuation.decimals import (
    ONE,
    ZERO,
    check_amount,
    check_finite,
    check_score,
    high_precision,
    require_date,
    require_decimal,
    require_optional_decimal,
    round_fen,
    round_score,
)
from valuation.errors import ValuationInputError
from valuation.methods import (
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
    PATENT_GROUPS,
    GroupScores,
    Scorecard,
    composite_score,
    get_scorecard,
    grade_for,
    group_score_from_sub_indicators,
)

RELIEF_FROM_ROYALTY = "relief_from_royalty"
MARKET = "market"
COST = "cost"
METHODS: tuple[str, ...] = (RELIEF_FROM_ROYALTY, MARKET, COST)
_INPUTS_FOR_METHOD: dict[str, type] = {
    RELIEF_FROM_ROYALTY: RoyaltyInputs,
    MARKET: MarketInputs,
    COST: CostInputs,
}
MAX_PATENTS = 50


@dataclass(frozen=True)
class PatentIndicators:
    """A patent's GB/T 42748-2023 group scores, 0-100; None when its sub-indicators give it."""

    legal: Decimal | None = None
    technical: Decimal | None = None
    economic: Decimal | None = None

    def __post_init__(self) -> None:
        for group in PATENT_GROUPS:
            require_optional_decimal(getattr(self, group), group)


@dataclass(frozen=True)
class PatentInput:
    """One patent of the application.

    patent: the caller's opaque key (the patent's id), unique within the request.
    method: "relief_from_royalty" | "market" | "cost", with the matching inputs dataclass.
    sub_indicators: optional {group: {sub-indicator: score}}; a group sent here must carry all
    of its sub-indicators, and then computes that group's score.
    """

    patent: int
    expiry_date: date
    method: str
    inputs: MethodInputs
    indicators: PatentIndicators
    sub_indicators: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.patent, bool) or not isinstance(self.patent, int):
            raise TypeError(f"patent: expected an int key, got {type(self.patent).__name__}")
        require_date(self.expiry_date, "expiry_date")
        if not isinstance(self.indicators, PatentIndicators):
            raise TypeError("indicators: expected PatentIndicators")
        for group, subs in self.sub_indicators.items():
            for name, score in subs.items():
                require_decimal(score, f"sub_indicators.{group}.{name}")


@dataclass(frozen=True)
class EnterpriseScores:
    """The SME's operating status and economic benefit scores, 0-100."""

    operating: Decimal
    economic_benefit: Decimal

    def __post_init__(self) -> None:
        require_decimal(self.operating, "operating")
        require_decimal(self.economic_benefit, "economic_benefit")


@dataclass(frozen=True)
class AppraisalRequest:
    """Everything appraise() needs; pledge_rates and loan_cap are the programme's.

    pledge_rates: grade -> pledge rate in [0, 1], or None for a grade that is not eligible,
    e.g. {"A": Decimal("0.50"), "B": Decimal("0.40"), "C": Decimal("0.30"), "D": None}.
    """

    valuation_date: date
    patents: tuple[PatentInput, ...]
    enterprise: EnterpriseScores
    pledge_rates: Mapping[str, Decimal | None]
    loan_cap: Decimal
    scorecard_version: str = CURRENT_SCORECARD_VERSION

    def __post_init__(self) -> None:
        require_date(self.valuation_date, "valuation_date")
        object.__setattr__(self, "patents", tuple(self.patents))
        for index, patent in enumerate(self.patents):
            if not isinstance(patent, PatentInput):
                raise TypeError(f"patents.{index}: expected PatentInput, got {type(patent).__name__}")
        if not isinstance(self.enterprise, EnterpriseScores):
            raise TypeError("enterprise: expected EnterpriseScores")
        for grade, rate in self.pledge_rates.items():
            require_optional_decimal(rate, f"pledge_rates.{grade}")
        require_decimal(self.loan_cap, "loan_cap")


@dataclass(frozen=True)
class PatentAppraisal:
    """One patent's result: its value (2 places) and its three group scores as used."""

    patent: int
    method: str
    value: Decimal
    legal: Decimal
    technical: Decimal
    economic: Decimal


@dataclass(frozen=True)
class AppraisalResult:
    """The appraisal of an application.

    appraised_value: sum of the rounded patent values.
    group_scores: the five scores the composite is computed from, exactly as shown: the patent
    groups are value-weighted means over the patents, rounded to 2 places.
    pledge_rate: None when the grade is not eligible; credit_ceiling is then 0.00.
    eligible: the grade has a positive pledge rate and the ceiling is above 0.00.
    """

    valuation_date: date
    patents: tuple[PatentAppraisal, ...]
    appraised_value: Decimal
    group_scores: GroupScores
    composite_score: Decimal
    risk_grade: str
    pledge_rate: Decimal | None
    credit_ceiling: Decimal
    eligible: bool
    scorecard_version: str

    @property
    def patent_values(self) -> Mapping[int, Decimal]:
        """patent key -> value, in request order."""
        return MappingProxyType({p.patent: p.value for p in self.patents})

    @property
    def methods(self) -> Mapping[int, str]:
        """patent key -> method used."""
        return MappingProxyType({p.patent: p.method for p in self.patents})


def credit_ceiling(appraised_value: Decimal, pledge_rate: Decimal | None, loan_cap: Decimal) -> Decimal:
    """min(round_half_up(appraised_value x pledge_rate, fen), loan_cap); 0.00 without a rate."""
    check_amount(require_decimal(appraised_value, "appraised_value"), "appraised_value")
    check_amount(require_decimal(loan_cap, "loan_cap"), "loan_cap")
    if pledge_rate is None:
        return round_fen(ZERO)
    _check_pledge_rate(require_decimal(pledge_rate, "pledge_rate"), "pledge_rate")
    return _ceiling(appraised_value, pledge_rate, loan_cap)


def _ceiling(appraised_value: Decimal, pledge_rate: Decimal | None, loan_cap: Decimal) -> Decimal:
    if pledge_rate is None:
        return round_fen(ZERO)
    with high_precision():
        pledged = appraised_value * pledge_rate
    return min(round_fen(pledged), round_fen(loan_cap))


def _check_pledge_rate(rate: Decimal, field_name: str) -> None:
    check_finite(rate, field_name)
    if not ZERO <= rate <= ONE:
        raise ValuationInputError(field_name, _("Enter a pledge rate from 0 to 1."))


def _check_pledge_rates(rates: Mapping[str, Decimal | None], scorecard: Scorecard) -> None:
    for grade in rates:
        if grade not in scorecard.grades:
            raise ValuationInputError(f"pledge_rates.{grade}", _("Unknown grade."))
    for grade in scorecard.grades:
        if grade not in rates:
            raise ValuationInputError(
                f"pledge_rates.{grade}", _("Give a pledge rate, or None if the grade is not eligible.")
            )
        rate = rates[grade]
        if rate is not None:
            _check_pledge_rate(rate, f"pledge_rates.{grade}")


def _value_patent(patent: PatentInput, valuation_date: date) -> Decimal:
    if patent.method not in METHODS:
        raise ValuationInputError("method", _("Choose one of %(choices)s.") % {"choices": ", ".join(METHODS)})
    if not isinstance(patent.inputs, _INPUTS_FOR_METHOD[patent.method]):
        raise ValuationInputError(
            "method",
            _("The inputs given are not those of the %(method)s method.") % {"method": patent.method},
        )
    dates = {"valuation_date": valuation_date, "expiry_date": patent.expiry_date}
    if isinstance(patent.inputs, RoyaltyInputs):
        return relief_from_royalty(patent.inputs, **dates)
    if isinstance(patent.inputs, MarketInputs):
        return market_value(patent.inputs, **dates)
    return cost_value(patent.inputs, **dates)


def _patent_group_scores(patent: PatentInput, version: str) -> dict[str, Decimal]:
    """The patent's three group scores: as sent, or computed from (and checked against) sub-indicators."""
    for group in patent.sub_indicators:
        if group not in PATENT_GROUPS:
            raise ValuationInputError(
                f"sub_indicators.{group}",
                _("Unknown indicator group; expected one of %(choices)s.")
                % {"choices": ", ".join(PATENT_GROUPS)},
            )
    scores: dict[str, Decimal] = {}
    for group in PATENT_GROUPS:
        sent = getattr(patent.indicators, group)
        if sent is not None:
            check_score(sent, f"indicators.{group}")
        if group in patent.sub_indicators:
            try:
                computed = group_score_from_sub_indicators(group, patent.sub_indicators[group], version)
            except ValuationInputError as error:
                raise error.under("sub_indicators") from None
            if sent is not None and sent != computed:
                raise ValuationInputError(
                    f"indicators.{group}",
                    _("Does not match its sub-indicators, which give %(computed)s.") % {"computed": computed},
                )
            scores[group] = computed
        elif sent is None:
            raise ValuationInputError(
                f"indicators.{group}", _("Enter a score from 0 to 100 or its sub-indicators.")
            )
        else:
            scores[group] = sent
    return scores


def _application_group_score(values: list[Decimal], scores: list[Decimal]) -> Decimal:
    """Value-weighted mean over the patents, 2 places; a simple mean when every value is 0."""
    with high_precision():
        total_value = sum(values, ZERO)
        if total_value == ZERO:
            mean = sum(scores, ZERO) / len(scores)
        else:
            mean = sum((v * s for v, s in zip(values, scores, strict=True)), ZERO) / total_value
    return round_score(mean)


def appraise(request: AppraisalRequest) -> AppraisalResult:
    """Value each patent, score the application, grade it and derive the credit ceiling.

    Pure: no I/O. Raises ValuationInputError (field rooted at the request) for bad input.
    """
    scorecard = get_scorecard(request.scorecard_version)
    version = scorecard.version
    if not request.patents:
        raise ValuationInputError("patents", _("Enter at least one patent."))
    if len(request.patents) > MAX_PATENTS:
        raise ValuationInputError(
            "patents", _("Enter at most %(MAX_PATENTS)s patents.") % {"MAX_PATENTS": MAX_PATENTS}
        )

    appraisals: list[PatentAppraisal] = []
    seen: set[int] = set()
    for index, patent in enumerate(request.patents):
        if patent.patent in seen:
            raise ValuationInputError(f"patents.{index}.patent", _("This patent is already in the request."))
        seen.add(patent.patent)
        try:
            value = _value_patent(patent, request.valuation_date)
            scores = _patent_group_scores(patent, version)
        except ValuationInputError as error:
            raise error.under(f"patents.{index}") from None
        appraisals.append(PatentAppraisal(patent=patent.patent, method=patent.method, value=value, **scores))

    check_score(request.enterprise.operating, "enterprise.operating")
    check_score(request.enterprise.economic_benefit, "enterprise.economic_benefit")
    _check_pledge_rates(request.pledge_rates, scorecard)
    check_amount(request.loan_cap, "loan_cap")

    values = [a.value for a in appraisals]
    with high_precision():
        appraised_value = sum(values, ZERO)
    group_scores = GroupScores(
        legal=_application_group_score(values, [a.legal for a in appraisals]),
        technical=_application_group_score(values, [a.technical for a in appraisals]),
        economic=_application_group_score(values, [a.economic for a in appraisals]),
        operating=request.enterprise.operating,
        economic_benefit=request.enterprise.economic_benefit,
    )
    composite = composite_score(group_scores, version)
    grade = grade_for(composite, version)
    pledge_rate = request.pledge_rates[grade]
    ceiling = _ceiling(appraised_value, pledge_rate, request.loan_cap)
    return AppraisalResult(
        valuation_date=request.valuation_date,
        patents=tuple(appraisals),
        appraised_value=appraised_value,
        group_scores=group_scores,
        composite_score=composite,
        risk_grade=grade,
        pledge_rate=pledge_rate,
        credit_ceiling=ceiling,
        eligible=ceiling > ZERO,
        scorecard_version=version,
    )
