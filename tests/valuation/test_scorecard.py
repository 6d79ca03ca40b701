"""Versioned scorecards, composite scores and grade thresholds; figures worked out by hand."""

from decimal import Decimal

import pytest

from valuation import scorecard as scorecard_module
from valuation.public import (
    CURRENT_SCORECARD_VERSION,
    GROUPS,
    PATENT_GROUPS,
    SCORECARDS,
    GroupScores,
    Scorecard,
    ValuationInputError,
    composite_score,
    get_scorecard,
    grade_for,
    group_score_from_sub_indicators,
)

D = Decimal


def scores(legal="80", technical="70", economic="60", operating="90", economic_benefit="50"):
    return GroupScores(
        legal=D(legal),
        technical=D(technical),
        economic=D(economic),
        operating=D(operating),
        economic_benefit=D(economic_benefit),
    )


LEGAL_SUBS = {
    "stability": D("90"),
    "remaining_term": D("80"),
    "dependence": D("70"),
    "infringement_detectability": D("60"),
    "scope_of_protection": D("85"),
}


# --- versions ------------------------------------------------------------------------------


@pytest.mark.parametrize("version", sorted(SCORECARDS))
def test_every_version_has_weights_summing_to_one(version):
    card = SCORECARDS[version]

    assert card.version == version
    assert tuple(card.weights) == GROUPS
    assert sum(card.weights.values()) == D("1")
    assert tuple(card.sub_indicator_weights) == PATENT_GROUPS
    for weights in card.sub_indicator_weights.values():
        assert sum(weights.values()) == D("1")


def test_current_version_is_2025_1_with_the_documented_weights():
    card = get_scorecard(CURRENT_SCORECARD_VERSION)

    assert CURRENT_SCORECARD_VERSION == "2025.1"
    assert dict(card.weights) == {
        "legal": D("0.25"),
        "technical": D("0.20"),
        "economic": D("0.20"),
        "operating": D("0.20"),
        "economic_benefit": D("0.15"),
    }
    assert card.grade_thresholds == ((D("80"), "A"), (D("70"), "B"), (D("60"), "C"))
    assert card.grades == ("A", "B", "C", "D")


def test_a_version_cannot_be_altered_in_place():
    card = get_scorecard("2025.1")

    with pytest.raises(TypeError):
        card.weights["legal"] = D("0.5")  # type: ignore[index]
    with pytest.raises(TypeError):
        card.sub_indicator_weights["legal"]["stability"] = D("0.5")  # type: ignore[index]


def test_a_scorecard_whose_weights_do_not_sum_to_one_is_refused():
    card = get_scorecard("2025.1")
    weights = {**card.weights, "legal": D("0.26")}

    with pytest.raises(ValueError, match="sum to 1"):
        Scorecard("bad", weights, card.sub_indicator_weights, card.grade_thresholds, "D")


def test_a_scorecard_whose_sub_indicator_weights_do_not_sum_to_one_is_refused():
    card = get_scorecard("2025.1")
    subs = {**card.sub_indicator_weights, "technical": {"advancement": D("0.99")}}

    with pytest.raises(ValueError, match="technical"):
        Scorecard("bad", card.weights, subs, card.grade_thresholds, "D")


def test_a_new_version_leaves_results_of_the_old_one_unchanged(monkeypatch):
    # given a later version that weighs the legal group alone
    card = get_scorecard("2025.1")
    legal_only = {"legal": D("1"), "technical": D("0"), "economic": D("0"), "operating": D("0"),
                  "economic_benefit": D("0")}  # fmt: skip
    monkeypatch.setitem(
        SCORECARDS,
        "2099.1",
        Scorecard("2099.1", legal_only, card.sub_indicator_weights, card.grade_thresholds, "D"),
    )

    # when / then: 2025.1 still gives 71.50 (see the next test); 2099.1 gives legal = 80.00
    assert composite_score(scores(), "2025.1") == D("71.50")
    assert composite_score(scores(), "2099.1") == D("80.00")


def test_an_unknown_version_is_a_field_error():
    with pytest.raises(ValuationInputError) as caught:
        composite_score(scores(), "1999.9")

    assert caught.value.field == "scorecard_version"


# --- composite score and grade -------------------------------------------------------------


