"""Subsidies: benchmark rates as dated data, subsidy runs and their entitlements (DOMAIN.md 9)."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from fintech.money import format_money, format_rate

from .base import MoneyField, RateField
from .batch import BatchChunk
from .loans import Installment, Loan
from .parties import Organization, Program


class BenchmarkSource(models.TextChoices):
    PBOC = "pboc", _("PBOC benchmark")
    LPR = "lpr", _("Loan Prime Rate")


class BenchmarkRate(models.Model):
    """A rate in force from `effective_on` for loan terms within [term_min_months, term_max_months].

    The benchmark of day d for a term of n months is the row with the latest effective_on <= d
    among the rows whose term range covers n (LPR rows from 2019-08-20 cover every term, so they
    supersede the PBOC rows from that day on).
    """

    source = models.CharField(_("source"), max_length=8, choices=BenchmarkSource.choices)
    effective_on = models.DateField(_("effective from"))
    term_min_months = models.PositiveSmallIntegerField(_("term from (months)"))
    term_max_months = models.PositiveSmallIntegerField(_("term to (months)"), null=True, blank=True)
    rate = RateField(_("rate"))

    class Meta:
        ordering = ["effective_on", "term_min_months"]
        verbose_name = _("benchmark rate")
        verbose_name_plural = _("benchmark rates")
        constraints = [
            models.UniqueConstraint(
                fields=["effective_on", "term_min_months"], name="benchmark_once_per_day_bucket"
            ),
            models.CheckConstraint(name="benchmark_rate_range", condition=Q(rate__gt=0) & Q(rate__lt=1)),
            models.CheckConstraint(
                name="benchmark_term_range",
                condition=Q(term_max_months__isnull=True) | Q(term_max_months__gte=F("term_min_months")),
            ),
        ]

    def __str__(self) -> str:
        top = self.term_max_months or "∞"
        return gettext("%(source)s of %(on)s, %(lo)s-%(hi)s months: %(rate)s") % {
            "source": self.get_source_display(),
            "on": self.effective_on.isoformat(),
            "lo": self.term_min_months,
            "hi": top,
            "rate": format_rate(self.rate),
        }


class SubsidyRunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    COMPUTED = "computed", _("Computed")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    FAILED = "failed", _("Failed")


class SubsidyRun(models.Model):
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="subsidy_runs", verbose_name=_("programme")
    )
    period = models.CharField(_("period"), max_length=8, help_text=_("2025Q3 or 2025-07"))
    period_start = models.DateField(_("period from"))
    period_end = models.DateField(_("period to"))
    status = FSMField(
        _("status"), max_length=12, choices=SubsidyRunStatus.choices, default=SubsidyRunStatus.PENDING
    )
    # Programme parameters used by this run (a later edit of the programme changes nothing here).
    parameters = models.JSONField(_("parameters"), default=dict)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    chunks_requeued = models.PositiveIntegerField(
        _("chunks queued again"), default=0, help_text=_("Stalled chunks the watchdog queued again.")
    )
    entitlements_count = models.PositiveIntegerField(_("entitlements"), default=0)
    interest_total = MoneyField(_("interest subsidies"), default=Decimal("0.00"))
    premium_total = MoneyField(_("premium subsidies"), default=Decimal("0.00"))
    clawback_total = MoneyField(
        _("clawbacks"),
        default=Decimal("0.00"),
        help_text=_("Subsidies paid earlier on repayments since reversed, netted in this run."),
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("started by")
    )
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("approved by"),
    )
    approved_at = models.DateTimeField(_("approved at"), null=True, blank=True)
    paid_on = models.DateField(_("paid on"), null=True, blank=True)
    payment_reference = models.CharField(_("payment reference"), max_length=100, blank=True, default="")
    error = models.TextField(_("error"), blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("subsidy run")
        verbose_name_plural = _("subsidy runs")
        constraints = [
            models.CheckConstraint(
                name="subsidy_run_four_eyes",
                condition=Q(approved_by__isnull=True) | ~Q(approved_by=F("started_by")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program.code} {self.period} #{self.pk} ({self.get_status_display()})"

    # The transitions of the run (services.subsidies and services.batch write the audit rows).

    @transition(field=status, source=SubsidyRunStatus.PENDING, target=SubsidyRunStatus.RUNNING)
    def start_running(self) -> None:
        pass

    @transition(field=status, source=SubsidyRunStatus.RUNNING, target=SubsidyRunStatus.COMPUTED)
    def compute(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=status, source=SubsidyRunStatus.COMPUTED, target=SubsidyRunStatus.APPROVED)
    def approve(self) -> None:
        pass

    @transition(field=status, source=SubsidyRunStatus.APPROVED, target=SubsidyRunStatus.PAID)
    def pay(self) -> None:
        pass

    @transition(
        field=status,
        source=[SubsidyRunStatus.PENDING, SubsidyRunStatus.RUNNING],
        target=SubsidyRunStatus.FAILED,
    )
    def fail(self, error: str) -> None:
        self.error = error[:2000]
        self.finished_at = timezone.now()


class SubsidyRunChunk(BatchChunk):
    """Loans lo_id..hi_id of a subsidy run (services.batch)."""

    run = models.ForeignKey(
        SubsidyRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run")
    )
    entitlements_count = models.PositiveIntegerField(_("entitlements"), default=0)

    class Meta(BatchChunk.Meta):
        verbose_name = _("subsidy run chunk")
        verbose_name_plural = _("subsidy run chunks")

    def __str__(self) -> str:
        return gettext("run %(run)s, loans %(lo)s-%(hi)s") % {
            "run": self.run_id,
            "lo": self.lo_id,
            "hi": self.hi_id,
        }


class SubsidyKind(models.TextChoices):
    INTEREST = "interest", _("Interest subsidy")
    PREMIUM = "premium", _("Premium subsidy")


class EntitlementStatus(models.TextChoices):
    COMPUTED = "computed", _("Computed")
    APPROVED = "approved", _("Approved")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")


class SubsidyEntitlement(models.Model):
    """One subsidy owed to an SME: per on-time installment (interest) or per loan (premium)."""

    run = models.ForeignKey(
        SubsidyRun,
        on_delete=models.PROTECT,
        related_name="entitlements",
        verbose_name=_("run"),
        db_index=False,  # (run, SME) in Meta.indexes
    )
    program = models.ForeignKey(
        Program, on_delete=models.PROTECT, related_name="+", verbose_name=_("programme")
    )
    # Indexed with the run (Meta.indexes).
    sme = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="subsidies",
        verbose_name=_("SME"),
        db_index=False,
    )
    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="subsidies", verbose_name=_("loan"))
    installment = models.ForeignKey(
        Installment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="subsidies",
        verbose_name=_("installment"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=SubsidyKind.choices)
    period = models.CharField(_("period"), max_length=8, db_index=True)
    year = models.PositiveSmallIntegerField(_("cap year"))
    computed_amount = MoneyField(_("amount before the cap"))
    amount = MoneyField(_("amount"))
    capped = models.BooleanField(_("capped"), default=False)
    status = models.CharField(
        _("status"), max_length=12, choices=EntitlementStatus.choices, default=EntitlementStatus.COMPUTED
    )
    cancel_reason = models.CharField(
        _("why cancelled"), max_length=300, blank=True, default="", db_default=""
    )
    # Its `subsidy.computed` event is written: by the run's chunk that computed the SME's last
    # entitlements of the run when no cap can cut them any more, or by the run's completion after
    # the cap. An announced amount is final: later caps count it and never change it.
    announced = models.BooleanField(_("announced"), default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        ordering = ["id"]
        verbose_name = _("subsidy entitlement")
        verbose_name_plural = _("subsidy entitlements")
        # A chunk reads one run's entitlements of each of its SMEs, and each SME's of other runs.
        indexes = [
            models.Index(fields=["run", "sme"], name="entitlement_run_sme_idx"),
            models.Index(fields=["sme", "run"], name="entitlement_sme_run_idx"),
        ]
        constraints = [
            # A cancelled one (its repayment was reversed) leaves room for the installment to
            # earn again once it is paid on time.
            models.UniqueConstraint(
                fields=["installment", "kind"],
                condition=Q(installment__isnull=False) & ~Q(status="cancelled"),
                name="one_entitlement_per_installment_and_kind",
            ),
            models.UniqueConstraint(
                fields=["loan", "kind"], condition=Q(kind="premium"), name="one_premium_subsidy_per_loan"
            ),
            models.CheckConstraint(
                name="entitlement_amounts",
                condition=Q(amount__gte=0) & Q(amount__lte=F("computed_amount")),
            ),
            models.CheckConstraint(
                name="entitlement_interest_has_installment",
                condition=Q(kind="premium") | Q(installment__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {format_money(self.amount, grouped=True)} ({self.period})"


class ClawbackStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the next run")
    IN_RUN = "in_run", _("In a run")
    NETTED = "netted", _("Netted in full")
    RECEIVABLE = "receivable", _("Receivable from the SME")


class SubsidyClawback(models.Model):
    """A paid subsidy taken back because the repayment that earned it was reversed (DOMAIN.md 8a):
    a negative line of the SME's next run, netted against what that run pays the SME; what the
    run cannot net stays a receivable from the SME."""

    entitlement = models.OneToOneField(SubsidyEntitlement, on_delete=models.PROTECT, related_name="clawback")
    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="+")
    sme = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="subsidy_clawbacks")
    amount = MoneyField(_("amount"))
    reason = models.CharField(_("reason"), max_length=500)
    reversal = models.ForeignKey(
        "fintech.RepaymentReversal", on_delete=models.PROTECT, related_name="clawbacks"
    )
    run = models.ForeignKey(
        SubsidyRun, on_delete=models.PROTECT, null=True, blank=True, related_name="clawbacks"
    )
    netted_amount = MoneyField(_("netted"), default=Decimal("0.00"))
    receivable_amount = MoneyField(_("receivable"), default=Decimal("0.00"))
    status = models.CharField(
        _("status"), max_length=12, choices=ClawbackStatus.choices, default=ClawbackStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("subsidy clawback")
        verbose_name_plural = _("subsidy clawbacks")
        constraints = [
            models.CheckConstraint(name="clawback_amount_positive", condition=Q(amount__gt=0)),
            models.CheckConstraint(
                name="clawback_parts_within_amount",
                condition=Q(netted_amount__gte=0)
                & Q(receivable_amount__gte=0)
                & Q(netted_amount__lte=F("amount"))
                & Q(receivable_amount__lte=F("amount")),
            ),
        ]

    def __str__(self) -> str:
        return f"clawback {self.amount} of entitlement {self.entitlement_id}"
