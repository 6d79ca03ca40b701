import pytest

from fintech.rules.regions import HUBEI_REGION_CODES, HUBEI_REGIONS, REGION_CHOICES, region_name


def test_hubei_regions_are_the_17_divisions_in_gb_t_2260_order() -> None:
    assert [code for code, _, _ in HUBEI_REGIONS] == [
        "420100",
        "420200",
        "420300",
        "420500",
        "420600",
        "420700",
        "420800",
        "420900",
        "421000",
        "421100",
        "421200",
        "421300",
        "422800",
        "429004",
        "429005",
        "429006",
        "429021",
    ]
    assert len(HUBEI_REGION_CODES) == 17


def test_hubei_regions_names() -> None:
    assert HUBEI_REGIONS[0] == ("420100", "武汉市", "Wuhan")
    assert HUBEI_REGIONS[12] == ("422800", "恩施土家族苗族自治州", "Enshi")
    assert HUBEI_REGIONS[-1] == ("429021", "神农架林区", "Shennongjia")
    assert [name_en for _, _, name_en in HUBEI_REGIONS] == [
        "Wuhan",
        "Huangshi",
        "Shiyan",
        "Yichang",
        "Xiangyang",
        "Ezhou",
        "Jingmen",
        "Xiaogan",
        "Jingzhou",
        "Huanggang",
        "Xianning",
        "Suizhou",
        "Enshi",
        "Xiantao",
        "Qianjiang",
        "Tianmen",
        "Shennongjia",
    ]


def test_region_name() -> None:
    assert region_name("420100") == "Wuhan"
    assert region_name("420100", language="zh") == "武汉市"
    assert region_name("429005", language="zh") == "潜江市"
    assert region_name(" 421300 ") == "Suizhou"


@pytest.mark.parametrize("code", ["420400", "110000", "4201", "", "Wuhan"])
def test_region_name_refuses_codes_outside_hubei_list(code: str) -> None:
    with pytest.raises(ValueError, match="is not one of the 17 Hubei region codes"):
        region_name(code)


def test_region_name_refuses_unknown_language() -> None:
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        region_name("420100", language="fr")  # type: ignore[arg-type]


def test_region_choices() -> None:
    assert REGION_CHOICES[0] == ("420100", "Wuhan (武汉市)")
    assert len(REGION_CHOICES) == 17
