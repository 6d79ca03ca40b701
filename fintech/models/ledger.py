"""A double-entry ledger of every money movement.

Each Posting debits one account and credits another with the same amount, so every journal
entry balances by construction: the schema itself (one amount column, a check that it is
positive and that the two accounts differ) is the database's guarantee, on SQLite and
PostgreSQL alike. A journal entry groups the postings of one business event; corrections are new
entries that reverse old ones, never edits.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from fintech.money import format_money

from .base import MoneyField
from .loans import Loan
from .parties import Organization, Program

# Account codes (the chart itself, with English and Chinese names, is loaded by migration 0005;
# services post to these codes, selectors report on them).
BANK_CASH, INSURER_CASH, FUND_CASH, SME_CASH, GOV_BUDGET = "1001", "1002", "1003", "1004", "1005"
LOANS_RECEIVABLE, DEFAULT_CLEARING, CLAIM_INSURER, CLAIM_FUND = "1101", "1201", "1202", "1203"
CLAWBACK_RECEIVABLE, SME_CLAWBACK_PAYABLE = "1204", "2005"  # migration 0012
INSURER_PAYABLE, FUND_PAYABLE, SUBSIDIES_PAYABLE, SME_LOANS_PAYABLE = "2001", "2002", "2003", "2004"
FUND_CAPITAL = "3001"
INTEREST_INCOME, PREMIUM_INCOME, SME_SUBSIDY_INCOME = "4001", "4002", "4004"
BANK_CREDIT_LOSS, INSURER_CLAIMS_EXPENSE, FUND_LOSS_EXPENSE = "5001", "5002", "5003"
SUBSIDY_EXPENSE, SME_INTEREST_EXPENSE, SME_PREMIUM_EXPENSE = "5004", "5005", "5006"
PREPAYMENT_FEE_INCOME, SME_PREPAYMENT_FEE_EXPENSE = "4003", "5007"  # migration 0012


class AccountKind(models.TextChoices):
    ASSET = "asset", _("Asset")
    LIABILITY = "liability", _("Liability")
    EQUITY = "equity", _("Equity / fund")
    INCOME = "income", _("Income")
    EXPENSE = "expense", _("Expense")


class Account(models.Model):
    """The chart of accounts (loaded by migration 0005; codes in services.ledger)."""

    code = models.CharField(_("code"), max_length=8, primary_key=True)
    name = models.CharField(_("name"), max_length=100)
    name_zh = models.CharField(_("Chinese name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=12, choices=AccountKind.choices)

    class Meta:
        ordering = ["code"]
        verbose_name = _("ledger account")
        verbose_name_plural = _("chart of accounts")

    def __str__(self) -> str:
        return f"{self.code} {self.name} {self.name_zh}"


class EntryKind(models.TextChoices):
    PREMIUM = "premium", _("Premium received")
    DISBURSEMENT = "disbursement", _("Disbursement")
    REPAYMENT = "repayment", _("Repayment")
    REVERSAL = "reversal", _("Reversal")
    LOSS = "loss", _("Loss at default")
    SETTLEMENT = "settlement", _("Loss settlement")
    RECOVERY = "recovery", _("Recovery")
    FUND_TOP_UP = "fund_top_up", _("Risk fund top-up")
    SUBSIDY_ACCRUAL = "subsidy_accrual", _("Subsidy approved")
    SUBSIDY_PAYMENT = "subsidy_payment", _("Subsidy paid")
    PREPAYMENT = "prepayment", _("Prepayment")
    SUBSIDY_CANCEL = "subsidy_cancel", _("Subsidy cancelled")
    SUBSIDY_CLAWBACK = "subsidy_clawback", _("Subsidy clawed back")


class JournalEntry(models.Model):
    kind = models.CharField(_("kind"), max_length=20, choices=EntryKind.choices)
    booked_on = models.DateField(_("business date"), db_index=True)
    memo = models.CharField(_("memo"), max_length=300, blank=True, default="")
    # The operational record this entry books (one entry per record and kind: replays post nothing).
    source_type = models.CharField(_("source type"), max_length=64)
    source_id = models.CharField(_("source id"), max_length=64)
    loan = models.ForeignKey(
        Loan,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="journal_entries",
        verbose_name=_("loan"),
    )
    program = models.ForeignKey(
        Program,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("programme"),
    )
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversed_by",
        verbose_name=_("reverses entry"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("journal entry")
        verbose_name_plural = _("journal entries")
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "source_type", "source_id"], name="journal_entry_once_per_source"
            )
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.booked_on.isoformat()} {self.get_kind_display()}"


class Posting(models.Model):
    entry = models.ForeignKey(
        JournalEntry, on_delete=models.PROTECT, related_name="postings", verbose_name=_("journal entry")
    )
    debit_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="debit_postings", verbose_name=_("debit account")
    )
    credit_account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="credit_postings", verbose_name=_("credit account")
    )
    amount = MoneyField(_("amount"))
    # The party whose books this movement touches (bank, insurer, fund's programme regulator, SME).
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("organisation"),
    )
    loan = models.ForeignKey(
        Loan, on_delete=models.PROTECT, null=True, blank=True, related_name="postings", verbose_name=_("loan")
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("posting")
        verbose_name_plural = _("postings")
        constraints = [
            models.CheckConstraint(name="posting_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="posting_two_accounts", condition=~Q(debit_account=F("credit_account"))
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.debit_account_id} <- {self.credit_account_id} {format_money(self.amount, grouped=True)}"
        )
