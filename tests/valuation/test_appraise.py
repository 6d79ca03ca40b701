"""appraise(): values, scorecard, grade, pledge rate and credit ceiling; figures worked by hand."""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from valuation.public import (
    CURRENT_SCORECARD_VERSION,
    AppraisalRequest,
    Comparable,
    CostInputs,
    EnterpriseScores,
    MarketInputs,
    PatentIndicators,
    PatentInput,
    RoyaltyInputs,
    ValuationInputError,
    appraise,
    credit_ceiling,
)

D = Decimal
VALUED_ON = date(2025, 1, 1)
FAR_EXPIRY = date(2040, 1, 1)
PROGRAMME_RATES = {"A": D("0.50"), "B": D("0.40"), "C": D("0.30"), "D": None}
CAP = D("5000000.00")

ROYALTY_3Y = RoyaltyInputs(
    revenue_forecast=(D("40000000"), D("44000000"), D("48000000")),
    royalty_rate=D("0.04"),
    tax_rate=D("0.25"),
    discount_rate=D("0.14"),
)  # worth 3,040,287.70 to 2040 (see test_methods)


def market_at(price):
    return MarketInputs(comparables=(Comparable(D(price), D("1"), D("1"), D("1"), D("1")),))


def indicators(legal="80", technical="70", economic="60"):
    return PatentIndicators(
        legal=None if legal is None else D(legal),
        technical=None if technical is None else D(technical),
        economic=None if economic is None else D(economic),
    )


def patent(key=1, method="relief_from_royalty", inputs=ROYALTY_3Y, scores=None, expiry=FAR_EXPIRY, subs=None):
    return PatentInput(
        patent=key,
        expiry_date=expiry,
        method=method,
        inputs=inputs,
        indicators=scores or indicators(),
        sub_indicators=subs or {},
    )


def request(patents=None, operating="90", economic_benefit="50", rates=None, cap=CAP, **kwargs):
    return AppraisalRequest(
        valuation_date=VALUED_ON,
        patents=(patent(),) if patents is None else tuple(patents),
        enterprise=EnterpriseScores(operating=D(operating), economic_benefit=D(economic_benefit)),
        pledge_rates=PROGRAMME_RATES if rates is None else rates,
        loan_cap=cap,
        **kwargs,
    )


LEGAL_SUBS = {
    "stability": D("90"),
    "remaining_term": D("80"),
    "dependence": D("70"),
    "infringement_detectability": D("60"),
    "scope_of_protection": D("85"),
}  # legal = 79.50 (see test_scorecard)


# --- the whole appraisal -------------------------------------------------------------------


def test_appraise_one_patent_by_relief_from_royalty():
    # given one patent worth 3,040,287.70, scores 80/70/60, operating 90, economic benefit 50
    # when
    result = appraise(request())

    # then: composite 0.25x80 + 0.20x70 + 0.20x60 + 0.20x90 + 0.15x50 = 71.50 -> B -> 40 %
    #       ceiling 3,040,287.70 x 0.40 = 1,216,115.08, under the 5,000,000.00 cap
    assert result.patent_values == {1: D("3040287.70")}
    assert result.methods == {1: "relief_from_royalty"}
    assert result.appraised_value == D("3040287.70")
    assert result.composite_score == D("71.50")
    assert result.risk_grade == "B"
    assert result.pledge_rate == D("0.40")
    assert result.credit_ceiling == D("1216115.08")
    assert result.eligible is True
    assert result.scorecard_version == CURRENT_SCORECARD_VERSION == "2025.1"
    assert result.valuation_date == VALUED_ON


