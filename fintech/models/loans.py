"""Loans, patent pledges and repayment schedules (DOMAIN.md sections 3 and 8)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .applications import Application, RepaymentMethod
from .base import MoneyField, RateField, TimeStamped
from .parties import Organization, Program
from .patents import Patent
from .policies import Policy


class LoanStatus(models.TextChoices):
    APPROVED = "approved", _("Approved")
    ACTIVE = "active", _("Active")
    SETTLED = "settled", _("Settled")
    DEFAULTED = "defaulted", _("Defaulted")


class Loan(TimeStamped):
    """One loan per application (the one-to-one is the database's answer to a second approval).

    The programme parameters a loan depends on are copied at approval, so a later edit of the
    programme never changes this loan.
    """

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="loan")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="loans")
    sme = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="loans")
    bank = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="bank_loans")
    policy = models.OneToOneField(Policy, on_delete=models.PROTECT, related_name="loan")
    principal = MoneyField(_("principal"))
    annual_rate = RateField(_("annual rate"))
    term_months = models.PositiveSmallIntegerField(_("term (months)"))
    repayment_method = models.CharField(_("repayment method"), max_length=48, choices=RepaymentMethod.choices)
    status = FSMField(_("status"), max_length=16, choices=LoanStatus.choices, default=LoanStatus.APPROVED)
    approved_on = models.DateField(_("approved on"))
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    disbursed_on = models.DateField(_("disbursed on"), null=True, blank=True)
    maturity_on = models.DateField(_("matures on"), null=True, blank=True)
    settled_on = models.DateField(_("settled on"), null=True, blank=True)
    defaulted_on = models.DateField(_("default date"), null=True, blank=True)
    last_closed_on = models.DateField(_("last closed on"), null=True, blank=True)
    # Programme parameters in force at approval.
    grace_days = models.PositiveSmallIntegerField(_("grace days"))
    default_days_past_due = models.PositiveSmallIntegerField(_("days past due before default"))
    external_id = models.CharField(_("external id"), max_length=100, blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        constraints = [
            models.CheckConstraint(name="loan_principal_positive", condition=Q(principal__gt=0)),
            models.CheckConstraint(
                name="loan_rate_range", condition=Q(annual_rate__gte=0) & Q(annual_rate__lt=1)
            ),
            models.CheckConstraint(name="loan_term_positive", condition=Q(term_months__gte=1)),
            models.CheckConstraint(
                name="loan_active_is_disbursed",
                condition=Q(status="approved")
                | (Q(disbursed_on__isnull=False) & Q(maturity_on__isnull=False)),
            ),
            models.UniqueConstraint(
                fields=["bank", "external_id"],
                condition=~Q(external_id=""),
                name="loan_external_id_unique_per_bank",
            ),
        ]

    # Transitions (django-fsm-2), run only by services.transitions.record_transition.
    @transition(field=status, source=LoanStatus.APPROVED, target=LoanStatus.ACTIVE)
    def disburse(self) -> None: ...

    @transition(field=status, source=LoanStatus.ACTIVE, target=LoanStatus.SETTLED)
    def settle(self) -> None: ...

    @transition(field=status, source=LoanStatus.ACTIVE, target=LoanStatus.DEFAULTED)
    def default(self) -> None: ...

    def __str__(self) -> str:
        return f"Loan #{self.pk} {self.principal} ({self.get_status_display()})"


class Pledge(TimeStamped):
    """A patent pledge registration with CNIPA for a loan."""

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="pledge")
    registration_number = models.CharField(_("registration number"), max_length=64, unique=True)
    registered_on = models.DateField(_("registered on"))
    secured_amount = MoneyField(_("secured amount"))
    debt_start_on = models.DateField(_("debt period from"), null=True, blank=True)
    debt_end_on = models.DateField(_("debt period to"), null=True, blank=True)
    released_on = models.DateField(_("released on"), null=True, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("pledge registration")
        verbose_name_plural = _("pledge registrations")
        constraints = [
            models.CheckConstraint(name="pledge_secured_positive", condition=Q(secured_amount__gt=0))
        ]

    def __str__(self) -> str:
        return self.registration_number


class PledgedPatent(models.Model):
    """One patent under one pledge. `is_active` is cleared on release; the partial unique index
    makes "one active pledge per patent" a database fact, whatever races the code loses."""

    pledge = models.ForeignKey(Pledge, on_delete=models.PROTECT, related_name="items")
    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="pledges")
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("pledged patent")
        verbose_name_plural = _("pledged patents")
        constraints = [
            models.UniqueConstraint(
                fields=["patent"], condition=Q(is_active=True), name="one_active_pledge_per_patent"
            ),
            models.UniqueConstraint(fields=["pledge", "patent"], name="pledged_patent_once"),
        ]

    def __str__(self) -> str:
        return f"patent {self.patent_id} under pledge {self.pledge_id}"


class InstallmentStatus(models.TextChoices):
    DUE = "due", _("Due")
    PAID = "paid", _("Paid")
    PAID_LATE = "paid_late", _("Paid late")
    OVERDUE = "overdue", _("Overdue")


class Installment(models.Model):
    """One row of a loan's schedule. The due amounts are written once at disbursement and never
    edited; repayments only fill in what was paid."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="installments")
    seq = models.PositiveSmallIntegerField(_("number"))
    start_on = models.DateField(_("accrual from"))
    due_on = models.DateField(_("due on"))
    days = models.PositiveSmallIntegerField(_("days"))
    opening_principal = MoneyField(_("principal outstanding"))
    principal_due = MoneyField(_("principal due"))
    interest_due = MoneyField(_("interest due"))
    principal_paid = MoneyField(_("principal paid"), default=Decimal("0.00"))
    interest_paid = MoneyField(_("interest paid"), default=Decimal("0.00"))
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    status = models.CharField(_("status"), max_length=16, choices=InstallmentStatus.choices, default="due")

    class Meta:
        ordering = ["loan_id", "seq"]
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        constraints = [
            models.UniqueConstraint(fields=["loan", "seq"], name="installment_seq_unique"),
            models.CheckConstraint(
                name="installment_amounts_in_range",
                condition=Q(principal_due__gte=0)
                & Q(interest_due__gte=0)
                & Q(principal_paid__gte=0)
                & Q(interest_paid__gte=0)
                & Q(principal_paid__lte=F("principal_due"))
                & Q(interest_paid__lte=F("interest_due")),
            ),
            models.CheckConstraint(name="installment_period_ordered", condition=Q(due_on__gt=F("start_on"))),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id}/{self.seq} due {self.due_on}"
