"""Versioned scorecards: group weights, GB/T 42748-2023 sub-indicator weights, grade thresholds.

A version is never edited once results have been recorded with it: add a new entry to
SCORECARDS and move CURRENT_SCORECARD_VERSION. Every score is 0-100; composite scores and
scores computed from sub-indicators are rounded to 2 places, ROUND_HALF_UP.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from django.utils.translation import gettext as _

from valuation.decimals import ONE, ZERO, check_score, high_precision, require_decimal, round_score
from valuation.errors import ValuationInputError

# The three first-level groups of GB/T 42748-2023, scored per patent ...
PATENT_GROUPS: tuple[str, ...] = ("legal", "technical", "economic")
# ... and the two enterprise groups, scored once per application.
ENTERPRISE_GROUPS: tuple[str, ...] = ("operating", "economic_benefit")
GROUPS: tuple[str, ...] = PATENT_GROUPS + ENTERPRISE_GROUPS


@dataclass(frozen=True)
class Scorecard:
    """One immutable version of the scorecard.

    weights: group -> weight, over GROUPS, summing to 1.
    sub_indicator_weights: patent group -> {sub-indicator -> weight}, each summing to 1.
    grade_thresholds: (minimum composite score, grade), highest first; below all of them the
    score gets lowest_grade.
    """

    version: str
    weights: Mapping[str, Decimal]
    sub_indicator_weights: Mapping[str, Mapping[str, Decimal]]
    grade_thresholds: tuple[tuple[Decimal, str], ...]
    lowest_grade: str

    def __post_init__(self) -> None:
        # Read-only views: a recorded version must not drift.
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))
        object.__setattr__(
            self,
            "sub_indicator_weights",
            MappingProxyType({g: MappingProxyType(dict(w)) for g, w in self.sub_indicator_weights.items()}),
        )
        # Checked when the module loads, so a mistyped version can never score anything.
        if tuple(self.weights) != GROUPS:
            raise ValueError(f"scorecard {self.version}: weights must cover {GROUPS} in that order")
        if sum(self.weights.values(), ZERO) != ONE:
            raise ValueError(f"scorecard {self.version}: group weights must sum to 1")
        if tuple(self.sub_indicator_weights) != PATENT_GROUPS:
            raise ValueError(f"scorecard {self.version}: sub-indicators must cover {PATENT_GROUPS}")
        for group, weights in self.sub_indicator_weights.items():
            if sum(weights.values(), ZERO) != ONE:
                raise ValueError(f"scorecard {self.version}: {group} sub-indicator weights must sum to 1")
        minimums = [minimum for minimum, _ in self.grade_thresholds]
        if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
            raise ValueError(f"scorecard {self.version}: grade thresholds must be strictly descending")

    @property
    def grades(self) -> tuple[str, ...]:
        """Every grade this version can give, best first."""
        return (*(grade for _, grade in self.grade_thresholds), self.lowest_grade)


def _d(text: str) -> Decimal:
    return Decimal(text)


SCORECARDS: dict[str, Scorecard] = {
    "2025.1": Scorecard(
        version="2025.1",
        # Legal value first: a pledge is worth only as much as the right is stable and
        # enforceable; the enterprise's ability to repay (operating) weighs as much as the
        # patent's technical and economic value. See valuation/README.md.
        weights={
            "legal": _d("0.25"),
            "technical": _d("0.20"),
            "economic": _d("0.20"),
            "operating": _d("0.20"),
            "economic_benefit": _d("0.15"),
        },
        # GB/T 42748-2023 second-level indicators.
        sub_indicator_weights={
            "legal": {
                "stability": _d("0.30"),
                "remaining_term": _d("0.20"),
                "dependence": _d("0.15"),
                "infringement_detectability": _d("0.15"),
                "scope_of_protection": _d("0.20"),
            },
            "technical": {
                "advancement": _d("0.30"),
                "maturity": _d("0.25"),
                "applicability": _d("0.25"),
                "substitutability": _d("0.20"),
            },
            "economic": {
                "market_size": _d("0.30"),
                "market_share": _d("0.25"),
                "competitiveness": _d("0.25"),
                "policy_fit": _d("0.20"),
            },
        },
        grade_thresholds=((_d("80"), "A"), (_d("70"), "B"), (_d("60"), "C")),
        lowest_grade="D",
    ),
}

CURRENT_SCORECARD_VERSION = "2025.1"


@dataclass(frozen=True)
class GroupScores:
    """The five group scores, each 0-100."""

    legal: Decimal
    technical: Decimal
    economic: Decimal
    operating: Decimal
    economic_benefit: Decimal

    def __post_init__(self) -> None:
        for group in GROUPS:
            require_decimal(getattr(self, group), group)


def get_scorecard(version: str) -> Scorecard:
    try:
        return SCORECARDS[version]
    except (KeyError, TypeError):
        raise ValuationInputError(
            "scorecard_version",
            _("Unknown scorecard version; known: %(choices)s.") % {"choices": ", ".join(SCORECARDS)},
        ) from None


def group_score_from_sub_indicators(
    group: str, sub_indicators: Mapping[str, Decimal], version: str = CURRENT_SCORECARD_VERSION
) -> Decimal:
    """Weighted mean of a patent group's sub-indicators, 2 places; all of them must be sent.

    Errors name the field relative to ``sub_indicators`` (``legal.stability``).
    """
    scorecard = get_scorecard(version)
    if group not in scorecard.sub_indicator_weights:
        raise ValuationInputError(
            group,
            _("Unknown indicator group; expected one of %(choices)s.")
            % {"choices": ", ".join(PATENT_GROUPS)},
        )
    weights = scorecard.sub_indicator_weights[group]
    for name in sub_indicators:
        if name not in weights:
            raise ValuationInputError(f"{group}.{name}", _("Unknown sub-indicator."))
    for name in weights:
        if name not in sub_indicators:
            raise ValuationInputError(f"{group}.{name}", _("This sub-indicator is required."))
        check_score(require_decimal(sub_indicators[name], f"{group}.{name}"), f"{group}.{name}")
    with high_precision():
        total = sum((weights[name] * sub_indicators[name] for name in weights), ZERO)
    return round_score(total)


def composite_score(scores: GroupScores, version: str = CURRENT_SCORECARD_VERSION) -> Decimal:
    """Sum of weight x group score, rounded to 2 places, ROUND_HALF_UP."""
    scorecard = get_scorecard(version)
    for group in GROUPS:
        check_score(require_decimal(getattr(scores, group), group), group)
    with high_precision():
        total = sum((scorecard.weights[group] * getattr(scores, group) for group in GROUPS), ZERO)
    return round_score(total)


def grade_for(score: Decimal, version: str = CURRENT_SCORECARD_VERSION) -> str:
    """The grade of a composite score: the first threshold it reaches (A >= 80, B >= 70, ...)."""
    scorecard = get_scorecard(version)
    check_score(require_decimal(score, "composite_score"), "composite_score")
    for minimum, grade in scorecard.grade_thresholds:
        if score >= minimum:
            return grade
    return scorecard.lowest_grade