def test_appraise_weights_patent_groups_by_value():
    # given a market patent worth 300,000.00 (90 / 70 / 60) and a cost patent worth 100,000.00
    # (200,000 x 1 x 1 x 5/10; scores 50 / 80 / 100), operating 80, economic benefit 60
    cheap = CostInputs(D("200000"), D("0"), D("0"), D("10"), D("5"))
    patents = (
        patent(1, "market", market_at("300000"), indicators("90", "70", "60")),
        patent(2, "cost", cheap, indicators("50", "80", "100")),
    )

    # when
    result = appraise(request(patents, operating="80", economic_benefit="60"))

    # then: legal     (90x300,000 + 50x100,000) / 400,000 = 32,000,000 / 400,000 = 80.00
    #       technical (70x300,000 + 80x100,000) / 400,000 = 29,000,000 / 400,000 = 72.50
    #       economic  (60x300,000 + 100x100,000) / 400,000 = 28,000,000 / 400,000 = 70.00
    #       composite 0.25x80 + 0.20x72.5 + 0.20x70 + 0.20x80 + 0.15x60
    #               = 20 + 14.5 + 14 + 16 + 9 = 73.50 -> B -> 400,000 x 0.40 = 160,000.00
    assert result.patent_values == {1: D("300000.00"), 2: D("100000.00")}
    assert result.methods == {1: "market", 2: "cost"}
    assert result.appraised_value == D("400000.00")
    assert (result.group_scores.legal, result.group_scores.technical, result.group_scores.economic) == (
        D("80.00"),
        D("72.50"),
        D("70.00"),
    )
    assert result.composite_score == D("73.50")
    assert result.risk_grade == "B"
    assert result.credit_ceiling == D("160000.00")


def test_appraise_uses_a_simple_mean_when_every_patent_is_worth_zero():
    # given two expired patents (both worth 0.00) scored 90 / 80 / 70 and 51 / 61 / 70
    patents = (
        patent(1, scores=indicators("90", "80", "70"), expiry=date(2024, 1, 1)),
        patent(2, scores=indicators("51", "61", "70"), expiry=date(2024, 1, 1)),
    )

    # when
    result = appraise(request(patents, operating="70", economic_benefit="70"))

    # then: legal (90 + 51) / 2 = 70.50, technical (80 + 61) / 2 = 70.50, economic 70
    #       composite 0.25x70.5 + 0.20x70.5 + 0.20x70 + 0.20x70 + 0.15x70
    #               = 17.625 + 14.1 + 14 + 14 + 10.5 = 70.225 -> 70.23 (half-up) -> B
    #       but 0.00 x 0.40 = 0.00: nothing to lend
    assert result.appraised_value == D("0.00")
    assert result.group_scores.legal == D("70.50")
    assert result.group_scores.technical == D("70.50")
    assert result.composite_score == D("70.23")
    assert result.risk_grade == "B"
    assert result.pledge_rate == D("0.40")
    assert result.credit_ceiling == D("0.00")
    assert result.eligible is False


def test_appraise_caps_the_ceiling_at_the_loan_cap():
    # given a patent worth 12,000,000.00 and every score 90 -> composite 90.00 -> A -> 50 %
    patents = (patent(7, "market", market_at("12000000"), indicators("90", "90", "90")),)

    # when
    result = appraise(request(patents, operating="90", economic_benefit="90"))

    # then: 12,000,000 x 0.50 = 6,000,000.00 > cap 5,000,000.00
    assert result.risk_grade == "A"
    assert result.credit_ceiling == D("5000000.00")
    assert result.eligible is True


def test_appraise_grade_d_is_not_eligible():
    # given every score 50 -> composite 50.00 -> D, which the programme does not finance
    patents = (patent(scores=indicators("50", "50", "50")),)

    # when
    result = appraise(request(patents, operating="50", economic_benefit="50"))

    # then
    assert result.composite_score == D("50.00")
    assert result.risk_grade == "D"
    assert result.pledge_rate is None
    assert result.credit_ceiling == D("0.00")
    assert result.eligible is False


def test_appraise_a_zero_rate_grade_is_not_eligible():
    rates = {**PROGRAMME_RATES, "B": D("0")}

    result = appraise(request(rates=rates))

    assert result.risk_grade == "B"
    assert result.credit_ceiling == D("0.00")
    assert result.eligible is False


def test_appraise_composite_exactly_80_is_grade_a():
    # given every score 80 -> 80.00 -> A -> 3,040,287.70 x 0.50 = 1,520,143.85
    patents = (patent(scores=indicators("80", "80", "80")),)

    result = appraise(request(patents, operating="80", economic_benefit="80"))

    assert result.composite_score == D("80.00")
    assert result.risk_grade == "A"
    assert result.credit_ceiling == D("1520143.85")


def test_appraise_records_the_scorecard_version_asked_for():
    assert appraise(request(scorecard_version="2025.1")).scorecard_version == "2025.1"


