"""The event feed and the endpoint API: entitlement, cursor order, validation (4xx in the error
shape, nothing written)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from fintech.models import AuditLog, Event, WebhookEndpoint
from tests.builders import active_loan, cast
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


# Committed: on PostgreSQL the feed lists only what transactions already ended wrote (the test's
# own open transaction would hide its events).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_feed_lists_the_callers_events_in_order_page_by_page(client_for: Any) -> None:
    # Given two loans of bank A and one of bank B (6 events each), and a regulator of the region
    regulator = UserFactory(organization=OrganizationFactory(kind="regulator"))
    a, b = cast(), cast()
    loans_a = [active_loan(people=a)[0] for _ in range(2)]
    loan_b, _ = active_loan(people=b)
    client = client_for(a.bank)
    # On PostgreSQL the feed shows what transactions below the oldest one still open wrote; other
    # work on the same server may hold that back a moment (a delay, never a loss): wait for it.
    deadline = time.monotonic() + 120
    while len(client_for(regulator).get("/api/v1/events/", {"limit": 200}).json()["results"]) < 18:
        assert time.monotonic() < deadline, "the feed's horizon did not pass the test's events"
        time.sleep(0.5)
    # When bank A pages through its feed 5 at a time
    seen: list[dict[str, Any]] = []
    cursor = None
    for _ in range(10):
        query = {"limit": 5, **({"after": cursor} if cursor else {})}
        page = client.get("/api/v1/events/", query).json()
        seen += page["results"]
        if not page["results"]:
            assert page["next_cursor"] == cursor  # nothing new: ask again with the same cursor
            break
        cursor = page["next_cursor"]
    # Then it got its 12 events once each, in id order, none of bank B's
    assert [e["id"] for e in seen] == list(
        Event.objects.filter(aggregate_id__in=[loan.application_id for loan in loans_a])
        .order_by("id")
        .values_list("id", flat=True)
    )
    assert len(seen) == 12
    assert loan_b.application_id not in {e["aggregate"]["id"] for e in seen}
    first = seen[0]
    assert first["type"] == "application.submitted" and first["aggregate"] == {
        "type": "application",
        "id": loans_a[0].application_id,
        "version": 1,
    }
    # A type filter; the appraisal firm sees only the application and its valuation
    only = client.get("/api/v1/events/", {"type": "loan.disbursed"}).json()["results"]
    assert [e["data"]["loan"] for e in only] == [loan.pk for loan in loans_a]
    appraiser = client_for(a.appraiser).get("/api/v1/events/").json()["results"]
    assert {e["type"] for e in appraiser} == {"application.submitted", "valuation.reported"}
    # A regulator of the region sees all three loans' events (its audience was fixed when each
    # event was written: an organisation created later reads no history)
    assert len(client_for(regulator).get("/api/v1/events/", {"limit": 200}).json()["results"]) == 18


@pytest.mark.parametrize(
    "query, field",
    [
        ({"after": "abc"}, "after"),
        ({"type": "loan.exploded"}, "type"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
    ],
)
def test_the_feed_refuses_bad_parameters(
    client_for: Any, bank_user: Any, query: dict[str, str], field: str
) -> None:
    response = client_for(bank_user).get("/api/v1/events/", query)
    assert response.status_code == 400 and field in response.json()["fields"]


@pytest.mark.parametrize(
    "body, field",
    [
        ({"url": "ftp://example.com/hook"}, "url"),
        ({"url": "http://example.com/hook"}, "url"),  # plain http: only with private hosts allowed
        ({"url": "https://127.0.0.1/hook"}, "url"),  # loopback
        ({"url": "https://10.1.2.3/hook"}, "url"),  # private
        ({"url": "https://169.254.169.254/latest"}, "url"),  # link-local (cloud metadata)
        ({"url": "https://user:pw@example.com/hook"}, "url"),
        ({"url": "https://example.com:99999/"}, "url"),  # port out of range: 400, not 500
        ({"url": "https://8.8.8.8/hook", "event_types": ["loan.exploded"]}, "event_types"),
        ({"url": "https://8.8.8.8/hook", "event_types": "loan.disbursed"}, "event_types"),
    ],
)
def test_a_bad_endpoint_is_refused_and_nothing_written(
    client_for: Any, bank_user: Any, body: dict[str, Any], field: str
) -> None:
    audits = AuditLog.objects.count()
    response = client_for(bank_user).post("/api/v1/webhook-endpoints/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not WebhookEndpoint.objects.exists() and AuditLog.objects.count() == audits


def test_an_endpoint_is_its_organisations_alone(client_for: Any, bank_user: Any) -> None:
    # A public address passes the check without private hosts allowed (8.8.8.8 is global)
    created = client_for(bank_user).post(
        "/api/v1/webhook-endpoints/",
        {"url": "https://8.8.8.8/hook", "event_types": ["loan.defaulted"]},
        format="json",
    )
    assert created.status_code == 201
    body = created.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["loan.defaulted"]
    mine = client_for(bank_user).get(f"/api/v1/webhook-endpoints/{body['id']}/").json()
    assert "secret" not in mine  # shown on creation and rotation only
    stranger = client_for(UserFactory(organization=OrganizationFactory(kind="bank")))
    for method, path in [
        ("get", f"/api/v1/webhook-endpoints/{body['id']}/"),
        ("patch", f"/api/v1/webhook-endpoints/{body['id']}/"),
        ("delete", f"/api/v1/webhook-endpoints/{body['id']}/"),
        ("post", f"/api/v1/webhook-endpoints/{body['id']}/rotate-secret/"),
        ("get", f"/api/v1/webhook-endpoints/{body['id']}/deliveries/"),
    ]:
        assert getattr(stranger, method)(path, {}, format="json").status_code == 404
    assert stranger.get("/api/v1/webhook-endpoints/").json()["count"] == 0
    assert client_for(bank_user).delete(f"/api/v1/webhook-endpoints/{body['id']}/").status_code == 204
    assert not WebhookEndpoint.objects.exists()
