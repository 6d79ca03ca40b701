from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from fintech.rules import sme_size
from fintech.rules.sme_size import (
    INDUSTRY_CHOICES,
    SIZE_TABLES,
    SME_2011,
    SizeClass,
    classify_enterprise,
    size_table_on,
    sme_refusal_message,
    sme_rule_text,
)

LARGE, MEDIUM, SMALL, MICRO = SizeClass.LARGE, SizeClass.MEDIUM, SizeClass.SMALL, SizeClass.MICRO

ALL_INDUSTRIES = [
    "agriculture",
    "industry",
    "construction",
    "wholesale",
    "retail",
    "transport",
    "warehousing",
    "postal",
    "accommodation",
    "catering",
    "information_transmission",
    "software_it",
    "real_estate",
    "property_management",
    "leasing_business",
    "other",
]

# (industry, employees, revenue CNY, total assets CNY, expected), worked from the 2011 rule text.
# For each industry: exactly at the SME ceiling (large) and one unit (1 employee / 0.01 CNY)
# below each ceiling; exactly at the medium floors and one below each; the same for small.
BOUNDARY_CASES = [
    # agriculture: SME revenue < 20000万; medium >= 500万; small >= 50万.
    ("agriculture", 0, "200000000.00", "0", LARGE),
    ("agriculture", 0, "199999999.99", "0", MEDIUM),
    ("agriculture", 0, "5000000.00", "0", MEDIUM),
    ("agriculture", 0, "4999999.99", "0", SMALL),
    ("agriculture", 0, "500000.00", "0", SMALL),
    ("agriculture", 0, "499999.99", "0", MICRO),
    ("agriculture", 100000, "499999.99", "999999999.00", MICRO),  # staff and assets play no part
    # industry: < 1000 or < 40000万; medium 300 and 2000万; small 20 and 300万.
    ("industry", 1000, "400000000.00", "0", LARGE),
    ("industry", 999, "400000000.00", "0", MEDIUM),
    ("industry", 1000, "399999999.99", "0", MEDIUM),
    ("industry", 300, "20000000.00", "0", MEDIUM),
    ("industry", 299, "20000000.00", "0", SMALL),
    ("industry", 300, "19999999.99", "0", SMALL),
    ("industry", 20, "3000000.00", "0", SMALL),
    ("industry", 19, "3000000.00", "0", MICRO),
    ("industry", 20, "2999999.99", "0", MICRO),
    # construction: revenue < 80000万 or assets < 80000万; medium 6000万 and 5000万;
    # small 300万 and 300万.
    ("construction", 0, "800000000.00", "800000000.00", LARGE),
    ("construction", 0, "799999999.99", "800000000.00", MEDIUM),
    ("construction", 0, "800000000.00", "799999999.99", MEDIUM),
    ("construction", 0, "60000000.00", "50000000.00", MEDIUM),
    ("construction", 0, "59999999.99", "50000000.00", SMALL),
    ("construction", 0, "60000000.00", "49999999.99", SMALL),
    ("construction", 0, "3000000.00", "3000000.00", SMALL),
    ("construction", 0, "2999999.99", "3000000.00", MICRO),
    ("construction", 0, "3000000.00", "2999999.99", MICRO),
    # wholesale: < 200 or < 40000万; medium 20 and 5000万; small 5 and 1000万.
    ("wholesale", 200, "400000000.00", "0", LARGE),
    ("wholesale", 199, "400000000.00", "0", MEDIUM),
    ("wholesale", 200, "399999999.99", "0", MEDIUM),
    ("wholesale", 20, "50000000.00", "0", MEDIUM),
    ("wholesale", 19, "50000000.00", "0", SMALL),
    ("wholesale", 20, "49999999.99", "0", SMALL),
    ("wholesale", 5, "10000000.00", "0", SMALL),
    ("wholesale", 4, "10000000.00", "0", MICRO),
    ("wholesale", 5, "9999999.99", "0", MICRO),
    # retail: < 300 or < 20000万; medium 50 and 500万; small 10 and 100万.
    ("retail", 300, "200000000.00", "0", LARGE),
    ("retail", 299, "200000000.00", "0", MEDIUM),
    ("retail", 300, "199999999.99", "0", MEDIUM),
    ("retail", 50, "5000000.00", "0", MEDIUM),
    ("retail", 49, "5000000.00", "0", SMALL),
    ("retail", 50, "4999999.99", "0", SMALL),
    ("retail", 10, "1000000.00", "0", SMALL),
    ("retail", 9, "1000000.00", "0", MICRO),
    ("retail", 10, "999999.99", "0", MICRO),
    # transport: < 1000 or < 30000万; medium 300 and 3000万; small 20 and 200万.
    ("transport", 1000, "300000000.00", "0", LARGE),
    ("transport", 999, "300000000.00", "0", MEDIUM),
    ("transport", 1000, "299999999.99", "0", MEDIUM),
    ("transport", 300, "30000000.00", "0", MEDIUM),
    ("transport", 299, "30000000.00", "0", SMALL),
    ("transport", 300, "29999999.99", "0", SMALL),
    ("transport", 20, "2000000.00", "0", SMALL),
    ("transport", 19, "2000000.00", "0", MICRO),
    ("transport", 20, "1999999.99", "0", MICRO),
    # warehousing: < 200 or < 30000万; medium 100 and 1000万; small 20 and 100万.
    ("warehousing", 200, "300000000.00", "0", LARGE),
    ("warehousing", 199, "300000000.00", "0", MEDIUM),
    ("warehousing", 200, "299999999.99", "0", MEDIUM),
    ("warehousing", 100, "10000000.00", "0", MEDIUM),
    ("warehousing", 99, "10000000.00", "0", SMALL),
    ("warehousing", 100, "9999999.99", "0", SMALL),
    ("warehousing", 20, "1000000.00", "0", SMALL),
    ("warehousing", 19, "1000000.00", "0", MICRO),
    ("warehousing", 20, "999999.99", "0", MICRO),
    # postal: < 1000 or < 30000万; medium 300 and 2000万; small 20 and 100万.
    ("postal", 1000, "300000000.00", "0", LARGE),
    ("postal", 999, "300000000.00", "0", MEDIUM),
    ("postal", 1000, "299999999.99", "0", MEDIUM),
    ("postal", 300, "20000000.00", "0", MEDIUM),
    ("postal", 299, "20000000.00", "0", SMALL),
    ("postal", 300, "19999999.99", "0", SMALL),
    ("postal", 20, "1000000.00", "0", SMALL),
    ("postal", 19, "1000000.00", "0", MICRO),
    ("postal", 20, "999999.99", "0", MICRO),
    # accommodation: < 300 or < 10000万; medium 100 and 2000万; small 10 and 100万.
    ("accommodation", 300, "100000000.00", "0", LARGE),
    ("accommodation", 299, "100000000.00", "0", MEDIUM),
    ("accommodation", 300, "99999999.99", "0", MEDIUM),
    ("accommodation", 100, "20000000.00", "0", MEDIUM),
    ("accommodation", 99, "20000000.00", "0", SMALL),
    ("accommodation", 100, "19999999.99", "0", SMALL),
    ("accommodation", 10, "1000000.00", "0", SMALL),
    ("accommodation", 9, "1000000.00", "0", MICRO),
    ("accommodation", 10, "999999.99", "0", MICRO),
    # catering: the same thresholds as accommodation.
    ("catering", 300, "100000000.00", "0", LARGE),
    ("catering", 299, "100000000.00", "0", MEDIUM),
    ("catering", 300, "99999999.99", "0", MEDIUM),
    ("catering", 100, "20000000.00", "0", MEDIUM),
    ("catering", 99, "20000000.00", "0", SMALL),
    ("catering", 100, "19999999.99", "0", SMALL),
    ("catering", 10, "1000000.00", "0", SMALL),
    ("catering", 9, "1000000.00", "0", MICRO),
    ("catering", 10, "999999.99", "0", MICRO),
    # information_transmission: < 2000 or < 100000万; medium 100 and 1000万; small 10 and 100万.
    ("information_transmission", 2000, "1000000000.00", "0", LARGE),
    ("information_transmission", 1999, "1000000000.00", "0", MEDIUM),
    ("information_transmission", 2000, "999999999.99", "0", MEDIUM),
    ("information_transmission", 100, "10000000.00", "0", MEDIUM),
    ("information_transmission", 99, "10000000.00", "0", SMALL),
    ("information_transmission", 100, "9999999.99", "0", SMALL),
    ("information_transmission", 10, "1000000.00", "0", SMALL),
    ("information_transmission", 9, "1000000.00", "0", MICRO),
    ("information_transmission", 10, "999999.99", "0", MICRO),
    # software_it: < 300 or < 10000万; medium 100 and 1000万; small 10 and 50万.
    ("software_it", 300, "100000000.00", "0", LARGE),
    ("software_it", 299, "100000000.00", "0", MEDIUM),
    ("software_it", 300, "99999999.99", "0", MEDIUM),
    ("software_it", 100, "10000000.00", "0", MEDIUM),
    ("software_it", 99, "10000000.00", "0", SMALL),
    ("software_it", 100, "9999999.99", "0", SMALL),
    ("software_it", 10, "500000.00", "0", SMALL),
    ("software_it", 9, "500000.00", "0", MICRO),
    ("software_it", 10, "499999.99", "0", MICRO),
    # real_estate: revenue < 200000万 or assets < 10000万; medium 1000万 and 5000万;
    # small 100万 and 2000万.
    ("real_estate", 0, "2000000000.00", "100000000.00", LARGE),
    ("real_estate", 0, "1999999999.99", "100000000.00", MEDIUM),
    ("real_estate", 0, "2000000000.00", "99999999.99", MEDIUM),
    ("real_estate", 0, "10000000.00", "50000000.00", MEDIUM),
    ("real_estate", 0, "9999999.99", "50000000.00", SMALL),
    ("real_estate", 0, "10000000.00", "49999999.99", SMALL),
    ("real_estate", 0, "1000000.00", "20000000.00", SMALL),
    ("real_estate", 0, "999999.99", "20000000.00", MICRO),
    ("real_estate", 0, "1000000.00", "19999999.99", MICRO),
    # property_management: < 1000 or < 5000万; medium 300 and 1000万; small 100 and 500万.
    ("property_management", 1000, "50000000.00", "0", LARGE),
    ("property_management", 999, "50000000.00", "0", MEDIUM),
    ("property_management", 1000, "49999999.99", "0", MEDIUM),
    ("property_management", 300, "10000000.00", "0", MEDIUM),
    ("property_management", 299, "10000000.00", "0", SMALL),
    ("property_management", 300, "9999999.99", "0", SMALL),
    ("property_management", 100, "5000000.00", "0", SMALL),
    ("property_management", 99, "5000000.00", "0", MICRO),
    ("property_management", 100, "4999999.99", "0", MICRO),
    # leasing_business: employees < 300 or assets < 120000万; medium 100 and assets 8000万;
    # small 10 and assets 100万. Revenue plays no part.
    ("leasing_business", 300, "0", "1200000000.00", LARGE),
    ("leasing_business", 299, "0", "1200000000.00", MEDIUM),
    ("leasing_business", 300, "0", "1199999999.99", MEDIUM),
    ("leasing_business", 100, "0", "80000000.00", MEDIUM),
    ("leasing_business", 99, "0", "80000000.00", SMALL),
    ("leasing_business", 100, "0", "79999999.99", SMALL),
    ("leasing_business", 10, "0", "1000000.00", SMALL),
    ("leasing_business", 9, "0", "1000000.00", MICRO),
    ("leasing_business", 10, "0", "999999.99", MICRO),
    # other: employees < 300; medium 100; small 10. Money plays no part.
    ("other", 300, "0", "0", LARGE),
    ("other", 299, "0", "0", MEDIUM),
    ("other", 100, "0", "0", MEDIUM),
    ("other", 99, "0", "0", SMALL),
    ("other", 10, "0", "0", SMALL),
    ("other", 9, "9999999999.00", "9999999999.00", MICRO),
    ("other", 0, "0", "0", MICRO),
]


