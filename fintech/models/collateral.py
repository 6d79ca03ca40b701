"""Collateral watch (DOMAIN.md section 10a): annual patent fees, legal-status events, the nightly
findings on loans and what is done to cure them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .base import MoneyField, RateField, TimeStamped
from .loans import Loan
from .parties import Organization
from .patents import Patent, PatentType
from .repayment_files import FileStatus
from .repayments import Prepayment


class FeeSchedule(TimeStamped):
    """A dated table of CNIPA annual fees: the one in force on a fee's due date applies."""

    valid_from = models.DateField(_("valid from"), unique=True)
    sme_reduction_rate = RateField(_("SME fee-reduction rate"), default=0)
    source = models.CharField(_("source"), max_length=500)

    class Meta:
        ordering = ["-valid_from"]
        verbose_name = _("annual fee table")
        verbose_name_plural = _("annual fee tables")
        constraints = [
            models.CheckConstraint(
                name="fee_schedule_reduction_range",
                condition=Q(sme_reduction_rate__gte=0) & Q(sme_reduction_rate__lte=1),
            )
        ]

    def __str__(self) -> str:
        return f"{self.valid_from}"


class FeeScheduleRow(models.Model):
    schedule = models.ForeignKey(FeeSchedule, on_delete=models.CASCADE, related_name="rows")
    patent_type = models.CharField(_("patent type"), max_length=16, choices=PatentType.choices)
    year_from = models.PositiveSmallIntegerField(_("from fee year"))
    year_to = models.PositiveSmallIntegerField(_("to fee year"))
    amount = MoneyField(_("annual fee"))

    class Meta:
        ordering = ["schedule_id", "patent_type", "year_from"]
        verbose_name = _("annual fee")
        verbose_name_plural = _("annual fees")
        constraints = [
            models.UniqueConstraint(fields=["schedule", "patent_type", "year_from"], name="fee_row_once"),
            models.CheckConstraint(
                name="fee_row_years_ordered",
                condition=Q(year_from__gte=1) & Q(year_to__gte=models.F("year_from")),
            ),
            models.CheckConstraint(name="fee_row_amount_non_negative", condition=Q(amount__gte=0)),
        ]

    def __str__(self) -> str:
        return f"{self.patent_type} {self.year_from}-{self.year_to}: {self.amount}"


class PatentEventCode(models.TextChoices):
    """The legal-status events the platform records (CNIPA's legal-status data, docs/rules.md)."""

    FEE_PAID = "fee_paid", _("Annual fee paid")
    LAPSE = "lapse", _("Lapsed for non-payment")
    INVALIDATION = "invalidation", _("Invalidated in whole")
    PARTIAL_INVALIDATION = "partial_invalidation", _("Invalidated in part")
    TRANSFER = "transfer", _("Transferred")
    RESTORATION = "restoration", _("Restored")
    EXPIRY = "expiry", _("Expired")


