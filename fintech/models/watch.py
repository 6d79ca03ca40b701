"""The nightly collateral watch of a business date (DOMAIN.md section 10a) as its own batch job,
started once the daily close of that date has finished, and its chunks of loans
(services.watch)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from .batch import BatchChunk
from .close import RunStatus


class WatchRun(models.Model):
    """One collateral watch for a business date (one per date: the database refuses a second),
    split into chunks of loans by id range."""

    as_of = models.DateField(_("business date"), unique=True)
    status = FSMField(_("status"), max_length=12, choices=RunStatus.choices, default=RunStatus.PENDING)
    chunks_total = models.PositiveIntegerField(_("chunks"), default=0)
    chunks_done = models.PositiveIntegerField(_("chunks done"), default=0)
    chunks_requeued = models.PositiveIntegerField(
        _("chunks queued again"), default=0, help_text=_("Stalled chunks the watchdog queued again.")
    )
    loans_total = models.PositiveIntegerField(_("loans"), default=0)
    loans_watched = models.PositiveIntegerField(_("loans watched"), default=0)
    findings_raised = models.PositiveIntegerField(_("watch findings raised"), default=0)
    findings_resolved = models.PositiveIntegerField(_("watch findings resolved"), default=0)
    error = models.TextField(_("error"), blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True, verbose_name=_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("collateral watch")
        verbose_name_plural = _("collateral watches")
        constraints = [
            models.CheckConstraint(name="watch_run_status", condition=Q(status__in=RunStatus.values)),
        ]

    def __str__(self) -> str:
        return gettext("collateral watch of %(on)s (%(status)s)") % {
            "on": self.as_of.isoformat(),
            "status": self.get_status_display(),
        }

    @transition(field=status, source=[RunStatus.PENDING, RunStatus.FAILED], target=RunStatus.RUNNING)
    def start_running(self) -> None:
        """Started, or resumed after a failure (services.watch)."""
        self.error = ""

    @transition(field=status, source=RunStatus.RUNNING, target=RunStatus.DONE)
    def finish(self) -> None:
        self.finished_at = timezone.now()

    @transition(field=status, source=[RunStatus.PENDING, RunStatus.RUNNING], target=RunStatus.FAILED)
    def fail(self, error: str) -> None:
        self.error = error[:2000]


class WatchChunk(BatchChunk):
    """Loans lo_id..hi_id of a collateral watch (services.batch)."""

    run = models.ForeignKey(WatchRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run"))
    loans_watched = models.PositiveIntegerField(_("loans watched"), default=0)
    findings_raised = models.PositiveIntegerField(_("watch findings raised"), default=0)
    findings_resolved = models.PositiveIntegerField(_("watch findings resolved"), default=0)

    class Meta(BatchChunk.Meta):
        verbose_name = _("watch chunk")
        verbose_name_plural = _("watch chunks")

    def __str__(self) -> str:
        return gettext("watch %(run)s, loans %(lo)s-%(hi)s") % {
            "run": self.run_id,
            "lo": self.lo_id,
            "hi": self.hi_id,
        }