@pytest.mark.parametrize(("industry", "employees", "revenue", "assets", "expected"), BOUNDARY_CASES)
def test_classify_enterprise_boundaries(
    industry: str, employees: int, revenue: str, assets: str, expected: SizeClass
) -> None:
    assert classify_enterprise(industry, employees, Decimal(revenue), Decimal(assets)) is expected


def test_boundary_cases_cover_every_industry_with_a_large_case() -> None:
    assert sorted({case[0] for case in BOUNDARY_CASES if case[4] is LARGE}) == sorted(ALL_INDUSTRIES)


# Well above every ceiling: not an SME in any industry.
@pytest.mark.parametrize("industry", ALL_INDUSTRIES)
def test_classify_enterprise_large_in_every_industry(industry: str) -> None:
    assert classify_enterprise(industry, 5000, Decimal("5000000000.00"), Decimal("5000000000.00")) is LARGE


def test_walk_through_software_it_80_staff_30m_revenue_is_small() -> None:
    # 80 < 300 -> SME; 80 < 100 -> not medium; 80 >= 10 and 30,000,000 >= 500,000 -> small.
    size = classify_enterprise("software_it", 80, Decimal("30000000.00"), Decimal("20000000.00"))
    assert size is SMALL
    assert size == "small"


def test_either_ceiling_makes_an_sme() -> None:
    # industry: 5,000 staff but revenue 1,000,000 < 400,000,000 -> SME; 1,000,000 < 3,000,000 -> micro.
    assert classify_enterprise("industry", 5000, Decimal("1000000.00"), Decimal("0")) is MICRO
    # software_it: revenue 5,000,000,000 but 50 staff < 300 -> SME; 50 < 100 -> small.
    assert classify_enterprise("software_it", 50, Decimal("5000000000.00"), Decimal("0")) is SMALL


