"""Defaults and the risk pool: loss events split insurer : government fund : bank, recoveries
shared back the same way, the government risk fund's movements, settlements approved by a second
person (DOMAIN.md section 10)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from .base import MoneyField, RateField, money_equals
from .loans import Loan
from .parties import Organization, Program


class LossEvent(models.Model):
    """The loss of a defaulted loan and its split, with the ratios in force stored on it."""

    loan = models.OneToOneField(Loan, on_delete=models.PROTECT, related_name="loss_event")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="loss_events")
    default_on = models.DateField(_("default date"))
    declared_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the daily close declared it."),
    )
    reason = models.CharField(_("reason"), max_length=500, blank=True, default="")
    unpaid_principal = MoneyField(_("unpaid principal"))
    unpaid_interest = MoneyField(_("unpaid interest"))
    accrued_interest = MoneyField(_("accrued interest"))
    loss_amount = MoneyField(_("loss"))
    insurer_ratio = RateField(_("insurer ratio"))
    government_ratio = RateField(_("government ratio"))
    bank_ratio = RateField(_("bank ratio"))
    insurer_share = MoneyField(_("insurer share"))
    government_share = MoneyField(_("government share"))
    bank_share = MoneyField(_("bank share"))
    fund_balance_before = MoneyField(_("fund balance before the draw"))
    unfunded_amount = MoneyField(_("unfunded part of the fund's share"), default=Decimal("0.00"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("loss event")
        verbose_name_plural = _("loss events")
        constraints = [
            models.CheckConstraint(
                name="loss_parts_sum",
                condition=money_equals(
                    F("unpaid_principal") + F("unpaid_interest") + F("accrued_interest"), F("loss_amount")
                ),
            ),
            models.CheckConstraint(
                name="loss_shares_sum",
                condition=money_equals(
                    F("insurer_share") + F("government_share") + F("bank_share"), F("loss_amount")
                ),
            ),
            models.CheckConstraint(
                name="loss_amounts_non_negative",
                condition=Q(unpaid_principal__gte=0)
                & Q(unpaid_interest__gte=0)
                & Q(accrued_interest__gte=0)
                & Q(insurer_share__gte=0)
                & Q(government_share__gte=0)
                & Q(bank_share__gte=0)
                & Q(unfunded_amount__gte=0)
                & Q(unfunded_amount__lte=F("government_share")),
            ),
        ]

    def __str__(self) -> str:
        return f"loss of loan {self.loan_id}: {self.loss_amount}"


class Recovery(models.Model):
    loss_event = models.ForeignKey(LossEvent, on_delete=models.PROTECT, related_name="recoveries")
    amount = MoneyField(_("amount"))
    received_on = models.DateField(_("received on"))
    source = models.CharField(_("source"), max_length=200)
    insurer_part = MoneyField(_("insurer part"))
    government_part = MoneyField(_("government part"))
    bank_part = MoneyField(_("bank part"))
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("recovery")
        verbose_name_plural = _("recoveries")
        constraints = [
            models.CheckConstraint(name="recovery_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="recovery_parts_sum",
                condition=money_equals(F("insurer_part") + F("government_part") + F("bank_part"), F("amount"))
                & Q(insurer_part__gte=0)
                & Q(government_part__gte=0)
                & Q(bank_part__gte=0),
            ),
        ]

    def __str__(self) -> str:
        return f"recovery {self.amount} on {self.received_on}"


class SettlementParty(models.TextChoices):
    INSURER = "insurer", _("Insurer")
    GOVERNMENT = "government", _("Government risk fund")


class SettlementStatus(models.TextChoices):
    PENDING = "pending", _("Pending approval")
    APPROVED = "approved", _("Approved")


class Settlement(models.Model):
    """The insurer's or the fund's payment of its share to the bank; four-eyes approved."""

    loss_event = models.ForeignKey(LossEvent, on_delete=models.PROTECT, related_name="settlements")
    party = models.CharField(_("party"), max_length=12, choices=SettlementParty.choices)
    payer = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    amount = MoneyField(_("amount"))
    paid_on = models.DateField(_("paid on"))
    reference = models.CharField(_("payment reference"), max_length=100)
    status = models.CharField(
        _("status"), max_length=12, choices=SettlementStatus.choices, default=SettlementStatus.PENDING
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        constraints = [
            models.CheckConstraint(name="settlement_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="settlement_four_eyes",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("created_by")),
            ),
            models.CheckConstraint(
                name="settlement_approved_has_approver",
                condition=~Q(status="approved") | Q(approved_by__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_party_display()} settlement {self.amount} ({self.get_status_display()})"


class FundMovementKind(models.TextChoices):
    TOP_UP = "top_up", _("Top-up")
    DRAW = "draw", _("Draw for a loss")
    RECOVERY = "recovery", _("Recovery returned")


class FundMovement(models.Model):
    """The government risk fund of a programme: balance = top-ups + recoveries - draws."""

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="fund_movements")
    kind = models.CharField(_("kind"), max_length=12, choices=FundMovementKind.choices)
    amount = MoneyField(_("amount"))
    on = models.DateField(_("date"))
    loss_event = models.ForeignKey(
        LossEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    recovery = models.OneToOneField(
        Recovery, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("risk fund movement")
        verbose_name_plural = _("risk fund movements")
        constraints = [
            models.CheckConstraint(name="fund_movement_positive", condition=Q(amount__gt=0)),
            models.UniqueConstraint(
                fields=["loss_event"], condition=Q(kind="draw"), name="fund_one_draw_per_loss"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} on {self.on}"
