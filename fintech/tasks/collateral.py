"""Celery tasks of the collateral watch: the legal-status event files, and the nightly watch job
(services.watch). Thin: they take a chunk id, a file id or a date; the service reloads and skips
work already done."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from fintech.services import collateral
from fintech.services.watch import watch_after_close, watch_chunk_process

from .batch import retry_transient

__all__ = ["collateral_watch_chunk", "collateral_watch_start", "patent_event_file_process"]


@shared_task(
    name="fintech.patent_event_file_process",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def patent_event_file_process(file_id: int) -> None:
    """Apply an uploaded legal-status event file; a retry skips the events already recorded."""
    collateral.patent_event_file_process(file_id)


@shared_task(
    name="fintech.collateral_watch_start",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def collateral_watch_start(as_of: str) -> None:
    """Queued when a daily close finishes: start that date's watch and queue its chunks, unless the
    date's watch run exists already (idempotent)."""
    watch_after_close(date.fromisoformat(as_of))


@shared_task(
    bind=True,
    name="fintech.collateral_watch_chunk",
    max_retries=None,  # the engine counts them against settings.BATCH_MAX_RETRIES
    soft_time_limit=settings.BATCH_SOFT_TIME_LIMIT,
    time_limit=settings.BATCH_TIME_LIMIT,
)
def collateral_watch_chunk(self, chunk_id: int) -> None:  # type: ignore[no-untyped-def]
    """Watch one chunk of loans (idempotent: a chunk already done is skipped); redelivered or
    queued again by the watchdog like the close's chunks; a database hiccup retried with back-off."""
    with retry_transient(self):
        watch_chunk_process(chunk_id, retries=self.request.retries)
