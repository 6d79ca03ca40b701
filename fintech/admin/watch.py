"""Admin: the nightly collateral watches and their chunks, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import OrganizationKind, WatchChunk, WatchRun

from .batch import ChunkInline, chunk_fields
from .display import FormattedFieldsMixin
from .scoping import ReadOnlyAdminMixin

K = OrganizationKind


class WatchChunkInline(ChunkInline):
    model = WatchChunk
    fields = readonly_fields = chunk_fields("loans_watched", "findings_raised", "findings_resolved")


@admin.register(WatchRun)
class WatchRunAdmin(ReadOnlyAdminMixin, FormattedFieldsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The collateral watches (started when a daily close finishes, or by `collateral_watch`):
    progress, stalled chunks the watchdog queued again, findings raised and resolved, and the
    reason of a failed watch. Regulators and platform staff read them."""

    # The list fits a 1,366 px screen: when it finished is on the watch's page.
    list_display = [
        "as_of",
        "status",
        "progress",
        "loans_watched",
        "raised",
        "resolved",
        "started_at",
    ]
    list_filter = ["status"]
    fields = [
        ("as_of", "status"),
        ("chunks_total", "chunks_done", "chunks_requeued"),
        ("loans_total", "loans_watched", "findings_raised", "findings_resolved"),
        ("started_at", "finished_at"),
        "error",
    ]
    readonly_fields = [
        "as_of",
        "status",
        "chunks_total",
        "chunks_done",
        "chunks_requeued",
        "loans_total",
        "loans_watched",
        "findings_raised",
        "findings_resolved",
        "started_at",
        "finished_at",
        "error",
    ]
    inlines = [WatchChunkInline]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.staff_in(request.user, K.REGULATOR)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.staff_in(request.user, K.REGULATOR)

    @admin.display(description=_("chunks"))
    def progress(self, obj: WatchRun) -> str:
        healed = gettext(", %(n)s queued again") % {"n": obj.chunks_requeued} if obj.chunks_requeued else ""
        return f"{obj.chunks_done}/{obj.chunks_total}{healed}"

    @admin.display(description=_("raised"), ordering="findings_raised")
    def raised(self, obj: WatchRun) -> int:
        return obj.findings_raised

    @admin.display(description=_("resolved"), ordering="findings_resolved")
    def resolved(self, obj: WatchRun) -> int:
        return obj.findings_resolved
