"""Celery tasks: the daily close (services.close). Thin: they take a chunk id or a date, the
service reloads and skips work already done."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from fintech.services.close import close_chunk_process, close_run_dispatch
from fintech.services.common import business_today

__all__ = ["close_chunk", "close_day_beat"]


@shared_task(name="fintech.close_chunk")
def close_chunk(chunk_id: int) -> None:
    """Close one chunk of loans (idempotent: a chunk already done is skipped). Redelivered by the
    broker when its worker dies mid-way (acks_late, reject_on_worker_lost)."""
    close_chunk_process(chunk_id)


@shared_task(name="fintech.close_day_beat")
def close_day_beat(as_of: str | None = None) -> None:
    """Daily (Celery beat, 00:30 Asia/Shanghai): start or resume the close for today and queue its
    chunks; it does not wait for them, so it never holds a worker the chunks need."""
    close_run_dispatch(date.fromisoformat(as_of) if as_of else business_today())
