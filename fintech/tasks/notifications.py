"""Celery tasks: notifications."""

from __future__ import annotations

from celery import shared_task

__all__ = ["notify_organization"]


@shared_task(name="fintech.notify_organization", autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def notify_organization(application_id: int, organization_id: int, what: str) -> None:
    """Email a party's users that an application reached their queue."""
    from fintech.services.notifications import notification_send

    notification_send(application_id=application_id, organization_id=organization_id, what=what)
