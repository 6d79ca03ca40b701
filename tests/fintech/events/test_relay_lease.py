"""The relay's lease (services.webhooks): a batch is claimed and leased in a committed transaction,
posted outside any transaction, and recorded in a second short one. Another relay takes nothing of
a leased batch until the lease ends, then sends it again with the same webhook-ids; the first
relay's late record changes nothing; rows claimed but not posted are released to their due time."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, transaction
from django.utils import timezone

from fintech.models import Event, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from fintech.services import webhooks
from fintech.services.webhooks import Outcome, endpoint_create, relay_batch
from tests.builders import active_loan, cast

from .receiver import receiver

LEASE = 2.5  # seconds: the least above WEBHOOK_TIMEOUT_SECONDS (0.2) + the 2 s margin, to wait little


@pytest.fixture(autouse=True)
def _loopback(settings: Any) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True  # the receiver is on 127.0.0.1
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    settings.WEBHOOK_RELAY_LEASE_SECONDS = LEASE
    settings.WEBHOOK_RETRY_SCHEDULE = [0] * 5
    settings.WEBHOOK_RELAY_ON_COMMIT = False


def _owed(url: str) -> WebhookEndpoint:
    """A bank's endpoint registered before its loan's life: six events owed, in one lane."""
    people = cast()
    endpoint = endpoint_create(actor=people.bank, url=url, event_types=[])
    active_loan(people=people)
    assert WebhookDelivery.objects.filter(endpoint=endpoint).count() == 6
    return endpoint


@pytest.mark.django_db
def test_a_leased_batch_is_left_alone_until_the_lease_ends_then_sent_with_the_same_ids() -> None:
    with receiver() as rx:
        endpoint = _owed(f"{rx.url}/hook")
        rows = WebhookDelivery.objects.filter(endpoint=endpoint)
        ids = set(Event.objects.filter(deliveries__endpoint=endpoint).values_list("pk", flat=True))
        # Given a relay that claimed the six (the lease committed) and died before posting
        dead = webhooks._claim_batch(200)
        assert dead is not None and len(dead.rows) == 6
        assert set(rows.values_list("status", "next_attempt_at")) == {("pending", dead.lease_until)}
        # When another relay runs during the lease, then it takes nothing and posts nothing
        assert relay_batch()["claimed"] == 0
        assert rx.received == []
        # When it runs after the lease's end, then it sends all six, with their events' ids
        time.sleep(max(0.0, (dead.lease_until - timezone.now()).total_seconds()) + 0.1)
        counts = relay_batch()
        assert (counts["claimed"], counts["delivered"]) == (6, 6)
        assert {int(r.headers["webhook-id"]) for r in rx.accepted()} == ids
        # And the first relay's late record (say it had posted and seen 500s) changes nothing:
        # its lease was lost, the rows keep the second relay's outcome and attempt log
        late = {"claimed": 0, "delivered": 0, "failed": 0, "dead": 0}
        with transaction.atomic():
            webhooks._record([Outcome(d, timezone.now(), 500, 5) for d in dead.rows], late, dead.lease_until)
        assert late == {"claimed": 0, "delivered": 0, "failed": 0, "dead": 0}
        assert set(rows.values_list("status", "attempts")) == {("delivered", 1)}
        assert WebhookAttempt.objects.filter(delivery__endpoint=endpoint).count() == 6


@pytest.mark.django_db
def test_claimed_rows_not_posted_in_the_lease_are_released_to_their_due_time(monkeypatch: Any) -> None:
    with receiver() as rx:
        endpoint = _owed(f"{rx.url}/hook")
        rows = WebhookDelivery.objects.filter(endpoint=endpoint)
        due = dict(rows.values_list("pk", "next_attempt_at"))
        # Given a relay whose batch's time to post has run out before its first POST
        claim = webhooks._claim_batch

        def late_claim(limit: int) -> Any:
            batch = claim(limit)
            batch.post_by = time.monotonic() - 1
            return batch

        monkeypatch.setattr(webhooks, "_claim_batch", late_claim)
        # When it runs, then it posts nothing and gives the six back, due as they were, no attempt
        counts = relay_batch()
        assert (counts["claimed"], counts["released"], counts["delivered"]) == (6, 6, 0)
        assert rx.received == []
        assert dict(rows.values_list("pk", "next_attempt_at")) == due
        assert set(rows.values_list("status", "attempts")) == {("pending", 0)}
        assert not WebhookAttempt.objects.filter(delivery__endpoint=endpoint).exists()
        # And the next relay sends them
        monkeypatch.undo()
        assert relay_batch()["delivered"] == 6


@pytest.mark.django_db
def test_a_lease_too_short_for_one_post_is_refused(settings: Any) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 10
    settings.WEBHOOK_RELAY_LEASE_SECONDS = 12  # 10 s + the 2 s margin leaves no time to start a POST
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_RELAY_LEASE_SECONDS"):
        relay_batch()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_no_row_lock_is_held_while_posting(
    transactional_db: None, django_db_serialized_rollback: None, monkeypatch: Any
) -> None:
    # Given six deliveries owed, and a probe run at each POST on a connection of its own: it
    # locks the delivery being posted with NOWAIT (an error if the relay held it)
    with receiver() as rx:
        endpoint = _owed(f"{rx.url}/hook")
        send = webhooks._send
        locked: list[str] = []
        probe_lock = threading.Lock()

        def probed(delivery: WebhookDelivery, body: bytes) -> Outcome:
            try:
                with transaction.atomic():
                    WebhookDelivery.objects.select_for_update(nowait=True).filter(pk=delivery.pk).exists()
                result = "free"
            except Exception as exc:
                result = f"locked: {exc}"
            finally:
                connection.close()
            with probe_lock:
                locked.append(result)
            return send(delivery, body)

        monkeypatch.setattr(webhooks, "_send", probed)
        # When the relay runs, then every row was free while its POST was made, and all six land
        assert relay_batch()["delivered"] == 6
        assert locked == ["free"] * 6, locked
        assert len(rx.accepted()) == 6
        assert set(WebhookDelivery.objects.filter(endpoint=endpoint).values_list("status", flat=True)) == {
            "delivered"
        }


@pytest.mark.django_db
def test_the_pipelined_drain_keeps_each_financings_order(settings: Any) -> None:
    # Given two banks' endpoints owed six events each, and batches of one lane of two deliveries,
    # so the drain runs many batches, each posting while the next is claimed and the last recorded
    settings.WEBHOOK_RELAY_BATCH = 1
    settings.WEBHOOK_RELAY_LANE_DEPTH = 1
    with receiver(delay=0.01) as rx:
        first, second = _owed(f"{rx.url}/a"), _owed(f"{rx.url}/b")
        # When the relay task's loop drains them
        totals = webhooks.relay_drain(budget_seconds=60)
        # Then all twelve are delivered, once each, in at least six batches
        assert (totals["delivered"], totals["claimed"]) == (12, 12)
        assert totals["batches"] >= 6
        assert len(rx.accepted()) == 12
        # and each endpoint received its financing's versions in order, 1 to 6
        for endpoint, path in ((first, "/a"), (second, "/b")):
            versions = [r.event["aggregate"]["version"] for r in rx.accepted(path)]
            assert versions == [1, 2, 3, 4, 5, 6], (endpoint.pk, versions)
