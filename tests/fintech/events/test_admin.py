"""The admin's webhook screens: an organisation's staff see their own endpoints and deliveries only,
register an endpoint through the same service as the API, and replay a delivery with a button."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from fintech.models import WebhookDelivery, WebhookEndpoint
from fintech.services.webhooks import endpoint_create
from tests.builders import active_loan, cast

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_RELAY_ON_COMMIT = False


def _admin(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_staff_register_an_endpoint_and_replay_a_delivery_of_their_own_only() -> None:
    a, b = cast(), cast()
    admin_a = _admin(a.bank)
    # When bank A's staff register an endpoint in the admin
    response = admin_a.post(
        reverse("admin:fintech_webhookendpoint_add"),
        {"url": "http://127.0.0.1:9/hook", "description": "core", "event_types": ["loan.disbursed"]},
    )
    assert response.status_code == 302, response.content
    endpoint = WebhookEndpoint.objects.get()
    assert (endpoint.organization_id, endpoint.event_types) == (a.bank.organization_id, ["loan.disbursed"])
    assert endpoint.secret.startswith("whsec_")
    # ... and one of bank B exists too: A's list shows A's only, B's page is not found for A
    other = endpoint_create(actor=b.bank, url="http://127.0.0.1:9/b", event_types=[])
    listing = admin_a.get(reverse("admin:fintech_webhookendpoint_changelist")).content.decode()
    assert "127.0.0.1:9/hook" in listing and "127.0.0.1:9/b" not in listing
    assert admin_a.get(reverse("admin:fintech_webhookendpoint_change", args=[other.pk])).status_code == 302
    # A loan of bank A is disbursed: one delivery owed to A's endpoint (its only subscribed type)
    active_loan(people=a)
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status="dead", attempts=8)
    url = reverse("admin:fintech_webhookdelivery_webhook_action", args=[delivery.pk, "replay"])
    assert admin_a.post(url, {}).status_code == 302
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == ("pending", 0)
    # Bank B's staff cannot open it
    assert _admin(b.bank).post(url, {}).status_code in (302, 403, 404)
    delivery.refresh_from_db()
    assert delivery.status == "pending"


def test_the_secret_is_shown_once_after_registering_and_never_on_the_endpoints_page() -> None:
    people = cast()
    admin = _admin(people.bank)
    response = admin.post(
        reverse("admin:fintech_webhookendpoint_add"),
        {"url": "http://127.0.0.1:9/hook", "description": "core", "event_types": []},
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    # Shown in the message after registering ...
    assert endpoint.secret in response.content.decode()
    # ... and not on the endpoint's page afterwards
    page = admin.get(reverse("admin:fintech_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and endpoint.secret not in page.content.decode()
