"""Admin: the nightly collateral watches and their chunks, read-only (admin.batch.DatedRunAdmin)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from fintech.models import WatchChunk, WatchRun

from .batch import DatedRunAdmin


@admin.register(WatchRun)
class WatchRunAdmin(DatedRunAdmin):
    """The collateral watches (started when a daily close finishes, or by `collateral_watch`):
    progress, stalled chunks the watchdog queued again, findings raised and resolved, and the
    reason of a failed watch. Regulators and platform staff read them."""

    chunk_model = WatchChunk
    counts = ("loans_watched", "findings_raised", "findings_resolved")
    columns = ("loans_watched", "raised", "resolved")

    @admin.display(description=_("raised"), ordering="findings_raised")
    def raised(self, obj: WatchRun) -> int:
        return obj.findings_raised

    @admin.display(description=_("resolved"), ordering="findings_resolved")
    def resolved(self, obj: WatchRun) -> int:
        return obj.findings_resolved
