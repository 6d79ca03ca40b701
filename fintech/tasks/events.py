"""Celery entry points of the webhook relay (services.webhooks)."""

from __future__ import annotations

from celery import shared_task

__all__ = ["notify_endpoint_disabled", "webhooks_relay"]


@shared_task(name="fintech.webhooks_relay", ignore_result=True)
def webhooks_relay() -> dict[str, int]:
    """Periodic (beat) and queued after a commit that owes deliveries: deliver what is due until
    nothing is or the time budget is spent. Several may run at once: SKIP LOCKED shares the rows."""
    from fintech.services.webhooks import relay_drain

    return relay_drain()


@shared_task(
    name="fintech.notify_endpoint_disabled", autoretry_for=(OSError,), retry_backoff=True, max_retries=5
)
def notify_endpoint_disabled(endpoint_id: int) -> None:
    """Email an organisation's users that its webhook endpoint was disabled."""
    from fintech.services.webhooks import endpoint_disabled_notify

    endpoint_disabled_notify(endpoint_id)
