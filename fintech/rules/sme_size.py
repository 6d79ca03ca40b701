"""SME size classification (DOMAIN.md section 4) as dated data.

The 2011 rules (MIIT and others, document No. 300 of 2011, 《中小企业划型标准规定》, in force
from 2011-06-18) are one `SizeTable`; a later classification is added as another table with its
own effective date and `classify_enterprise(..., on=...)` picks the table in force on that day.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from fintech.money import round_fen


class SizeClass(StrEnum):
    LARGE = "large"  # above the SME ceiling: not eligible
    MEDIUM = "medium"
    SMALL = "small"
    MICRO = "micro"


class Measure(StrEnum):
    EMPLOYEES = "employees"  # 从业人员
    REVENUE = "revenue"  # 营业收入, CNY a year
    ASSETS = "assets"  # 资产总额, CNY


@dataclass(frozen=True)
class Limit:
    """One threshold: a head count for employees, CNY for revenue and assets."""

    measure: Measure
    value: Decimal


@dataclass(frozen=True)
class IndustryRule:
    """One industry's thresholds.

    The regulation's wording maps to: SME when ANY figure is below its ceiling ("X以下或Y以下");
    medium (then small) when EVERY figure is at or above its floor ("X及以上且Y及以上");
    micro otherwise.
    """

    code: str
    label_en: str
    label_zh: str
    sme_below_any: tuple[Limit, ...]
    medium_at_least: tuple[Limit, ...]
    small_at_least: tuple[Limit, ...]

    @property
    def label(self) -> str:
        return f"{self.label_en} ({self.label_zh})"

    def classify(self, figures: Mapping[Measure, Decimal]) -> SizeClass:
        if not any(figures[limit.measure] < limit.value for limit in self.sme_below_any):
            return SizeClass.LARGE
        if all(figures[limit.measure] >= limit.value for limit in self.medium_at_least):
            return SizeClass.MEDIUM
        if all(figures[limit.measure] >= limit.value for limit in self.small_at_least):
            return SizeClass.SMALL
        return SizeClass.MICRO


@dataclass(frozen=True)
class SizeTable:
    """A complete classification, in force from `effective_from` until the next table."""

    reference: str
    effective_from: date
    rules: tuple[IndustryRule, ...]

    def __post_init__(self) -> None:
        codes = [rule.code for rule in self.rules]
        if len(codes) != len(set(codes)):
            raise ValueError(f"{self.reference}: duplicate industry codes")

    @property
    def industry_codes(self) -> tuple[str, ...]:
        return tuple(rule.code for rule in self.rules)

    def rule(self, industry: str) -> IndustryRule:
        for rule in self.rules:
            if rule.code == industry:
                return rule
        raise ValueError(f"unknown industry {industry!r}; expected one of: {', '.join(self.industry_codes)}")


_WAN = Decimal(10_000)  # the regulation states money in 万元


def _employees(count: int) -> Limit:
    return Limit(Measure.EMPLOYEES, Decimal(count))


def _revenue(wan: int) -> Limit:
    return Limit(Measure.REVENUE, Decimal(wan) * _WAN)


def _assets(wan: int) -> Limit:
    return Limit(Measure.ASSETS, Decimal(wan) * _WAN)


def _staff_and_revenue(
    code: str,
    label_en: str,
    label_zh: str,
    ceiling: tuple[int, int],
    medium: tuple[int, int],
    small: tuple[int, int],
) -> IndustryRule:
    """The common shape: (employees, revenue in 万元) for the ceiling, medium and small floors."""
    return IndustryRule(
        code,
        label_en,
        label_zh,
        sme_below_any=(_employees(ceiling[0]), _revenue(ceiling[1])),
        medium_at_least=(_employees(medium[0]), _revenue(medium[1])),
        small_at_least=(_employees(small[0]), _revenue(small[1])),
    )


SME_2011 = SizeTable(
    # The official document number is written with tortoise-shell brackets.
    reference="工信部联企业〔2011〕300号",  # noqa: RUF001
    effective_from=date(2011, 6, 18),
    rules=(
        IndustryRule(
            "agriculture",
            "Agriculture, forestry, animal husbandry and fishery",
            "农、林、牧、渔业",
            sme_below_any=(_revenue(20_000),),
            medium_at_least=(_revenue(500),),
            small_at_least=(_revenue(50),),
        ),
        _staff_and_revenue("industry", "Industry", "工业", (1_000, 40_000), (300, 2_000), (20, 300)),
        IndustryRule(
            "construction",
            "Construction",
            "建筑业",
            sme_below_any=(_revenue(80_000), _assets(80_000)),
            medium_at_least=(_revenue(6_000), _assets(5_000)),
            small_at_least=(_revenue(300), _assets(300)),
        ),
        _staff_and_revenue("wholesale", "Wholesale", "批发业", (200, 40_000), (20, 5_000), (5, 1_000)),
        _staff_and_revenue("retail", "Retail", "零售业", (300, 20_000), (50, 500), (10, 100)),
        _staff_and_revenue(
            "transport",
            "Transport, excluding railways",
            "交通运输业",
            (1_000, 30_000),
            (300, 3_000),
            (20, 200),
        ),
        _staff_and_revenue("warehousing", "Warehousing", "仓储业", (200, 30_000), (100, 1_000), (20, 100)),
        _staff_and_revenue("postal", "Postal services", "邮政业", (1_000, 30_000), (300, 2_000), (20, 100)),
        _staff_and_revenue(
            "accommodation", "Accommodation", "住宿业", (300, 10_000), (100, 2_000), (10, 100)
        ),
        _staff_and_revenue("catering", "Catering", "餐饮业", (300, 10_000), (100, 2_000), (10, 100)),
        _staff_and_revenue(
            "information_transmission",
            "Information transmission",
            "信息传输业",
            (2_000, 100_000),
            (100, 1_000),
            (10, 100),
        ),
        _staff_and_revenue(
            "software_it",
            "Software and information technology services",
            "软件和信息技术服务业",
            (300, 10_000),
            (100, 1_000),
            (10, 50),
        ),
        IndustryRule(
            "real_estate",
            "Real estate development and operation",
            "房地产开发经营",
            sme_below_any=(_revenue(200_000), _assets(10_000)),
            medium_at_least=(_revenue(1_000), _assets(5_000)),
            small_at_least=(_revenue(100), _assets(2_000)),
        ),
        _staff_and_revenue(
            "property_management",
            "Property management",
            "物业管理",
            (1_000, 5_000),
            (300, 1_000),
            (100, 500),
        ),
        IndustryRule(
            "leasing_business",
            "Leasing and business services",
            "租赁和商务服务业",
            sme_below_any=(_employees(300), _assets(120_000)),
            medium_at_least=(_employees(100), _assets(8_000)),
            small_at_least=(_employees(10), _assets(100)),
        ),
        IndustryRule(
            "other",
            "Other industries not listed",
            "其他未列明行业",
            sme_below_any=(_employees(300),),
            medium_at_least=(_employees(100),),
            small_at_least=(_employees(10),),
        ),
    ),
)

# Oldest first; a new classification is appended with its own effective date.
SIZE_TABLES: tuple[SizeTable, ...] = (SME_2011,)

# API industry codes and labels, from the newest table.
INDUSTRY_CHOICES: list[tuple[str, str]] = [(rule.code, rule.label) for rule in SIZE_TABLES[-1].rules]


def size_table_on(on: date | None = None) -> SizeTable:
    """The table in force on `on` (today when None); ValueError before the first table."""
    day = date.today() if on is None else on
    in_force = [table for table in SIZE_TABLES if table.effective_from <= day]
    if not in_force:
        raise ValueError(
            f"no SME size classification is in force on {day.isoformat()}; the first applies from "
            f"{SIZE_TABLES[0].effective_from.isoformat()}"
        )
    return max(in_force, key=lambda table: table.effective_from)


def _count(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, not {type(value).__name__}")
    if value < 0:
        raise ValueError(f"{name} cannot be negative")
    return Decimal(value)


def _money(name: str, value: object) -> Decimal:
    # Money is Decimal end to end (STYLE.md rule 6): a float here is a bug upstream.
    if isinstance(value, bool) or not isinstance(value, Decimal | int):
        raise TypeError(f"{name} must be a Decimal, not {type(value).__name__}")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"{name} must be a finite amount")
    if amount < 0:
        raise ValueError(f"{name} cannot be negative")
    return amount


def _figures(employees: int, annual_revenue: Decimal, total_assets: Decimal) -> dict[Measure, Decimal]:
    return {
        Measure.EMPLOYEES: _count("employees", employees),
        Measure.REVENUE: _money("annual_revenue", annual_revenue),
        Measure.ASSETS: _money("total_assets", total_assets),
    }


def classify_enterprise(
    industry: str,
    employees: int,
    annual_revenue: Decimal,
    total_assets: Decimal,
    on: date | None = None,
) -> SizeClass:
    """Size class under the table in force on `on`; LARGE means not an SME.

    ValueError for an unknown industry, a negative figure, or a date before the first table.
    """
    figures = _figures(employees, annual_revenue, total_assets)
    return size_table_on(on).rule(industry).classify(figures)


def _cny(amount: Decimal) -> str:
    return f"{round_fen(amount):,} CNY"


def _ceiling_text(limit: Limit) -> str:
    if limit.measure is Measure.EMPLOYEES:
        return f"fewer than {int(limit.value):,} employees"
    if limit.measure is Measure.REVENUE:
        return f"revenue under {_cny(limit.value)}"
    return f"total assets under {_cny(limit.value)}"


def _figure_text(measure: Measure, value: Decimal) -> str:
    if measure is Measure.EMPLOYEES:
        return f"{int(value):,} employees"
    if measure is Measure.REVENUE:
        return f"revenue of {_cny(value)}"
    return f"total assets of {_cny(value)}"


def _join(parts: list[str], word: str) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} {word} {parts[-1]}"


def _rule_text(rule: IndustryRule) -> str:
    return f"{rule.code}: an SME has {_join([_ceiling_text(lim) for lim in rule.sme_below_any], 'or')}"


def sme_rule_text(industry: str, on: date | None = None) -> str:
    """The SME ceiling in words, e.g. 'software_it: an SME has fewer than 300 employees or ...'."""
    return _rule_text(size_table_on(on).rule(industry))


def sme_refusal_message(
    industry: str,
    employees: int,
    annual_revenue: Decimal,
    total_assets: Decimal,
    on: date | None = None,
) -> str:
    """Why an enterprise is not an SME: the ceiling and the figures at or above it.

    Meant as the message of the service layer's not-an-SME error; ValueError if it is an SME.
    """
    figures = _figures(employees, annual_revenue, total_assets)
    rule = size_table_on(on).rule(industry)
    if rule.classify(figures) is not SizeClass.LARGE:
        raise ValueError(f"the enterprise is an SME under {industry}; there is nothing to refuse")
    exceeded = [_figure_text(lim.measure, figures[lim.measure]) for lim in rule.sme_below_any]
    return (
        f"{_rule_text(rule)}; the applicant has {_join(exceeded, 'and')}, "
        "so it is not an SME (不属于中小微企业)."
    )