class PatentEventFile(models.Model):
    """A CSV of legal-status events (patent_number,event_date,event_code,description)."""

    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=200, blank=True, default="")
    content = models.TextField(_("content"))
    status = models.CharField(
        _("status"), max_length=12, choices=FileStatus.choices, default=FileStatus.PENDING
    )
    lines_total = models.PositiveIntegerField(_("lines"), default=0)
    lines_applied = models.PositiveIntegerField(_("lines applied"), default=0)
    lines_skipped = models.PositiveIntegerField(_("lines already applied"), default=0)
    lines_rejected = models.PositiveIntegerField(_("lines rejected"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    # The uploader's language: the per-line reasons are written in it, whichever worker runs.
    language = models.CharField(_("language"), max_length=16, default="en")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("patent event file")
        verbose_name_plural = _("patent event files")

    def __str__(self) -> str:
        return f"{self.filename or 'file'} #{self.pk} ({self.get_status_display()})"


class PatentEvent(models.Model):
    """One dated legal-status event of a patent; the same event (patent, code, date) is recorded
    once, which makes a file import idempotent."""

    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="events")
    code = models.CharField(_("event"), max_length=24, choices=PatentEventCode.choices)
    event_on = models.DateField(_("event date"))
    description = models.CharField(_("description"), max_length=500, blank=True, default="")
    from_state = models.CharField(_("from"), max_length=16, blank=True, default="")
    to_state = models.CharField(_("to"), max_length=16, blank=True, default="")
    file = models.ForeignKey(
        PatentEventFile, on_delete=models.PROTECT, null=True, blank=True, related_name="events"
    )
    line = models.PositiveIntegerField(_("line"), null=True, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["patent_id", "event_on", "id"]
        verbose_name = _("legal-status event")
        verbose_name_plural = _("legal-status events")
        constraints = [
            models.UniqueConstraint(fields=["patent", "code", "event_on"], name="patent_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.patent_id} {self.code} {self.event_on}"


class PatentFeePayment(TimeStamped):
    """An annual fee paid for one fee year (fee plus any late surcharge)."""

    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="fee_payments")
    fee_year = models.PositiveSmallIntegerField(_("fee year"))
    amount = MoneyField(_("amount"))
    paid_on = models.DateField(_("paid on"))
    event = models.OneToOneField(
        PatentEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="fee_payment"
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["patent_id", "fee_year"]
        verbose_name = _("annual fee payment")
        verbose_name_plural = _("annual fee payments")
        constraints = [
            models.UniqueConstraint(fields=["patent", "fee_year"], name="fee_year_paid_once"),
            models.CheckConstraint(name="fee_payment_positive", condition=Q(amount__gt=0)),
        ]

    def __str__(self) -> str:
        return f"{self.patent_id} year {self.fee_year}: {self.amount}"


class FindingKind(models.TextChoices):
    FEE_DUE = "fee_due", _("Annual fee due within 30 days")
    FEE_IN_GRACE = "fee_in_grace", _("Annual fee overdue, in grace")
    LEGAL_STATUS = "legal_status", _("Patent lapsed or invalidated")
    VALUATION_EXPIRING = "valuation_expiring", _("Valuation validity ending within 60 days")
    VALUATION_EXPIRED = "valuation_expired", _("Valuation past its validity")
    TERM_SHORT = "term_short", _("Remaining term below the programme minimum")
    COVERAGE_WARNING = "coverage_warning", _("Coverage below the warning level")
    COVERAGE_SHORTFALL = "coverage_shortfall", _("Coverage below the shortfall level")


class Severity(models.TextChoices):
    INFO = "info", _("Info")
    WARNING = "warning", _("Warning")
    CRITICAL = "critical", _("Critical")


class FindingStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Finding(models.Model):
    """One watch finding on a loan (and a patent, for the patent kinds). Raised once, seen again by
    each night's watch (last_seen_on), resolved when cured; the partial unique indexes make "one
    open finding per loan, patent and kind" a database fact."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="findings")
    patent = models.ForeignKey(
        Patent, on_delete=models.PROTECT, null=True, blank=True, related_name="findings"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=FindingKind.choices)
    severity = models.CharField(_("severity"), max_length=8, choices=Severity.choices)
    status = FSMField(_("status"), max_length=8, choices=FindingStatus.choices, default=FindingStatus.OPEN)
    first_seen_on = models.DateField(_("first seen on"))
    last_seen_on = models.DateField(_("last seen on"))
    resolved_on = models.DateField(_("resolved on"), null=True, blank=True)
    amount = MoneyField(_("amount"), null=True, blank=True)
    deadline_on = models.DateField(_("deadline"), null=True, blank=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("watch finding")
        verbose_name_plural = _("watch findings")
        constraints = [
            models.UniqueConstraint(
                fields=["loan", "patent", "kind"],
                condition=Q(status="open") & Q(patent__isnull=False),
                name="one_open_patent_finding",
            ),
            models.UniqueConstraint(
                fields=["loan", "kind"],
                condition=Q(status="open") & Q(patent__isnull=True),
                name="one_open_loan_finding",
            ),
        ]
        indexes = [models.Index(fields=["status", "loan"], name="finding_status_loan")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} loan {self.loan_id}"

    @transition(field=status, source=FindingStatus.OPEN, target=FindingStatus.RESOLVED)
    def resolve(self) -> None: ...


class CureKind(models.TextChoices):
    REVALUATION = "revaluation", _("Revaluation requested")
    ADDED_PATENT = "added_patent", _("Patent added to the pledge")
    PREPAYMENT = "prepayment", _("Partial prepayment")
    NOTE = "note", _("Note")


class FindingAction(models.Model):
    """A step of the cure workflow taken on a finding (append-only)."""

    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="actions")
    kind = models.CharField(_("kind"), max_length=16, choices=CureKind.choices)
    note = models.TextField(_("note"), blank=True, default="")
    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # A partial prepayment cure: the loan's prepayment it recorded (services.prepayments).
    prepayment = models.OneToOneField(
        Prepayment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="cure_step",
        verbose_name=_("prepayment"),
    )
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["finding_id", "id"]
        verbose_name = _("cure step")
        verbose_name_plural = _("cure steps")
        constraints = [
            # A prepayment step names its prepayment; no other step does.
            models.CheckConstraint(
                name="cure_step_prepayment_iff_kind",
                condition=(Q(kind="prepayment") & Q(prepayment__isnull=False))
                | (~Q(kind="prepayment") & Q(prepayment__isnull=True)),
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} on finding {self.finding_id}"


class RevaluationStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    REPORTED = "reported", _("Reported")


class Revaluation(TimeStamped):
    """A new valuation of a loan's pledged patents, asked of the appraisal firm by a finding's cure."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="revaluations")
    appraiser = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="revaluations")
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    status = FSMField(_("status"), max_length=12, choices=RevaluationStatus.choices, default="requested")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    valuation_date = models.DateField(_("valuation date"), null=True, blank=True)
    valid_until = models.DateField(_("valid until"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("revaluation")
        verbose_name_plural = _("revaluations")

    def __str__(self) -> str:
        return f"revaluation {self.pk} of loan {self.loan_id}"

    @transition(field=status, source=RevaluationStatus.REQUESTED, target=RevaluationStatus.REPORTED)
    def report(self) -> None: ...


class CollateralAppraisal(models.Model):
    """A pledged patent's value from a revaluation (or, for a patent added to the pledge, its
    appraisal); the latest one of a loan's patent replaces the origination value."""

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="appraisals")
    patent = models.ForeignKey(Patent, on_delete=models.PROTECT, related_name="+")
    revaluation = models.ForeignKey(
        Revaluation, on_delete=models.PROTECT, null=True, blank=True, related_name="lines"
    )
    value = MoneyField(_("appraised value"))
    valued_on = models.DateField(_("valuation date"))
    valid_until = models.DateField(_("valid until"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["loan_id", "patent_id", "valued_on", "id"]
        verbose_name = _("collateral appraisal")
        verbose_name_plural = _("collateral appraisals")
        constraints = [
            models.CheckConstraint(name="collateral_appraisal_non_negative", condition=Q(value__gte=0)),
        ]

    def __str__(self) -> str:
        return f"loan {self.loan_id} patent {self.patent_id}: {self.value}"


class Notification(models.Model):
    """A message to one organisation about a finding (read over the API; text in both languages
    from the kind at read time)."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="notifications")
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="notifications")
    event = models.CharField(_("event"), max_length=16)  # raised | resolved
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        constraints = [
            models.UniqueConstraint(fields=["organization", "finding", "event"], name="notification_once")
        ]

    def __str__(self) -> str:
        return f"{self.event} finding {self.finding_id} to {self.organization_id}"
