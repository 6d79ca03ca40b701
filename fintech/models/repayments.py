"""Repayments reported by the bank, how each was allocated, and their reversals (DOMAIN.md
sections 8, 8a)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .base import MoneyField, TimeStamped
from .loans import Installment, Loan


class Repayment(TimeStamped):
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    # The reporting bank, kept on the row so "one transaction id per bank" is a database constraint.
    bank = models.ForeignKey("fintech.Organization", on_delete=models.PROTECT, related_name="+")
    amount = MoneyField(_("amount"))
    paid_on = models.DateField(_("value date"))
    transaction_id = models.CharField(_("bank transaction id"), max_length=100, blank=True, default="")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]
        verbose_name = _("repayment")
        verbose_name_plural = _("repayments")
        constraints = [
            models.CheckConstraint(name="repayment_amount_positive", condition=Q(amount__gt=0)),
            models.UniqueConstraint(
                fields=["bank", "transaction_id"],
                condition=~Q(transaction_id=""),
                name="repayment_transaction_once_per_bank",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.amount} on {self.paid_on} for loan {self.loan_id}"


class RepaymentAllocation(models.Model):
    repayment = models.ForeignKey(Repayment, on_delete=models.PROTECT, related_name="allocations")
    installment = models.ForeignKey(Installment, on_delete=models.PROTECT, related_name="allocations")
    principal = MoneyField(_("principal"))
    interest = MoneyField(_("interest"))

    class Meta:
        ordering = ["repayment_id", "installment__seq"]
        verbose_name = _("repayment allocation")
        verbose_name_plural = _("repayment allocations")
        constraints = [
            models.UniqueConstraint(
                fields=["repayment", "installment"], name="allocation_once_per_installment"
            ),
            models.CheckConstraint(
                name="allocation_amounts_valid",
                condition=Q(principal__gte=0) & Q(interest__gte=0) & (Q(principal__gt=0) | Q(interest__gt=0)),
            ),
        ]

    def __str__(self) -> str:
        return f"repayment {self.repayment_id}: principal {self.principal}, interest {self.interest}"


class RepaymentReversal(models.Model):
    """A wrong repayment taken back: its allocations are undone, nothing is deleted."""

    repayment = models.OneToOneField(Repayment, on_delete=models.PROTECT, related_name="reversal")
    reversed_on = models.DateField(_("reversed on"))
    reason = models.CharField(_("reason"), max_length=500)
    reversed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("repayment reversal")
        verbose_name_plural = _("repayment reversals")

    def __str__(self) -> str:
        return f"reversal of repayment {self.repayment_id}"
