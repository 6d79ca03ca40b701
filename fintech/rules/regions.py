"""The 17 prefecture-level divisions of Hubei (GB/T 2260), DOMAIN.md section 2.

A programme lists the regions it serves; regulators read reports by region.
"""

from __future__ import annotations

from typing import Literal, NamedTuple


class Region(NamedTuple):
    code: str
    name_zh: str
    name_en: str


# GB/T 2260 order. 4290xx are the province-administered county-level cities and forestry
# district, which rank as prefectures for this programme.
HUBEI_REGIONS: tuple[Region, ...] = (
    Region("420100", "武汉市", "Wuhan"),
    Region("420200", "黄石市", "Huangshi"),
    Region("420300", "十堰市", "Shiyan"),
    Region("420500", "宜昌市", "Yichang"),
    Region("420600", "襄阳市", "Xiangyang"),
    Region("420700", "鄂州市", "Ezhou"),
    Region("420800", "荆门市", "Jingmen"),
    Region("420900", "孝感市", "Xiaogan"),
    Region("421000", "荆州市", "Jingzhou"),
    Region("421100", "黄冈市", "Huanggang"),
    Region("421200", "咸宁市", "Xianning"),
    Region("421300", "随州市", "Suizhou"),
    Region("422800", "恩施土家族苗族自治州", "Enshi"),
    Region("429004", "仙桃市", "Xiantao"),
    Region("429005", "潜江市", "Qianjiang"),
    Region("429006", "天门市", "Tianmen"),
    Region("429021", "神农架林区", "Shennongjia"),
)

_BY_CODE: dict[str, Region] = {region.code: region for region in HUBEI_REGIONS}

HUBEI_REGION_CODES: frozenset[str] = frozenset(_BY_CODE)

# (code, label) pairs for model / serializer choices, e.g. ("420100", "Wuhan (武汉市)").
REGION_CHOICES: list[tuple[str, str]] = [(r.code, f"{r.name_en} ({r.name_zh})") for r in HUBEI_REGIONS]


def region_name(code: str, language: Literal["en", "zh"] = "en") -> str:
    """Name of a Hubei division by its GB/T 2260 code; ValueError for a code outside the list."""
    region = _BY_CODE.get(code.strip())
    if region is None:
        raise ValueError(f"{code!r} is not one of the 17 Hubei region codes")
    if language == "zh":
        return region.name_zh
    if language == "en":
        return region.name_en
    raise ValueError(f"unknown language {language!r}; use 'en' or 'zh'")