# --- sub-indicators ------------------------------------------------------------------------


def test_sub_indicators_back_the_group_score_sent_with_them():
    # given legal 79.5 sent with sub-indicators that give 79.50
    patents = (patent(scores=indicators("79.5", "70", "60"), subs={"legal": LEGAL_SUBS}),)

    # when
    result = appraise(request(patents))

    # then: composite 0.25x79.5 + 14 + 12 + 18 + 7.5 = 19.875 + 51.5 = 71.375 -> 71.38
    assert result.patents[0].legal == D("79.50")
    assert result.composite_score == D("71.38")


def test_sub_indicators_alone_give_the_group_score():
    patents = (patent(scores=indicators(None, "70", "60"), subs={"legal": LEGAL_SUBS}),)

    result = appraise(request(patents))

    assert result.patents[0].legal == D("79.50")


def test_sub_indicators_disagreeing_with_the_group_score_are_refused():
    # given legal 80 sent, but the sub-indicators give 79.50
    patents = (patent(scores=indicators("80", "70", "60"), subs={"legal": LEGAL_SUBS}),)

    with pytest.raises(ValuationInputError) as caught:
        appraise(request(patents))

    assert caught.value.field == "patents.0.indicators.legal"
    assert "79.50" in caught.value.message


# --- credit ceiling ------------------------------------------------------------------------


def test_credit_ceiling_rounds_half_up_to_the_fen():
    # 1,000,000.01 x 0.50 = 500,000.005 -> 500,000.01
    assert credit_ceiling(D("1000000.01"), D("0.50"), CAP) == D("500000.01")


def test_credit_ceiling_is_capped():
    assert credit_ceiling(D("12000000.00"), D("0.50"), CAP) == D("5000000.00")


def test_credit_ceiling_returns_the_cap_in_fen():
    assert str(credit_ceiling(D("12000000"), D("0.50"), D("5000000"))) == "5000000.00"


@pytest.mark.parametrize("rate", [None, D("0")])
def test_credit_ceiling_without_a_rate_is_zero(rate):
    assert str(credit_ceiling(D("3040287.70"), rate, CAP)) == "0.00"


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((D("-1"), D("0.5"), CAP), "appraised_value"),
        ((D("1"), D("1.01"), CAP), "pledge_rate"),
        ((D("1"), D("-0.1"), CAP), "pledge_rate"),
        ((D("1"), D("0.5"), D("-1")), "loan_cap"),
    ],
)
def test_credit_ceiling_rejects_invalid_input(args, field):
    with pytest.raises(ValuationInputError) as caught:
        credit_ceiling(*args)

    assert caught.value.field == field


# --- invalid input -------------------------------------------------------------------------

EMPTY_ROYALTY = replace(ROYALTY_3Y, revenue_forecast=())
WRONG_TAX = replace(ROYALTY_3Y, tax_rate=D("1"))


@pytest.mark.parametrize(
    ("req", "field"),
    [
        (lambda: request(patents=()), "patents"),
        (lambda: request([patent(k) for k in range(51)]), "patents"),
        (lambda: request([patent(1), patent(1)]), "patents.1.patent"),
        (lambda: request([patent(method="dcf")]), "patents.0.method"),
        (lambda: request([patent(method="market")]), "patents.0.method"),
        (lambda: request([patent(1), patent(2, inputs=EMPTY_ROYALTY)]), "patents.1.revenue_forecast"),
        (lambda: request([patent(inputs=WRONG_TAX)]), "patents.0.tax_rate"),
        (lambda: request([patent(method="market", inputs=market_at("-5"))]), "patents.0.comparables.0.price"),
        (lambda: request([patent(scores=indicators("100.01"))]), "patents.0.indicators.legal"),
        (lambda: request([patent(scores=indicators("-1"))]), "patents.0.indicators.legal"),
        (lambda: request([patent(scores=indicators("80", None))]), "patents.0.indicators.technical"),
        (lambda: request([patent(scores=indicators("80", "70", "60.001"))]), "patents.0.indicators.economic"),
        (
            lambda: request([patent(subs={"legal": {**LEGAL_SUBS, "stability": D("101")}})]),
            "patents.0.sub_indicators.legal.stability",
        ),
        (
            lambda: request([patent(subs={"legal": {"stability": D("90")}})]),
            "patents.0.sub_indicators.legal.remaining_term",
        ),
        (lambda: request([patent(subs={"brand": {"x": D("1")}})]), "patents.0.sub_indicators.brand"),
        (lambda: request(operating="101"), "enterprise.operating"),
        (lambda: request(economic_benefit="-1"), "enterprise.economic_benefit"),
        (lambda: request(rates={"A": D("0.5"), "B": D("0.4"), "C": D("0.3")}), "pledge_rates.D"),
        (lambda: request(rates={**PROGRAMME_RATES, "A": D("1.5")}), "pledge_rates.A"),
        (lambda: request(rates={**PROGRAMME_RATES, "E": None}), "pledge_rates.E"),
        (lambda: request(cap=D("-1")), "loan_cap"),
        (lambda: request(cap=D("5000000.001")), "loan_cap"),
        (lambda: request(scorecard_version="1999.9"), "scorecard_version"),
    ],
)
def test_appraise_rejects_invalid_input_with_the_field(req, field):
    with pytest.raises(ValuationInputError) as caught:
        appraise(req())

    assert caught.value.field == field
    assert caught.value.as_fields() == {field: [caught.value.message]}


