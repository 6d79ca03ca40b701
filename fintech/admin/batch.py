"""The chunks of a run as the chunk engine left them (services.batch), read-only on the run's page:
a stalled or failed chunk shows its attempts, last heartbeat and error; and the read-only admin of a
dated job's runs (the daily closes, the collateral watches), with its progress column."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import DatedRun, OrganizationKind

from .display import FormattedFieldsMixin
from .scoping import ReadOnlyAdminMixin


def chunk_fields(*counts: str) -> tuple[str, ...]:
    """The engine's columns of a chunk, with the job's own counts (`counts`) before its end."""
    return ("lo_id", "hi_id", "status", "attempts", "heartbeat_at", *counts, "finished_at", "error")


class ChunkInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    """A run's chunks; a subclass names the chunk model and `fields = readonly_fields = chunk_fields(...)`."""

    extra = 0
    can_delete = False


class DatedRunAdmin(ReadOnlyAdminMixin, FormattedFieldsMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The runs of a dated job (models.batch.DatedRun), read-only: progress, stalled chunks the
    watchdog queued again, the job's counts, and the reason of a failed run; regulators and
    platform staff read them. A subclass names `chunk_model`, its `counts` (the run's count fields)
    and `columns` (those on the list, which fits a 1,366 px screen: when a run finished is on its
    page); the list, the page and the chunks inline follow."""

    chunk_model: type[Model]
    counts: tuple[str, ...] = ()
    columns: tuple[str, ...] = ()
    list_filter = ["status"]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.list_display = ["as_of", "status", "progress", *cls.columns, "started_at"]
        cls.fields = [
            ("as_of", "status"),
            ("chunks_total", "chunks_done", "chunks_requeued"),
            ("loans_total", *cls.counts),
            ("started_at", "finished_at"),
            "error",
        ]
        cls.readonly_fields = [
            "as_of",
            "status",
            "chunks_total",
            "chunks_done",
            "chunks_requeued",
            "loans_total",
            *cls.counts,
            "started_at",
            "finished_at",
            "error",
        ]
        chunk_model, chunk_columns = cls.chunk_model, chunk_fields(*cls.counts)

        class Chunks(ChunkInline):
            model = chunk_model
            fields = readonly_fields = chunk_columns

        Chunks.__name__ = Chunks.__qualname__ = f"{chunk_model.__name__}Inline"
        Chunks.__module__ = cls.__module__
        cls.inlines = [Chunks]

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return access.staff_in(request.user, OrganizationKind.REGULATOR)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return access.staff_in(request.user, OrganizationKind.REGULATOR)

    @admin.display(description=_("chunks"))
    def progress(self, obj: DatedRun) -> str:
        healed = gettext(", %(n)s queued again") % {"n": obj.chunks_requeued} if obj.chunks_requeued else ""
        return f"{obj.chunks_done}/{obj.chunks_total}{healed}"
