"""The daily close of a business date (overdue installments, defaults) and its chunks of loans
(services.close)."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .batch import BatchChunk


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
    error = models.TextField(_("error"), blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("daily close")
        verbose_name_plural = _("daily closes")

    def __str__(self) -> str:
        return gettext("close of %(on)s (%(status)s)") % {
            "on": self.as_of.isoformat(),
            "status": self.get_status_display(),
        }

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

    run = models.ForeignKey(CloseRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run"))
    loans_closed = models.PositiveIntegerField(_("loans closed"), default=0)
    overdue_marked = models.PositiveIntegerField(_("installments marked overdue"), default=0)
    defaults_count = models.PositiveIntegerField(_("defaults"), default=0)

    class Meta(BatchChunk.Meta):
        verbose_name = _("close chunk")
        verbose_name_plural = _("close chunks")

    def __str__(self) -> str:
        return gettext("close %(run)s, loans %(lo)s-%(hi)s") % {
            "run": self.run_id,
            "lo": self.lo_id,
            "hi": self.hi_id,
        }
