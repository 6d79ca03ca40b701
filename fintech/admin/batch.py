"""The chunks of a run as the chunk engine left them (services.batch), read-only on the run's page:
a stalled or failed chunk shows its attempts, last heartbeat and error."""

from __future__ import annotations

from django.contrib import admin

from .scoping import ReadOnlyAdminMixin


def chunk_fields(*counts: str) -> tuple[str, ...]:
    """The engine's columns of a chunk, with the job's own counts (`counts`) before its end."""
    return ("lo_id", "hi_id", "status", "attempts", "heartbeat_at", *counts, "finished_at", "error")


class ChunkInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    """A run's chunks; a subclass names the chunk model and `fields = readonly_fields = chunk_fields(...)`."""

    extra = 0
    can_delete = False
