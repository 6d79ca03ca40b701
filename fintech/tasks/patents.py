"""Celery tasks: patents."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from fintech.services.common import business_today
from fintech.services.patents import patents_mark_expired

__all__ = ["patents_expire"]


@shared_task(name="fintech.patents_expire")
def patents_expire(as_of: str | None = None) -> None:
    """Daily: mark patents whose term has ended as expired (idempotent)."""
    patents_mark_expired(as_of=date.fromisoformat(as_of) if as_of else business_today())
