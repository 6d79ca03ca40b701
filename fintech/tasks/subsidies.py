"""Celery tasks: subsidy runs (thin: a chunk id in, the service does the work; STYLE.md rule 7)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError

from fintech.services import subsidies

__all__ = ["subsidy_chunk"]

logger = logging.getLogger(__name__)

MAX_RETRIES = 5


@shared_task(bind=True, name="fintech.subsidy_chunk", max_retries=MAX_RETRIES)
def subsidy_chunk(self, chunk_id: int) -> None:  # type: ignore[no-untyped-def]
    """Compute one chunk of a subsidy run (reloaded by id; a chunk already done is skipped, so a
    redelivery after a lost acknowledgement or a killed worker changes nothing). A database hiccup
    is retried; any other error fails the run, whose entitlements the next run of the period takes
    over."""
    try:
        subsidies.subsidy_chunk_compute(chunk_id)
    except (OperationalError, InterfaceError) as exc:
        if self.request.retries < MAX_RETRIES:
            raise self.retry(exc=exc, countdown=2**self.request.retries) from exc
        logger.exception("subsidy chunk %s failed for good", chunk_id)
        subsidies.subsidy_chunk_fail(chunk_id, exc)
    except Exception as exc:
        logger.exception("subsidy chunk %s failed", chunk_id)
        subsidies.subsidy_chunk_fail(chunk_id, exc)
