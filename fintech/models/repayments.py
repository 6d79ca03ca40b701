"""Repayments reported by the bank, how each was allocated, and their reversals (DOMAIN.md
sections 8, 8a)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech.money import format_money

from .base import MoneyField, TimeStamped
from .loans import Installment, Loan


class Repayment(TimeStamped):
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, related_name="repayments", verbose_name=_("loan")
    )
    # The reporting bank, kept on the row so "one transaction id per bank" is a database constraint.
    bank = models.ForeignKey(
        "fintech.Organization", on_delete=models.PROTECT, related_name="+", verbose_name=_("bank")
    )
    amount = MoneyField(_("amount"))
    paid_on = models.DateField(_("value date"))
    transaction_id = models.CharField(_("bank transaction id"), max_length=100, blank=True, default="")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("recorded by")
    )

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
        return gettext("%(amount)s on %(on)s for loan %(loan)s") % {
            "amount": format_money(self.amount, grouped=True),
            "on": self.paid_on.isoformat(),
            "loan": self.loan_id,
        }


class RepaymentAllocation(models.Model):
    repayment = models.ForeignKey(
        Repayment, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("repayment")
    )
    installment = models.ForeignKey(
        Installment, on_delete=models.PROTECT, related_name="allocations", verbose_name=_("installment")
    )
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
        return gettext("repayment %(id)s: principal %(principal)s, interest %(interest)s") % {
            "id": self.repayment_id,
            "principal": format_money(self.principal, grouped=True),
            "interest": format_money(self.interest, grouped=True),
        }


class PrepaymentKind(models.TextChoices):
    SETTLE = "settle", _("Early settlement")
    PARTIAL = "partial", _("Partial prepayment")


class Recast(models.TextChoices):
    KEEP_TERM = "keep_term", _("Keep the term, lower installments")
    SHORTEN_TERM = "shorten_term", _("Keep the installment, shorter term")


class Prepayment(TimeStamped):
    """A prepayment on `value_date` (DOMAIN.md 8a): an early settlement at the payoff amount (the
    installments are paid by its `repayment`) or a partial prepayment of principal that rebuilt
    the schedule (version `schedule_version` is the schedule it produced)."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="prepayments")
    kind = models.CharField(_("kind"), max_length=8, choices=PrepaymentKind.choices)
    recast = models.CharField(_("recast"), max_length=16, choices=Recast.choices, blank=True, default="")
    amount = MoneyField(_("amount"))
    value_date = models.DateField(_("value date"))
    principal = MoneyField(_("principal prepaid"))
    fee = MoneyField(_("prepayment fee"), default=Decimal("0.00"))
    schedule_version = models.PositiveSmallIntegerField(_("schedule version"))
    repayment = models.OneToOneField(
        Repayment, on_delete=models.PROTECT, null=True, blank=True, related_name="prepayment"
    )
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]
        verbose_name = _("prepayment")
        verbose_name_plural = _("prepayments")
        constraints = [
            models.CheckConstraint(name="prepayment_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="prepayment_parts_non_negative", condition=Q(principal__gte=0) & Q(fee__gte=0)
            ),
            models.UniqueConstraint(
                fields=["loan", "schedule_version"], name="prepayment_once_per_schedule_version"
            ),
            # One partial prepayment per loan and value date (the service answers 409 first).
            models.UniqueConstraint(
                fields=["loan", "value_date"],
                condition=Q(kind="partial"),
                name="partial_prepayment_once_per_value_date",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} on {self.value_date} for loan {self.loan_id}"


class RepaymentReversal(models.Model):
    """A wrong repayment taken back: its allocations are undone, nothing is deleted."""

    repayment = models.OneToOneField(
        Repayment, on_delete=models.PROTECT, related_name="reversal", verbose_name=_("repayment")
    )
    reversed_on = models.DateField(_("reversed on"))
    reason = models.CharField(_("reason"), max_length=500)
    reversed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("reversed by")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("repayment reversal")
        verbose_name_plural = _("repayment reversals")

    def __str__(self) -> str:
        return gettext("reversal of repayment %(id)s") % {"id": self.repayment_id}