def test_composite_score_is_the_weighted_sum():
    # given legal 80, technical 70, economic 60, operating 90, economic benefit 50
    # when
    result = composite_score(scores())

    # then: 0.25x80 + 0.20x70 + 0.20x60 + 0.20x90 + 0.15x50 = 20 + 14 + 12 + 18 + 7.5 = 71.50
    assert result == D("71.50")
    assert str(result) == "71.50"


def test_composite_score_rounds_half_up_to_two_places():
    # given legal 0.02 and everything else 0: 0.25 x 0.02 = 0.005
    # when / then: half-up gives 0.01 (half-even would give 0.00)
    assert composite_score(scores("0.02", "0", "0", "0", "0")) == D("0.01")


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        ("100", "A"),
        ("80", "A"),
        ("80.00", "A"),
        ("79.99", "B"),
        ("70", "B"),
        ("69.99", "C"),
        ("60", "C"),
        ("59.99", "D"),
        ("0", "D"),
    ],
)
def test_grade_boundaries(score, grade):
    assert grade_for(D(score)) == grade


def test_all_groups_at_80_grade_a_exactly_at_the_boundary():
    # 0.25x80 + 0.20x80 + 0.20x80 + 0.20x80 + 0.15x80 = 80 x 1 = 80.00
    composite = composite_score(scores("80", "80", "80", "80", "80"))

    assert composite == D("80.00")
    assert grade_for(composite) == "A"


@pytest.mark.parametrize("score", ["100.01", "-0.01", "NaN", "79.995"])
def test_grade_for_rejects_a_score_out_of_range(score):
    with pytest.raises(ValuationInputError) as caught:
        grade_for(D(score))

    assert caught.value.field == "composite_score"


@pytest.mark.parametrize("group", GROUPS)
def test_composite_score_rejects_a_group_score_out_of_range(group):
    values = dict.fromkeys(GROUPS, D("50"))
    values[group] = D("101")

    with pytest.raises(ValuationInputError) as caught:
        composite_score(GroupScores(**values))

    assert caught.value.field == group


def test_float_scores_raise_type_error():
    with pytest.raises(TypeError, match="float"):
        grade_for(79.99)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="float"):
        GroupScores(D("80"), D("70"), 60.0, D("90"), D("50"))  # type: ignore[arg-type]


# --- sub-indicators ------------------------------------------------------------------------


def test_legal_score_from_sub_indicators():
    # 0.30x90 + 0.20x80 + 0.15x70 + 0.15x60 + 0.20x85 = 27 + 16 + 10.5 + 9 + 17 = 79.50
    assert group_score_from_sub_indicators("legal", LEGAL_SUBS) == D("79.50")


def test_technical_score_from_sub_indicators():
    subs = {
        "advancement": D("80"),
        "maturity": D("70"),
        "applicability": D("90"),
        "substitutability": D("60"),
    }

    # 0.30x80 + 0.25x70 + 0.25x90 + 0.20x60 = 24 + 17.5 + 22.5 + 12 = 76.00
    assert group_score_from_sub_indicators("technical", subs) == D("76.00")


def test_economic_score_from_sub_indicators_rounds_half_up():
    subs = {"market_size": D("0"), "market_share": D("0.02"), "competitiveness": D("0"), "policy_fit": D("0")}

    # 0.25 x 0.02 = 0.005 -> 0.01
    assert group_score_from_sub_indicators("economic", subs) == D("0.01")


@pytest.mark.parametrize(
    ("subs", "field"),
    [
        ({k: v for k, v in LEGAL_SUBS.items() if k != "dependence"}, "legal.dependence"),
        ({**LEGAL_SUBS, "novelty": D("50")}, "legal.novelty"),
        ({**LEGAL_SUBS, "stability": D("100.5")}, "legal.stability"),
        ({**LEGAL_SUBS, "scope_of_protection": D("-1")}, "legal.scope_of_protection"),
    ],
)
def test_sub_indicators_reject_missing_unknown_and_out_of_range(subs, field):
    with pytest.raises(ValuationInputError) as caught:
        group_score_from_sub_indicators("legal", subs)

    assert caught.value.field == field


def test_sub_indicators_of_an_unknown_group_are_refused():
    with pytest.raises(ValuationInputError) as caught:
        group_score_from_sub_indicators("operating", {"x": D("1")})

    assert caught.value.field == "operating"


def test_scorecard_module_re_exported_unchanged():
    assert scorecard_module.SCORECARDS is SCORECARDS
