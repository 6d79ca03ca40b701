"""`kill -9` of a real relay worker in the middle of a batch loses nothing (marked `broker`: a real
Celery worker, Redis and PostgreSQL; skipped with the reason elsewhere). The killed worker had
claimed the batch under a lease (committed) and was posting outside any transaction: nothing of its
outcomes is recorded, no other relay takes the rows while the lease lasts, and once it has passed
the next worker sends the batch again: duplicates only, each with the webhook-id (and body) it had
the first time."""

from __future__ import annotations

import time
from collections import defaultdict
from typing import Any

import pytest
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from fintech import tasks
from fintech.models import Event, Loan, User, WebhookDelivery
from fintech.services.events import Change, events_emit
from fintech.services.webhooks import endpoint_create
from tests import celery_worker as harness
from tests.builders import active_loan, cast
from tests.figures import figure

from .receiver import receiver

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

queue = harness.queue
workers = harness.workers

RELAY_ENV = {
    "WEBHOOK_ALLOW_PRIVATE_HOSTS": "1",
    "WEBHOOK_RELAY_ON_COMMIT": "0",
    "WEBHOOK_RELAY_BATCH": "3",  # one batch holds the three lanes ...
    "WEBHOOK_RELAY_LANE_DEPTH": "100",  # ... with all their deliveries
    "WEBHOOK_RELAY_BUDGET_SECONDS": "120",
    "WEBHOOK_RETRY_SCHEDULE": "0,0,0,0,0,0,0,0",
    "WEBHOOK_TIMEOUT_SECONDS": "2",
    "WEBHOOK_RELAY_LEASE_SECONDS": "10",  # a POST may start up to 10 - 2 - 2 = 6 s after the claim
}


def _book() -> tuple[list[Loan], User]:
    """Three active loans of one bank (6 events each)."""
    people = cast()
    return [active_loan(people=people)[0] for _ in range(3)], people.bank


def test_kill_9_of_the_relay_mid_batch_loses_nothing(settings: Any, workers: Any, tmp_path: Any) -> None:
    # Given a receiver slow enough (20 ms a request) for the batch to be caught half way
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    settings.WEBHOOK_RELAY_ON_COMMIT = False
    with receiver(delay=0.02) as rx, harness.sending_to(workers.queue):
        loans, bank = _book()
        # and its bank's endpoint, owed 60 more events on each loan (written after it)
        endpoint = endpoint_create(actor=bank, url=f"{rx.url}/slow", event_types=[])
        for loan in loans:
            with transaction.atomic():
                events_emit(
                    "repayment.posted",
                    Loan,
                    [Change(loan.pk, {"amount": f"{n}.00", "details": {"n": n}}) for n in range(60)],
                )
        owed = WebhookDelivery.objects.filter(endpoint=endpoint).count()
        assert owed == 3 * 60  # the builder's events came before the endpoint existed
        slow_rx = rx
        # When a relay worker takes the batch and is killed (SIGKILL) after 40 POSTs
        original = slow_rx.received
        doomed = workers.start(env={**RELAY_ENV, "WEBHOOK_RELAY_THREADS": "1"})
        tasks.webhooks_relay.delay()
        doomed.wait_for(lambda: len(original) >= 40, "40 deliveries to reach the receiver")
        doomed.kill()
        time.sleep(0.5)  # a request in flight at the kill reaches the receiver's log after its 20 ms
        sent_before_kill = len(slow_rx.received)
        # Then none of them was recorded as delivered (outcomes are recorded after the POSTs), and
        # all 180 are still leased to the dead worker: not due before the lease's end
        owed_rows = WebhookDelivery.objects.filter(endpoint=endpoint)
        assert owed_rows.filter(status="delivered").count() == 0
        assert owed_rows.filter(status="pending", next_attempt_at__gt=timezone.now()).count() == 3 * 60
        lease_end = owed_rows.aggregate(m=Max("next_attempt_at"))["m"]
        # When a new worker relays once the lease has passed
        healer = workers.start(env=RELAY_ENV)
        time.sleep(max(0.0, (lease_end - timezone.now()).total_seconds()) + 0.5)
        assert len(slow_rx.received) == sent_before_kill  # nobody sent them meanwhile
        tasks.webhooks_relay.delay()
        healer.wait_for(
            lambda: not WebhookDelivery.objects.filter(endpoint=endpoint, status="pending").exists(),
            "every delivery to be made",
            timeout=120,
        )
        # Then every event reached the receiver; the repeats carry the first webhook-id and body
        ids = set(Event.objects.filter(deliveries__endpoint=endpoint).values_list("pk", flat=True))
        bodies: dict[str, bytes] = {}
        for r in slow_rx.accepted():
            assert bodies.setdefault(r.headers["webhook-id"], r.body) == r.body
        assert {int(i) for i in bodies} == ids
        duplicates = len(slow_rx.accepted()) - len(bodies)
        assert 0 < duplicates <= sent_before_kill
        # ... and per financing, each receipt is a repeat or the next version: no gap, no reorder
        top: dict[int, int] = defaultdict(int)
        first_version = {loan.application_id: 7 for loan in loans}  # 6 builder events came first
        for r in slow_rx.accepted():
            aggregate = r.event["aggregate"]
            key, version = aggregate["id"], aggregate["version"]
            if version <= top[key]:
                continue
            assert version == (top[key] + 1 if top[key] else first_version[key])
            top[key] = version
        assert all(v == 66 for v in top.values())
        figure(
            "faults_kill9_relay",
            f"faults kill9_mid_relay_batch events={len(ids)} lost=0 duplicated={duplicates} "
            f"(same webhook-id) sent_before_kill={sent_before_kill}",
        )
