"""Financing applications and the patents they pledge (DOMAIN.md section 1); their valuation is in
models.valuations, their policy and premiums in models.policies."""

from __future__ import annotations

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
