"""Servicing: bank repayment files, repayment reversals, the daily close and its chunks."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

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
    status = models.CharField(
        _("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING
    )
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    loans_total = models.PositiveIntegerField(_("loans"), default=0)
    loans_closed = models.PositiveIntegerField(_("loans closed"), default=0)
    overdue_marked = models.PositiveIntegerField(_("installments marked overdue"), default=0)
    defaults_count = models.PositiveIntegerField(_("defaults"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("daily close")
        verbose_name_plural = _("daily closes")

    def __str__(self) -> str:
        return f"close {self.as_of} ({self.get_status_display()})"


class CloseChunk(models.Model):
    run = models.ForeignKey(CloseRun, on_delete=models.CASCADE, related_name="chunks")
    lo_id = models.BigIntegerField(_("from loan id"))
    hi_id = models.BigIntegerField(_("to loan id"))
    status = models.CharField(
        _("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING
    )
    loans_closed = models.PositiveIntegerField(default=0)
    overdue_marked = models.PositiveIntegerField(default=0)
    defaults_count = models.PositiveIntegerField(default=0)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["run_id", "lo_id"]
        verbose_name = _("close chunk")
        verbose_name_plural = _("close chunks")
        constraints = [
            models.UniqueConstraint(fields=["run", "lo_id"], name="close_chunk_once"),
            models.CheckConstraint(name="close_chunk_range", condition=Q(lo_id__lte=models.F("hi_id"))),
        ]

    def __str__(self) -> str:
        return f"close {self.run_id} loans {self.lo_id}-{self.hi_id}"
