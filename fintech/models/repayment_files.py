"""Bank repayment files and their processed lines (services.repayment_files)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext
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

    bank = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="repayment_files", verbose_name=_("bank")
    )
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("uploaded by")
    )
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
    # The uploader's language: the per-line reasons are written in it, whichever worker runs.
    language = models.CharField(_("language"), max_length=16, default="en")
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("repayment file")
        verbose_name_plural = _("repayment files")

    def __str__(self) -> str:
        return f"{self.filename or gettext('file')} #{self.pk} ({self.get_status_display()})"


class RepaymentFileLine(models.Model):
    """One processed line: applied (with its repayment) or rejected (with the reason)."""

    file = models.ForeignKey(
        RepaymentFile, on_delete=models.CASCADE, related_name="lines", verbose_name=_("repayment file")
    )
    line = models.PositiveIntegerField(_("line"))
    transaction_id = models.CharField(_("bank transaction id"), max_length=100, blank=True, default="")
    repayment = models.OneToOneField(
        Repayment,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("repayment"),
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True, default="")

    class Meta:
        ordering = ["file_id", "line"]
        verbose_name = _("repayment file line")
        verbose_name_plural = _("repayment file lines")
        constraints = [models.UniqueConstraint(fields=["file", "line"], name="file_line_once")]

    def __str__(self) -> str:
        return gettext("file %(file)s line %(line)s") % {"file": self.file_id, "line": self.line}
