"""Celery tasks: the daily close (services.close). Thin: they take a chunk id or a date, the
service reloads and skips work already done."""

from __future__ import annotations

from datetime import date

from celery import shared_task
from django.conf import settings

from fintech.services.close import close_chunk_process, close_run_dispatch
from fintech.services.common import business_today

from .batch import retry_transient

__all__ = ["close_chunk", "close_day_beat"]


@shared_task(
    bind=True,
    name="fintech.close_chunk",
    max_retries=None,  # the engine counts them against settings.BATCH_MAX_RETRIES
    soft_time_limit=settings.BATCH_SOFT_TIME_LIMIT,
    time_limit=settings.BATCH_TIME_LIMIT,
)
def close_chunk(self, chunk_id: int) -> None:  # type: ignore[no-untyped-def]
    """Close one chunk of loans (idempotent: a chunk already done is skipped). Redelivered by the
    broker when its worker dies mid-way (acks_late, reject_on_worker_lost), queued again by the
    watchdog when the message was lost; a database hiccup is retried with back-off."""
    with retry_transient(self):
        close_chunk_process(chunk_id, retries=self.request.retries)


@shared_task(name="fintech.close_day_beat")
def close_day_beat(as_of: str | None = None) -> None:
    """Daily (Celery beat, 00:30 Asia/Shanghai): start or resume the close for today and queue its
    chunks; it does not wait for them, so it never holds a worker the chunks need."""
    close_run_dispatch(date.fromisoformat(as_of) if as_of else business_today())
