"""Celery tasks: subsidy runs (thin: a chunk id in, the engine does the work; STYLE.md rule 7)."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from fintech.services import subsidies

from .batch import retry_transient

__all__ = ["subsidy_chunk"]


@shared_task(
    bind=True,
    name="fintech.subsidy_chunk",
    max_retries=None,  # the engine counts them against settings.BATCH_MAX_RETRIES
    soft_time_limit=settings.BATCH_SOFT_TIME_LIMIT,
    time_limit=settings.BATCH_TIME_LIMIT,
)
def subsidy_chunk(self, chunk_id: int) -> None:  # type: ignore[no-untyped-def]
    """Compute one chunk of a subsidy run (reloaded by id; a chunk already done is skipped, so a
    redelivery after a lost acknowledgement or a killed worker changes nothing). A database hiccup
    is retried with back-off; any other error fails the run, whose entitlements the next run of the
    period takes over."""
    with retry_transient(self):
        subsidies.subsidy_chunk_compute(chunk_id, retries=self.request.retries)
