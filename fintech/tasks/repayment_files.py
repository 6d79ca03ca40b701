"""Celery tasks: bank repayment files."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from fintech.services import repayment_files

__all__ = ["repayment_file_process"]


@shared_task(
    name="fintech.repayment_file_process",
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    max_retries=5,
)
def repayment_file_process(file_id: int) -> None:
    """Apply an uploaded repayment file; a retry resumes after the lines already recorded."""
    repayment_files.repayment_file_process(file_id)
