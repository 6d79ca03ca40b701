"""Thin Celery entry points: take ids or dates, reload, call one service (STYLE.md rule 7)."""

from __future__ import annotations

from datetime import date

from celery import shared_task

from fintech.services.common import business_today
from fintech.services.patents import patents_mark_expired


@shared_task(name="fintech.patents_expire")
def patents_expire(as_of: str | None = None) -> None:
    """Daily: mark patents whose term has ended as expired (idempotent)."""
    patents_mark_expired(as_of=date.fromisoformat(as_of) if as_of else business_today())


@shared_task(name="fintech.notify_organization", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_organization(application_id: int, organization_id: int, what: str) -> None:
    """Email a party's users that an application reached their queue."""
    from fintech.services.notifications import notification_send

    notification_send(application_id=application_id, organization_id=organization_id, what=what)