@pytest.mark.parametrize(
    "build",
    [
        lambda: request(cap=5000000.0),
        lambda: request(rates={**PROGRAMME_RATES, "A": 0.5}),
        lambda: EnterpriseScores(operating=90.0, economic_benefit=D("50")),
        lambda: PatentIndicators(legal=80.0),
        lambda: patent(subs={"legal": {**LEGAL_SUBS, "stability": 90.0}}),
    ],
)
def test_appraise_float_input_raises_type_error(build):
    with pytest.raises(TypeError, match="float"):
        build()


def test_appraise_result_is_frozen():
    result = appraise(request())

    with pytest.raises(AttributeError):
        result.credit_ceiling = D("1")  # type: ignore[misc]


def test_apps_config():
    pytest.importorskip("django")
    from valuation.apps import ValuationConfig

    assert ValuationConfig.name == "valuation"
    assert ValuationConfig.verbose_name == "Valuation / 专利评估"


# --- properties ----------------------------------------------------------------------------

money = st.decimals(min_value=0, max_value=D("100000000"), places=2, allow_nan=False, allow_infinity=False)
rate = st.decimals(min_value=0, max_value=D("0.99"), places=4, allow_nan=False, allow_infinity=False)
score = st.decimals(min_value=0, max_value=100, places=2, allow_nan=False, allow_infinity=False)


@st.composite
def patent_inputs(draw, key):
    forecast = tuple(draw(st.lists(money, min_size=1, max_size=20)))
    inputs = RoyaltyInputs(forecast, draw(rate), draw(rate), draw(rate))
    expiry = VALUED_ON + timedelta(days=draw(st.integers(min_value=-400, max_value=8000)))
    scores = PatentIndicators(legal=draw(score), technical=draw(score), economic=draw(score))
    return PatentInput(
        patent=key, expiry_date=expiry, method="relief_from_royalty", inputs=inputs, indicators=scores
    )


@st.composite
def requests(draw):
    count = draw(st.integers(min_value=1, max_value=4))
    patents = tuple(draw(patent_inputs(key)) for key in range(1, count + 1))
    return AppraisalRequest(
        valuation_date=VALUED_ON,
        patents=patents,
        enterprise=EnterpriseScores(operating=draw(score), economic_benefit=draw(score)),
        pledge_rates=PROGRAMME_RATES,
        loan_cap=draw(money),
    )


@settings(max_examples=200, deadline=None)
@given(requests())
def test_appraised_value_is_the_sum_and_the_ceiling_never_exceeds_the_cap(req):
    result = appraise(req)

    assert result.appraised_value == sum(result.patent_values.values(), D("0"))
    assert all(value == value.quantize(D("0.01")) and value >= 0 for value in result.patent_values.values())
    assert D("0") <= result.credit_ceiling <= req.loan_cap
    assert result.credit_ceiling == result.credit_ceiling.quantize(D("0.01"))
    assert result.eligible == (result.credit_ceiling > 0)
    if result.pledge_rate is not None:
        assert result.credit_ceiling <= result.appraised_value * result.pledge_rate + D("0.005")
