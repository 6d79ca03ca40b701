"""Celery tasks: the collateral watch's legal-status event files (the watch itself runs in the
daily close's chunks)."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from fintech.services import collateral

__all__ = ["patent_event_file_process"]


@shared_task(
    name="fintech.patent_event_file_process",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def patent_event_file_process(file_id: int) -> None:
    """Apply an uploaded legal-status event file; a retry skips the events already recorded."""
    collateral.patent_event_file_process(file_id)
