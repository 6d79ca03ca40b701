"""Servicing: bank repayment files, repayment reversals, the daily close and its chunks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .batch import BatchChunk
from .parties import Organization
from .repayments import Repayment


class FileStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PROCESSING = "processing", _("Processing")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class RepaymentFile(models.Model):
    """A bank's daily repayment file (CSV: loan,amount,value_date,transaction_id)."""

    bank = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="repayment_files")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    filename = models.CharField(_("file name"), max_length=200, blank=True, default="")
    content = models.TextField(_("content"))
    status = models.CharField(
        _("status"), max_length=12, choices=FileStatus.choices, default=FileStatus.PENDING
    )
    lines_total = models.PositiveIntegerField(_("lines"), default=0)
    lines_done = models.PositiveIntegerField(_("lines processed"), default=0)
    lines_applied = models.PositiveIntegerField(_("lines applied"), default=0)
    lines_rejected = models.PositiveIntegerField(_("lines rejected"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("repayment file")
        verbose_name_plural = _("repayment files")

    def __str__(self) -> str:
        return f"{self.filename or 'file'} #{self.pk} ({self.get_status_display()})"


class RepaymentFileLine(models.Model):
    """One processed line: applied (with its repayment) or rejected (with the reason)."""

    file = models.ForeignKey(RepaymentFile, on_delete=models.CASCADE, related_name="lines")
    line = models.PositiveIntegerField(_("line"))
    transaction_id = models.CharField(_("bank transaction id"), max_length=100, blank=True, default="")
    repayment = models.OneToOneField(
        Repayment, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")

    class Meta:
        ordering = ["file_id", "line"]
        verbose_name = _("repayment file line")
        verbose_name_plural = _("repayment file lines")
        constraints = [models.UniqueConstraint(fields=["file", "line"], name="file_line_once")]

    def __str__(self) -> str:
        return f"file {self.file_id} line {self.line}"


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


class RunStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")


class CloseRun(models.Model):
    """One daily close for a business date, split into chunks of loans by id range."""

    as_of = models.DateField(_("business date"), db_index=True)
    status = FSMField(_("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    chunks_requeued = models.PositiveIntegerField(
        _("chunks queued again"), default=0, help_text=_("Stalled chunks the watchdog queued again.")
    )
    loans_total = models.PositiveIntegerField(_("loans"), default=0)
    loans_closed = models.PositiveIntegerField(_("loans closed"), default=0)
    overdue_marked = models.PositiveIntegerField(_("installments marked overdue"), default=0)
    defaults_count = models.PositiveIntegerField(_("defaults"), default=0)
    findings_raised = models.PositiveIntegerField(_("watch findings raised"), default=0)
    findings_resolved = models.PositiveIntegerField(_("watch findings resolved"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("daily close")
        verbose_name_plural = _("daily closes")

    def __str__(self) -> str:
        return f"close {self.as_of} ({self.get_status_display()})"

    @transition(field=status, source=[RunStatus.PENDING, RunStatus.FAILED], target=RunStatus.RUNNING)
    def start_running(self) -> None:
        """Started, or resumed after a failure (services.close)."""
        self.error = ""

    @transition(field=status, source=RunStatus.RUNNING, target=RunStatus.DONE)
    def finish(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=status, source=[RunStatus.PENDING, RunStatus.RUNNING], target=RunStatus.FAILED)
    def fail(self, error: str) -> None:
        self.error = error[:2000]


class CloseChunk(BatchChunk):
    """Loans lo_id..hi_id of a daily close (services.batch)."""

    run = models.ForeignKey(CloseRun, on_delete=models.CASCADE, related_name="chunks")
    loans_closed = models.PositiveIntegerField(_("loans closed"), default=0)
    overdue_marked = models.PositiveIntegerField(_("installments marked overdue"), default=0)
    defaults_count = models.PositiveIntegerField(_("defaults"), default=0)
    findings_raised = models.PositiveIntegerField(_("watch findings raised"), default=0)
    findings_resolved = models.PositiveIntegerField(_("watch findings resolved"), default=0)

    class Meta(BatchChunk.Meta):
        verbose_name = _("close chunk")
        verbose_name_plural = _("close chunks")

    def __str__(self) -> str:
        return f"close {self.run_id} loans {self.lo_id}-{self.hi_id}"
