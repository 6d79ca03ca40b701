"""The nightly collateral watch of a business date (DOMAIN.md section 10a) as its own batch job,
started once the daily close of that date has finished, and its chunks of loans
(services.watch), on the dated-job bases (models.batch)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from .batch import DatedChunk, DatedRun, RunStatus


class WatchRun(DatedRun):
    """One collateral watch for a business date (one per date: the database refuses a second)."""

    as_of = models.DateField(_("business date"), unique=True)
    loans_watched = models.PositiveIntegerField(_("loans watched"), default=0)
    findings_raised = models.PositiveIntegerField(_("watch findings raised"), default=0)
    findings_resolved = models.PositiveIntegerField(_("watch findings resolved"), default=0)

    describe = _("collateral watch of %(on)s (%(status)s)")

    class Meta(DatedRun.Meta):
        verbose_name = _("collateral watch")
        verbose_name_plural = _("collateral watches")
        constraints = [
            models.CheckConstraint(name="watch_run_status", condition=Q(status__in=RunStatus.values)),
        ]


class WatchChunk(DatedChunk):
    """Loans lo_id..hi_id of a collateral watch (services.batch)."""

    run = models.ForeignKey(WatchRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run"))
    loans_watched = models.PositiveIntegerField(_("loans watched"), default=0)
    findings_raised = models.PositiveIntegerField(_("watch findings raised"), default=0)
    findings_resolved = models.PositiveIntegerField(_("watch findings resolved"), default=0)

    describe = _("watch %(run)s, loans %(lo)s-%(hi)s")

    class Meta(DatedChunk.Meta):
        verbose_name = _("watch chunk")
        verbose_name_plural = _("watch chunks")
