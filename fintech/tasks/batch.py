"""Celery tasks of the chunk engine (services.batch): the retry policy of every chunk task and the
watchdog that beat runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from celery import shared_task
from django.conf import settings

from fintech.services import batch

__all__ = ["batch_watchdog"]


@contextmanager
def retry_transient(task: Any) -> Iterator[None]:
    """Retry a chunk task on a transient error (the engine re-raises one only while retries are
    left), after BATCH_RETRY_BACKOFF x 2^n seconds."""
    try:
        yield
    except batch.TRANSIENT as exc:
        countdown = settings.BATCH_RETRY_BACKOFF * 2**task.request.retries
        raise task.retry(exc=exc, countdown=countdown) from exc


@shared_task(name="fintech.batch_watchdog")
def batch_watchdog() -> dict[str, int]:
    """Periodic (beat): queue again the chunks of subsidy runs, closes and watches that stalled (a worker
    killed, a broker that lost its messages); fail a run whose chunk keeps stalling."""
    # The jobs register when their services are imported.
    from fintech.services import close, subsidies, watch  # noqa: F401

    return batch.watchdog()
