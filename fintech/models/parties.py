"""Parties: regions, organisations (SMEs, banks, insurers, appraisers, regulators, the platform),
their users, and the financing programmes."""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import F, Q, Value
from django.db.models.lookups import GreaterThan, LessThan
from django.utils.translation import gettext_lazy as _

from fintech.rules.sme_size import INDUSTRY_CHOICES

from .base import MoneyField, RateField, TimeStamped


class Region(models.Model):
    """A GB/T 2260 division (the 17 Hubei divisions are loaded by a data migration)."""

    code = models.CharField(_("code"), max_length=6, primary_key=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)

    class Meta:
        ordering = ["code"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return f"{self.code} {self.name_zh} {self.name_en}"


class OrganizationKind(models.TextChoices):
    SME = "sme", _("SME")
    BANK = "bank", _("Bank")
    INSURER = "insurer", _("Insurer")
    APPRAISER = "appraiser", _("Appraisal firm")
    REGULATOR = "regulator", _("Regulator")
    PLATFORM = "platform", _("Platform")


class SizeClass(models.TextChoices):
    MEDIUM = "medium", _("Medium")
    SMALL = "small", _("Small")
    MICRO = "micro", _("Micro")


class Organization(TimeStamped):
    kind = models.CharField(_("kind"), max_length=16, choices=OrganizationKind.choices, db_index=True)
    name = models.CharField(_("name"), max_length=200)
    uscc = models.CharField(_("unified social credit code"), max_length=18, unique=True)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, verbose_name=_("region"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    is_active = models.BooleanField(_("active"), default=True)
    # SMEs only (DOMAIN.md section 4): the 2011 classification inputs and its result.
    industry = models.CharField(
        _("industry"), max_length=32, choices=INDUSTRY_CHOICES, blank=True, default=""
    )
    employees = models.PositiveIntegerField(_("employees"), null=True, blank=True)
    annual_revenue = MoneyField(_("operating revenue"), null=True, blank=True)
    total_assets = MoneyField(_("total assets"), null=True, blank=True)
    size_class = models.CharField(
        _("size class"), max_length=8, choices=SizeClass.choices, blank=True, default=""
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("organisation")
        verbose_name_plural = _("organisations")
        constraints = [
            models.CheckConstraint(
                name="org_sme_has_profile",
                condition=~Q(kind="sme")
                | (
                    ~Q(industry="")
                    & Q(employees__isnull=False)
                    & Q(annual_revenue__gte=0)
                    & Q(total_assets__gte=0)
                    & ~Q(size_class="")
                ),
            ),
            models.CheckConstraint(
                name="org_amounts_non_negative",
                condition=(Q(annual_revenue__isnull=True) | Q(annual_revenue__gte=0))
                & (Q(total_assets__isnull=True) | Q(total_assets__gte=0)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_kind_display()})"


class User(AbstractUser):
    """A person; each belongs to one organisation, whose kind is the person's role."""

    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="users",
        verbose_name=_("organisation"),
    )

    class Meta(AbstractUser.Meta):
        verbose_name = _("user")  # type: ignore[assignment]
        verbose_name_plural = _("users")  # type: ignore[assignment]

    @property
    def role(self) -> str:
        if self.organization_id is None:
            return OrganizationKind.PLATFORM if self.is_superuser else ""
        return self.organization.kind  # type: ignore[union-attr]

    @property
    def is_platform(self) -> bool:
        return self.role == OrganizationKind.PLATFORM


class SubsidyPeriodKind(models.TextChoices):
    MONTH = "month", _("Month")
    QUARTER = "quarter", _("Quarter")


class BenchmarkMode(models.TextChoices):
    DAILY = "daily", _("Rate in force on each day")
    FIXED_AT_DISBURSEMENT = "fixed_at_disbursement", _("Fixed at the disbursement date")


_SHARES_SUM = F("insurer_share") + F("government_share") + F("bank_share")


class Program(TimeStamped):
    """A financing programme and every parameter of DOMAIN.md, each with the Wuhan default.

    Values used by a loan, loss event or subsidy run are copied onto that record, so a later edit
    never changes a past result.
    """

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    regions = models.ManyToManyField(Region, verbose_name=_("regions served"), related_name="programs")
    is_active = models.BooleanField(_("taking applications"), default=True)
    # Risk pool (section 10)
    insurer_share = RateField(_("insurer share"), default=Decimal("0.50"))
    government_share = RateField(_("government share"), default=Decimal("0.30"))
    bank_share = RateField(_("bank share"), default=Decimal("0.20"))
    loss_threshold_amount = MoneyField(
        _("loss threshold"),
        null=True,
        blank=True,
        help_text=_("New applications stop above this total loss."),
    )
    # Subsidies (section 9)
    interest_subsidy_rate = RateField(_("interest subsidy rate"), default=Decimal("0.25"))
    premium_subsidy_rate = RateField(_("premium subsidy rate"), default=Decimal("0.40"))
    subsidy_period = models.CharField(
        _("subsidy period"),
        max_length=8,
        choices=SubsidyPeriodKind.choices,
        default=SubsidyPeriodKind.QUARTER,
    )
    benchmark_mode = models.CharField(
        _("benchmark"), max_length=24, choices=BenchmarkMode.choices, default=BenchmarkMode.DAILY
    )
    forfeit_after_late = models.BooleanField(
        _("forfeit later subsidies after a late installment"), default=False
    )
    annual_subsidy_cap = MoneyField(_("annual subsidy cap per SME"), default=Decimal("500000.00"))
    # Loans (sections 3, 7, 8)
    loan_cap = MoneyField(_("loan cap"), default=Decimal("5000000.00"))
    min_term_months = models.PositiveSmallIntegerField(_("minimum term (months)"), default=1)
    max_term_months = models.PositiveSmallIntegerField(_("maximum term (months)"), default=36)
    premium_rate_min = RateField(_("minimum premium rate"), default=Decimal("0.005"))
    premium_rate_max = RateField(_("maximum premium rate"), default=Decimal("0.03"))
    min_remaining_patent_months = models.PositiveSmallIntegerField(
        _("minimum remaining patent term (months)"), default=24
    )
    valuation_validity_months = models.PositiveSmallIntegerField(_("valuation validity (months)"), default=12)
    # Collateral watch (DOMAIN.md section 10a): haircuts by the pledged patent's state, coverage levels.
    haircut_in_force_rate = RateField(_("haircut, in force"), default=Decimal("0"))
    haircut_fee_in_grace_rate = RateField(_("haircut, fee in grace"), default=Decimal("0.20"))
    haircut_valuation_expired_rate = RateField(
        _("haircut, valuation past its validity"), default=Decimal("0.30")
    )
    haircut_dead_rate = RateField(_("haircut, lapsed, invalidated or expired"), default=Decimal("1"))
    coverage_warning_level = RateField(_("coverage warning level"), default=Decimal("1.5"))
    coverage_shortfall_level = RateField(_("coverage shortfall level"), default=Decimal("1.2"))
    fee_notice_days = models.PositiveSmallIntegerField(_("fee due notice (days)"), default=30)
    valuation_notice_days = models.PositiveSmallIntegerField(_("valuation expiry notice (days)"), default=60)
    pledge_rate_a = RateField(_("pledge rate, grade A"), default=Decimal("0.50"))
    pledge_rate_b = RateField(_("pledge rate, grade B"), default=Decimal("0.40"))
    pledge_rate_c = RateField(_("pledge rate, grade C"), default=Decimal("0.30"))
    grace_days = models.PositiveSmallIntegerField(_("grace days"), default=0)
    default_days_past_due = models.PositiveSmallIntegerField(_("days past due before default"), default=90)
    # Payoff, prepayment and extension (section 8a)
    prepayment_fee_rate = RateField(
        _("prepayment fee rate"),
        default=Decimal("0"),
        help_text=_("A fraction of the principal prepaid, charged on a prepayment or an early settlement."),
    )
    max_extension_months = models.PositiveSmallIntegerField(_("maximum extension (months)"), default=12)
    subsidise_extended_installments = models.BooleanField(
        _("interest subsidy on installments due after an extension"), default=False
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")
        constraints = [
            models.CheckConstraint(
                name="program_shares_sum_to_one",
                condition=Q(insurer_share__gte=0)
                & Q(government_share__gte=0)
                & Q(bank_share__gte=0)
                # With eight decimal places the only sum inside this open band is exactly 1; the
                # band (not "= 1") keeps SQLite's float arithmetic from refusing 0.5 + 0.3 + 0.2.
                & Q(GreaterThan(_SHARES_SUM, Value(Decimal("0.99999999"))))
                & Q(LessThan(_SHARES_SUM, Value(Decimal("1.00000001")))),
            ),
            models.CheckConstraint(
                name="program_premium_band",
                condition=Q(premium_rate_min__gte=0) & Q(premium_rate_min__lte=F("premium_rate_max")),
            ),
            models.CheckConstraint(
                name="program_term_range",
                condition=Q(min_term_months__gte=1) & Q(min_term_months__lte=F("max_term_months")),
            ),
            models.CheckConstraint(
                name="program_rates_are_fractions",
                condition=Q(interest_subsidy_rate__gte=0)
                & Q(interest_subsidy_rate__lte=1)
                & Q(premium_subsidy_rate__gte=0)
                & Q(premium_subsidy_rate__lte=1)
                & Q(pledge_rate_a__lte=1)
                & Q(pledge_rate_b__lte=1)
                & Q(pledge_rate_c__lte=1),
            ),
            models.CheckConstraint(name="program_loan_cap_positive", condition=Q(loan_cap__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    def pledge_rate_table(self) -> dict[str, Decimal | None]:
        return {"A": self.pledge_rate_a, "B": self.pledge_rate_b, "C": self.pledge_rate_c, "D": None}
