"""Webhooks end to end against a real HTTP receiver on the loopback: registered through the API,
signed per Standard Webhooks (checked with the reference verifier), retried through a receiver's
outage, in order per financing, and never to another organisation."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from fintech.models import Event, EventRecipient, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from fintech.services.repayments import repayment_record
from fintech.services.webhooks import relay_batch, relay_drain, signature_header
from tests.builders import active_loan, cast

from .receiver import receiver

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _loopback(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver is on 127.0.0.1
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    settings.WEBHOOK_RETRY_SCHEDULE = [0] * 40  # retries due at once: the test need not wait
    settings.WEBHOOK_RELAY_ON_COMMIT = False


def _register(client: Any, url: str, types: list[str] | None = None) -> dict[str, Any]:
    response = client.post(
        "/api/v1/webhook-endpoints/",
        {"url": url, "event_types": types or [], "description": "core"},
        format="json",
    )
    assert response.status_code == 201, response.content
    return response.json()


def _drain(rounds: int = 400) -> None:
    for _ in range(rounds):
        relay_batch()
        if not WebhookDelivery.objects.filter(status="pending").exists():
            return
    raise AssertionError("deliveries still pending")


def test_a_banks_receiver_sees_its_loans_life_in_order_through_an_outage(client_for: Any) -> None:
    # Given bank A and bank B with a receiver each, registered over the API, and a receiver that
    # answers 500 (40 %) or too late (15 %) to its first 40 requests, at random (seeded)
    rng = random.Random(15)
    plan = {n: rng.choices(["ok", "fail", "stall"], [45, 40, 15])[0] for n in range(40)}
    with receiver(lambda n: plan.get(n, "ok")) as rx:
        a, b = cast(), cast()
        ep_a = _register(client_for(a.bank), f"{rx.url}/a")
        ep_b = _register(client_for(b.bank), f"{rx.url}/b")
        assert ep_a["secret"].startswith("whsec_") and ep_a["status"] == "active"
        # When two loans of bank A and one of bank B go through their life and get a repayment
        loans_a = [active_loan(people=a)[0] for _ in range(2)]
        loan_b, _ = active_loan(people=b)
        for loan, people in ((loans_a[0], a), (loans_a[1], a), (loan_b, b)):
            repayment_record(
                actor=people.bank, loan_id=loan.pk, amount=Decimal("1000.00"), paid_on=date(2025, 3, 1)
            )
        _drain()
        # Then every event bank A is entitled to reached /a, signed with A's secret
        entitled_a = set(
            EventRecipient.objects.filter(organization_id=a.bank.organization_id).values_list(
                "event_id", flat=True
            )
        )
        got_a = rx.accepted("/a")
        verifier = Webhook(ep_a["secret"])
        for r in got_a:
            assert verifier.verify(r.body, r.headers)["id"] == int(r.headers["webhook-id"])
        assert {int(r.headers["webhook-id"]) for r in got_a} == entitled_a
        # 2 loans x (submitted, valuation, policy, approved, premium, disbursed, repayment) = 14
        assert len(entitled_a) == 14
        # ... in order per financing: the accepted versions of each aggregate are 1, 2, ... 7
        # (a retry repeats the same webhook-id, never an older version after a newer one)
        seen: dict[int, list[int]] = defaultdict(list)
        for r in got_a:
            aggregate = r.event["aggregate"]
            if aggregate["version"] not in seen[aggregate["id"]]:
                seen[aggregate["id"]].append(aggregate["version"])
        assert sorted(seen) == sorted(loan.application_id for loan in loans_a)
        assert all(versions == list(range(1, 8)) for versions in seen.values())
        # ... and nothing of bank B's reached /a (nor of A's /b); B's verify with B's secret only
        assert not any(r.event["data"]["application"] == loan_b.application_id for r in got_a)
        got_b = rx.accepted("/b")
        assert {r.event["data"]["application"] for r in got_b} == {loan_b.application_id}
        assert all(Webhook(ep_b["secret"]).verify(r.body, r.headers) for r in got_b)
        # The outage happened and was logged: failed attempts with their code (500) or none (timeout)
        assert rx.received[:40] and any(r.answer != 200 for r in rx.received[:40])
        assert WebhookAttempt.objects.filter(response_code=500).exists()
        assert WebhookAttempt.objects.filter(response_code=None).exclude(error="").exists()
        assert not WebhookDelivery.objects.exclude(status="delivered").exists()


def test_two_signatures_while_a_rotated_secret_is_still_valid(client_for: Any) -> None:
    people = cast()
    created = _register(client_for(people.bank), "http://127.0.0.1:9/x")
    rotated = client_for(people.bank).post(f"/api/v1/webhook-endpoints/{created['id']}/rotate-secret/").json()
    endpoint = WebhookEndpoint.objects.get(pk=created["id"])
    at = timezone.now()
    header = signature_header(endpoint, "42", at, b'{"id":42}')
    headers = {"webhook-id": "42", "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": header}
    # Both secrets verify during the overlap (24 hours by default)
    assert len(header.split(" ")) == 2
    assert Webhook(created["secret"]).verify(b'{"id":42}', headers) == {"id": 42}
    assert Webhook(rotated["secret"]).verify(b'{"id":42}', headers) == {"id": 42}
    # After it, the old secret no longer signs
    later = at + timedelta(hours=25)
    assert len(signature_header(endpoint, "42", later, b"{}").split(" ")) == 1


def test_dead_letter_after_the_schedule_then_replay_over_the_api(client_for: Any, settings: Any) -> None:
    settings.WEBHOOK_RETRY_SCHEDULE = [0, 0]  # three attempts in all
    with receiver(lambda n: "fail" if n < 3 else "ok") as rx:
        people = cast()
        ep = _register(client_for(people.bank), f"{rx.url}/hook", ["loan.disbursed"])
        loan, _ = active_loan(people=people)
        for _ in range(3):
            relay_batch()
        delivery = WebhookDelivery.objects.get(endpoint_id=ep["id"])
        assert (delivery.status, delivery.attempts) == ("dead", 3)
        assert relay_batch()["claimed"] == 0  # dead: no more attempts
        # The bank replays it; the receiver is back
        response = client_for(people.bank).post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay/")
        assert response.status_code == 202 and response.json()["status"] == "pending"
        assert relay_batch()["delivered"] == 1
        log = client_for(people.bank).get(f"/api/v1/webhook-endpoints/{ep['id']}/deliveries/").json()
        assert log["count"] == 1 and log["results"][0]["status"] == "delivered"
        assert [a["response_code"] for a in log["results"][0]["attempt_log"]] == [500, 500, 500, 200]
        assert rx.accepted()[0].event["type"] == "loan.disbursed"
        assert rx.accepted()[0].event["data"]["loan"] == loan.pk
        # Another bank can neither see nor replay it
        other = cast()
        assert (
            client_for(other.bank).post(f"/api/v1/webhook-deliveries/{delivery.pk}/replay/").status_code
            == 404
        )
        assert (
            client_for(other.bank).get(f"/api/v1/webhook-endpoints/{ep['id']}/deliveries/").status_code == 404
        )


def test_an_endpoint_failing_for_days_is_disabled_and_its_users_told(
    client_for: Any, django_capture_on_commit_callbacks: Any
) -> None:
    people = cast()
    people.bank.email = "ops@bank.example"
    people.bank.save()
    ep = _register(client_for(people.bank), "http://127.0.0.1:9/down")
    WebhookEndpoint.objects.filter(pk=ep["id"]).update(failing_since=timezone.now() - timedelta(days=6))
    with django_capture_on_commit_callbacks(execute=True):
        relay_drain(budget_seconds=0)
    endpoint = WebhookEndpoint.objects.get(pk=ep["id"])
    assert endpoint.status == "disabled" and endpoint.disabled_reason.startswith("failing since")
    assert len(mail.outbox) == 1 and "http://127.0.0.1:9/down" in mail.outbox[0].body
    assert "停用" in mail.outbox[0].body  # the same notice in Chinese
    # Its organisation's new events owe it nothing while it is disabled; set active, it resumes
    loan, _ = active_loan(people=people)
    assert not WebhookDelivery.objects.filter(endpoint=endpoint).exists()
    response = client_for(people.bank).patch(
        f"/api/v1/webhook-endpoints/{ep['id']}/", {"status": "active"}, format="json"
    )
    assert response.json()["status"] == "active" and response.json()["failing_since"] is None
    assert Event.objects.filter(aggregate_id=loan.application_id).count() == 6


def test_a_delivery_of_an_event_not_naming_the_organisation_is_never_posted(client_for: Any) -> None:
    # Given bank B's endpoint and, written by hand (the outbox never does), a delivery to it of an
    # event of bank A's loan
    with receiver() as rx:
        a, b = cast(), cast()
        loan, _ = active_loan(people=a)
        ep_b = _register(client_for(b.bank), f"{rx.url}/b")
        event = Event.objects.filter(aggregate_id=loan.application_id).first()
        assert event is not None
        WebhookDelivery.objects.create(
            endpoint_id=ep_b["id"],
            event=event,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            aggregate_version=event.aggregate_version,
            next_attempt_at=timezone.now(),
        )
        # When the relay runs, then nothing reaches B and the delivery is dead-lettered
        relay_batch()
        assert rx.received == []
        delivery = WebhookDelivery.objects.get(endpoint_id=ep_b["id"])
        assert delivery.status == "dead"
        assert WebhookAttempt.objects.get(delivery=delivery).error.startswith("not entitled")
