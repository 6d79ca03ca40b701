"""Financing applications and the valuation, policy and premium records they gather on the way
to a loan (DOMAIN.md sections 1, 6, 7)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from fintech.rules.schedules import RepaymentMethod as _RM

from .base import MoneyField, RateField, TimeStamped
from .parties import Organization, Program
from .patents import Patent


class RepaymentMethod(models.TextChoices):
    INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY = (
        _RM.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY.value,
        _("Interest monthly, principal at maturity"),
    )
    EQUAL_PRINCIPAL = _RM.EQUAL_PRINCIPAL.value, _("Equal principal")
    EQUAL_INSTALLMENT = _RM.EQUAL_INSTALLMENT.value, _("Equal installment")


class ApplicationStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    VALUATION = "valuation", _("Valuation")
    UNDERWRITING = "underwriting", _("Underwriting")
    BANK_REVIEW = "bank_review", _("Bank review")
    APPROVED = "approved", _("Approved")
    ACTIVE = "active", _("Active (disbursed)")
    SETTLED = "settled", _("Settled")
    DEFAULTED = "defaulted", _("Defaulted")
    DECLINED = "declined", _("Declined")
    WITHDRAWN = "withdrawn", _("Withdrawn")


S = ApplicationStatus
OPEN_STATUSES = (S.DRAFT, S.VALUATION, S.UNDERWRITING, S.BANK_REVIEW, S.APPROVED, S.ACTIVE)


class Application(TimeStamped):
    """An SME's financing application. Status changes only through the transitions below, called
    by services.applications under a row lock, each with an audit row."""

    sme = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="applications", verbose_name=_("SME")
    )
    program = models.ForeignKey(Program, on_delete=models.PROTECT, verbose_name=_("programme"))
    patents = models.ManyToManyField(Patent, through="ApplicationPatent", verbose_name=_("patents"))
    requested_amount = MoneyField(_("requested amount"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    repayment_method = models.CharField(_("repayment method"), max_length=48, choices=RepaymentMethod.choices)
    bank = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="bank_applications", verbose_name=_("bank")
    )
    insurer = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="insurer_applications", verbose_name=_("insurer")
    )
    appraiser = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="appraiser_applications",
        verbose_name=_("appraisal firm"),
    )
    purpose = models.CharField(_("purpose"), max_length=500, blank=True, default="")
    status = FSMField(_("status"), max_length=16, choices=ApplicationStatus.choices, default=S.DRAFT)
    submitted_on = models.DateField(_("submitted on"), null=True, blank=True)
    decline_reason = models.TextField(_("decline reason"), blank=True, default="")
    # Copied from the valuation report when it arrives.
    appraised_value = MoneyField(_("appraised value"), null=True, blank=True)
    risk_grade = models.CharField(_("risk grade"), max_length=1, blank=True, default="")
    pledge_rate = RateField(_("pledge rate"), null=True, blank=True)
    credit_ceiling = MoneyField(_("credit ceiling"), null=True, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        constraints = [
            models.CheckConstraint(name="application_amount_positive", condition=Q(requested_amount__gt=0)),
            models.CheckConstraint(name="application_term_positive", condition=Q(term_months__gte=1)),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.sme.name} {self.requested_amount} ({self.get_status_display()})"

    # Transitions (django-fsm-2). The services lock the row, check can_proceed, call, save, audit.
    @transition(field=status, source=S.DRAFT, target=S.VALUATION)
    def submit(self) -> None: ...

    @transition(
        field=status, source=[S.DRAFT, S.VALUATION, S.UNDERWRITING, S.BANK_REVIEW], target=S.WITHDRAWN
    )
    def withdraw(self) -> None: ...

    @transition(field=status, source=S.VALUATION, target=S.UNDERWRITING)
    def valuation_reported(self) -> None: ...

    @transition(field=status, source=[S.VALUATION, S.UNDERWRITING, S.BANK_REVIEW], target=S.DECLINED)
    def decline(self) -> None: ...

    @transition(field=status, source=S.UNDERWRITING, target=S.BANK_REVIEW)
    def policy_issued(self) -> None: ...

    @transition(field=status, source=S.BANK_REVIEW, target=S.APPROVED)
    def approve(self) -> None: ...

    @transition(field=status, source=S.APPROVED, target=S.ACTIVE)
    def disburse(self) -> None: ...

    @transition(field=status, source=S.ACTIVE, target=S.SETTLED)
    def settle(self) -> None: ...

    @transition(field=status, source=S.ACTIVE, target=S.DEFAULTED)
    def default(self) -> None: ...


class ApplicationPatent(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="patent_links")
    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="application_links")

    class Meta:
        verbose_name = _("application patent")
        verbose_name_plural = _("application patents")
        constraints = [
            models.UniqueConstraint(fields=["application", "patent"], name="application_patent_once")
        ]

    def __str__(self) -> str:
        return f"application {self.application_id}: patent {self.patent_id}"


class ValuationStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    REPORTED = "reported", _("Reported")
    CANCELLED = "cancelled", _("Cancelled")


class Valuation(TimeStamped):
    """The appraisal firm's engagement for an application, and its report once submitted."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="valuation")
    appraiser = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="valuations")
    status = models.CharField(_("status"), max_length=16, choices=ValuationStatus.choices, default="pending")
    report_number = models.CharField(_("report number"), max_length=64, blank=True, default="")
    valuation_date = models.DateField(_("valuation date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)
    appraised_value = MoneyField(_("appraised value"), null=True, blank=True)
    composite_score = models.DecimalField(
        _("composite score"), max_digits=5, decimal_places=2, null=True, blank=True
    )
    risk_grade = models.CharField(_("risk grade"), max_length=1, blank=True, default="")
    pledge_rate = RateField(_("pledge rate"), null=True, blank=True)
    credit_ceiling = MoneyField(_("credit ceiling"), null=True, blank=True)
    scorecard_version = models.CharField(_("scorecard version"), max_length=16, blank=True, default="")
    enterprise_scores = models.JSONField(_("enterprise scores"), default=dict, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("signing appraiser"),
    )
    reported_at = models.DateTimeField(_("reported at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("valuation")
        verbose_name_plural = _("valuations")
        constraints = [
            models.UniqueConstraint(
                fields=["appraiser", "report_number"],
                condition=~Q(report_number=""),
                name="valuation_report_number_unique_per_firm",
            ),
            models.CheckConstraint(
                name="valuation_reported_complete",
                condition=~Q(status="reported")
                | (Q(valuation_date__isnull=False) & Q(appraised_value__gte=0) & Q(credit_ceiling__gte=0)),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.report_number or 'engagement'} #{self.pk} ({self.get_status_display()})"


class PatentValuation(models.Model):
    valuation = models.ForeignKey(Valuation, on_delete=models.PROTECT, related_name="lines")
    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="+")
    method = models.CharField(_("method"), max_length=32)
    inputs = models.JSONField(_("inputs"), default=dict)
    indicators = models.JSONField(_("indicator scores"), default=dict)
    value = MoneyField(_("value"))

    class Meta:
        verbose_name = _("patent valuation")
        verbose_name_plural = _("patent valuations")
        constraints = [
            models.UniqueConstraint(fields=["valuation", "patent"], name="patent_valuation_once"),
            models.CheckConstraint(name="patent_valuation_non_negative", condition=Q(value__gte=0)),
        ]

    def __str__(self) -> str:
        return f"patent {self.patent_id}: {self.value} ({self.method})"


class PolicyStatus(models.TextChoices):
    ISSUED = "issued", _("Issued")
    ACTIVE = "active", _("Active (premium paid)")
    CLAIMED = "claimed", _("Claimed")
    EXPIRED = "expired", _("Expired")
    CANCELLED = "cancelled", _("Cancelled")


class Policy(TimeStamped):
    """A loan-guarantee insurance policy (贷款保证保险), DOMAIN.md section 7."""

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="policy")
    insurer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="policies")
    policy_number = models.CharField(_("policy number"), max_length=32, unique=True)
    insured_amount = MoneyField(_("insured amount"))
    premium_rate = RateField(_("annual premium rate"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    premium = MoneyField(_("premium"))
    premium_paid_amount = MoneyField(_("premium paid"), default=Decimal("0.00"))
    premium_paid_on = models.DateField(_("premium paid on"), null=True, blank=True)
    status = FSMField(_("status"), max_length=16, choices=PolicyStatus.choices, default=PolicyStatus.ISSUED)
    issued_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("insurance policy")
        verbose_name_plural = _("insurance policies")
        constraints = [
            models.CheckConstraint(name="policy_insured_positive", condition=Q(insured_amount__gt=0)),
            models.CheckConstraint(name="policy_premium_non_negative", condition=Q(premium__gte=0)),
            models.CheckConstraint(
                name="policy_premium_paid_within_premium",
                condition=Q(premium_paid_amount__gte=0) & Q(premium_paid_amount__lte=models.F("premium")),
            ),
        ]

    # Transitions (django-fsm-2), run only by services.transitions.record_transition.
    @transition(field=status, source=PolicyStatus.ISSUED, target=PolicyStatus.ACTIVE)
    def premium_paid(self) -> None: ...

    @transition(
        field=status,
        source=[PolicyStatus.ISSUED, PolicyStatus.ACTIVE, PolicyStatus.EXPIRED, PolicyStatus.CANCELLED],
        target=PolicyStatus.CLAIMED,
    )
    def claim(self) -> None: ...

    @transition(field=status, source=PolicyStatus.ACTIVE, target=PolicyStatus.EXPIRED)
    def expire(self) -> None: ...

    @transition(
        field=status, source=[PolicyStatus.ISSUED, PolicyStatus.ACTIVE], target=PolicyStatus.CANCELLED
    )
    def cancel(self) -> None: ...

    def __str__(self) -> str:
        return self.policy_number

    @property
    def premium_outstanding(self) -> object:
        return self.premium - self.premium_paid_amount


class PremiumPayment(TimeStamped):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="premium_payments")
    amount = MoneyField(_("amount"))
    paid_on = models.DateField(_("paid on"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")
    # Set on a payment of an extension's endorsement premium (DOMAIN.md 8a).
    extension = models.ForeignKey(
        "fintech.LoanExtension",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="premium_payments",
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("premium payment")
        verbose_name_plural = _("premium payments")
        constraints = [models.CheckConstraint(name="premium_payment_positive", condition=Q(amount__gt=0))]
