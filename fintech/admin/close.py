"""Admin: the daily closes and their chunks, read-only (admin.batch.DatedRunAdmin)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from fintech.models import CloseChunk, CloseRun

from .batch import DatedRunAdmin


@admin.register(CloseRun)
class CloseRunAdmin(DatedRunAdmin):
    """The daily closes (started by beat or `close_day`): progress, stalled chunks the watchdog
    queued again, and the reason of a failed close. Regulators and platform staff read them."""

    chunk_model = CloseChunk
    counts = ("loans_closed", "overdue_marked", "defaults_count")
    columns = ("loans_closed", "overdue", "defaults_count")

    @admin.display(description=_("overdue"), ordering="overdue_marked")
    def overdue(self, obj: CloseRun) -> int:
        return obj.overdue_marked
