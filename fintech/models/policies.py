"""Loan-guarantee insurance policies and their premium payments (DOMAIN.md section 7)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .applications import Application
from .base import MoneyField, RateField, TimeStamped
from .parties import Organization


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

    class Meta:
        ordering = ["id"]
        verbose_name = _("premium payment")
        verbose_name_plural = _("premium payments")
        constraints = [models.CheckConstraint(name="premium_payment_positive", condition=Q(amount__gt=0))]