def test_size_class_values() -> None:
    assert [c.value for c in SizeClass] == ["large", "medium", "small", "micro"]


def test_classify_enterprise_on_the_effective_date_and_by_default() -> None:
    figures = ("software_it", 80, Decimal("30000000.00"), Decimal("20000000.00"))
    assert classify_enterprise(*figures, on=date(2011, 6, 18)) is SMALL
    assert classify_enterprise(*figures, on=date(2025, 1, 1)) is SMALL
    assert classify_enterprise(*figures) is SMALL


def test_classify_enterprise_refuses_a_date_before_the_table() -> None:
    with pytest.raises(ValueError, match="no SME size classification is in force on 2011-06-17"):
        classify_enterprise("software_it", 80, Decimal("30000000.00"), Decimal("0"), on=date(2011, 6, 17))


def test_classify_enterprise_refuses_unknown_industry() -> None:
    with pytest.raises(ValueError, match="unknown industry 'mining'"):
        classify_enterprise("mining", 80, Decimal("30000000.00"), Decimal("0"))


@pytest.mark.parametrize(
    ("employees", "revenue", "assets", "message"),
    [
        (-1, Decimal("0"), Decimal("0"), "employees cannot be negative"),
        (0, Decimal("-0.01"), Decimal("0"), "annual_revenue cannot be negative"),
        (0, Decimal("0"), Decimal("-0.01"), "total_assets cannot be negative"),
        (0, Decimal("NaN"), Decimal("0"), "annual_revenue must be a finite amount"),
        (0, Decimal("0"), Decimal("Infinity"), "total_assets must be a finite amount"),
    ],
)
def test_classify_enterprise_refuses_negative_or_non_finite_figures(
    employees: int, revenue: Decimal, assets: Decimal, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        classify_enterprise("industry", employees, revenue, assets)


@pytest.mark.parametrize(
    ("employees", "revenue", "assets", "message"),
    [
        (80, 30000000.0, Decimal("0"), "annual_revenue must be a Decimal, not float"),
        (80, Decimal("0"), 1.5, "total_assets must be a Decimal, not float"),
        (80.0, Decimal("0"), Decimal("0"), "employees must be an int, not float"),
        (True, Decimal("0"), Decimal("0"), "employees must be an int, not bool"),
    ],
)
def test_classify_enterprise_refuses_floats_and_bools(
    employees: object, revenue: object, assets: object, message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        classify_enterprise("industry", employees, revenue, assets)  # type: ignore[arg-type]


def test_the_2011_table() -> None:
    assert SME_2011.effective_from == date(2011, 6, 18)
    assert SME_2011.reference == "工信部联企业〔2011〕300号"  # noqa: RUF001
    assert list(SME_2011.industry_codes) == ALL_INDUSTRIES
    assert SIZE_TABLES == (SME_2011,)
    assert size_table_on(date(2011, 6, 18)) is SME_2011


def test_industry_choices() -> None:
    assert [code for code, _ in INDUSTRY_CHOICES] == ALL_INDUSTRIES
    assert (
        dict(INDUSTRY_CHOICES)["software_it"]
        == "Software and information technology services (软件和信息技术服务业)"
    )
    assert dict(INDUSTRY_CHOICES)["industry"] == "Industry (工业)"


def test_a_later_table_is_picked_by_date(monkeypatch: pytest.MonkeyPatch) -> None:
    # A hypothetical revision from 2030-01-01 in which "other" needs fewer than 200 employees.
    other_2030 = replace(
        SME_2011.rule("other"), sme_below_any=(sme_size.Limit(sme_size.Measure.EMPLOYEES, Decimal(200)),)
    )
    table_2030 = sme_size.SizeTable(
        reference="hypothetical 2030 revision",
        effective_from=date(2030, 1, 1),
        rules=tuple(other_2030 if rule.code == "other" else rule for rule in SME_2011.rules),
    )
    monkeypatch.setattr(sme_size, "SIZE_TABLES", (SME_2011, table_2030))

    assert classify_enterprise("other", 250, Decimal("0"), Decimal("0"), on=date(2029, 12, 31)) is MEDIUM
    assert classify_enterprise("other", 250, Decimal("0"), Decimal("0"), on=date(2030, 1, 1)) is LARGE
    assert size_table_on(date(2030, 1, 1)) is table_2030


def test_a_table_refuses_duplicate_industry_codes() -> None:
    with pytest.raises(ValueError, match="duplicate industry codes"):
        sme_size.SizeTable("dup", date(2030, 1, 1), (SME_2011.rule("other"), SME_2011.rule("other")))


# --- messages -----------------------------------------------------------------------------------------


def test_sme_rule_text() -> None:
    assert sme_rule_text("software_it") == (
        "software_it: an SME has fewer than 300 employees or revenue under 100,000,000.00 CNY"
    )
    assert sme_rule_text("industry") == (
        "industry: an SME has fewer than 1,000 employees or revenue under 400,000,000.00 CNY"
    )
    assert sme_rule_text("leasing_business") == (
        "leasing_business: an SME has fewer than 300 employees or total assets under 1,200,000,000.00 CNY"
    )
    assert sme_rule_text("agriculture") == "agriculture: an SME has revenue under 200,000,000.00 CNY"
    assert sme_rule_text("other") == "other: an SME has fewer than 300 employees"


def test_sme_refusal_message_software_it() -> None:
    message = sme_refusal_message("software_it", 300, Decimal("100000000.00"), Decimal("20000000.00"))
    assert message == (
        "software_it: an SME has fewer than 300 employees or revenue under 100,000,000.00 CNY; "
        "the applicant has 300 employees and revenue of 100,000,000.00 CNY, so it is not an SME "
        "(不属于中小微企业)."
    )


def test_sme_refusal_message_construction_uses_revenue_and_assets() -> None:
    message = sme_refusal_message("construction", 10, Decimal("900000000.50"), Decimal("800000000"))
    assert message == (
        "construction: an SME has revenue under 800,000,000.00 CNY or total assets under "
        "800,000,000.00 CNY; the applicant has revenue of 900,000,000.50 CNY and total assets of "
        "800,000,000.00 CNY, so it is not an SME (不属于中小微企业)."
    )


def test_sme_refusal_message_rounds_figures_half_up_to_the_fen() -> None:
    message = sme_refusal_message("agriculture", 0, Decimal("250000000.005"), Decimal("0"))
    assert message == (
        "agriculture: an SME has revenue under 200,000,000.00 CNY; the applicant has revenue of "
        "250,000,000.01 CNY, so it is not an SME (不属于中小微企业)."
    )


def test_sme_refusal_message_other() -> None:
    assert sme_refusal_message("other", 1500, Decimal("0"), Decimal("0")) == (
        "other: an SME has fewer than 300 employees; the applicant has 1,500 employees, "
        "so it is not an SME (不属于中小微企业)."
    )


def test_sme_refusal_message_refuses_an_sme() -> None:
    with pytest.raises(ValueError, match="the enterprise is an SME under software_it"):
        sme_refusal_message("software_it", 299, Decimal("100000000.00"), Decimal("0"))


def test_sme_refusal_message_refuses_unknown_industry() -> None:
    with pytest.raises(ValueError, match="unknown industry 'mining'"):
        sme_refusal_message("mining", 5000, Decimal("0"), Decimal("0"))
