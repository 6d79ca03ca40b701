"""Admin: the daily closes and their chunks, read-only."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import CloseChunk, CloseRun, OrganizationKind

from .batch import ChunkInline, chunk_fields
from .display import FormattedFieldsMixin
from .scoping import ReadOnlyAdminMixin

K = OrganizationKind


class CloseChunkInline(ChunkInline):
    model = CloseChunk
    fields = readonly_fields = chunk_fields("loans_closed", "overdue_marked", "defaults_count")


@admin.register(CloseRun)
class CloseRunAdmin(ReadOnlyAdminMixin, FormattedFieldsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The daily closes (started by beat or `close_day`): progress, stalled chunks the watchdog
    queued again, and the reason of a failed close. Regulators and platform staff read them."""

    # The list fits a 1,366 px screen: when it finished is on the close's page.
    list_display = [
        "as_of",
        "status",
        "progress",
        "loans_closed",
        "overdue",
        "defaults_count",
        "started_at",
    ]
    list_filter = ["status"]
    fields = [
        ("as_of", "status"),
        ("chunks_total", "chunks_done", "chunks_requeued"),
        ("loans_total", "loans_closed", "overdue_marked", "defaults_count"),
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
        "loans_closed",
        "overdue_marked",
        "defaults_count",
        "started_at",
        "finished_at",
        "error",
    ]
    inlines = [CloseChunkInline]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.staff_in(request.user, K.REGULATOR)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.staff_in(request.user, K.REGULATOR)

    @admin.display(description=_("chunks"))
    def progress(self, obj: CloseRun) -> str:
        healed = gettext(", %(n)s queued again") % {"n": obj.chunks_requeued} if obj.chunks_requeued else ""
        return f"{obj.chunks_done}/{obj.chunks_total}{healed}"

    @admin.display(description=_("overdue"), ordering="overdue_marked")
    def overdue(self, obj: CloseRun) -> int:
        return obj.overdue_marked
