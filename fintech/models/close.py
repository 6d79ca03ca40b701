"""The daily close of a business date (overdue installments, defaults) and its chunks of loans
(services.close), on the dated-job bases (models.batch)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .batch import DatedChunk, DatedRun, RunStatus

__all__ = ["CloseChunk", "CloseRun", "RunStatus"]


class CloseRun(DatedRun):
    """One daily close for a business date (a date closed again after its run is done gets a new run)."""

    loans_closed = models.PositiveIntegerField(_("loans closed"), default=0)
    overdue_marked = models.PositiveIntegerField(_("installments marked overdue"), default=0)
    defaults_count = models.PositiveIntegerField(_("defaults"), default=0)

    describe = _("close of %(on)s (%(status)s)")

    class Meta(DatedRun.Meta):
        verbose_name = _("daily close")
        verbose_name_plural = _("daily closes")


class CloseChunk(DatedChunk):
    """Loans lo_id..hi_id of a daily close (services.batch)."""

    run = models.ForeignKey(CloseRun, on_delete=models.CASCADE, related_name="chunks", verbose_name=_("run"))
    loans_closed = models.PositiveIntegerField(_("loans closed"), default=0)
    overdue_marked = models.PositiveIntegerField(_("installments marked overdue"), default=0)
    defaults_count = models.PositiveIntegerField(_("defaults"), default=0)

    describe = _("close %(run)s, loans %(lo)s-%(hi)s")

    class Meta(DatedChunk.Meta):
        verbose_name = _("close chunk")
        verbose_name_plural = _("close chunks")
