"""Webhooks (Standard Webhooks): the organisations' endpoints and the relay that delivers the outbox.

The relay works a batch in three steps, none holding a transaction while it waits on a receiver:

1. **Claim** (one short transaction, committed): the heads of due lanes (one endpoint, one
   aggregate: no delivery while one of a lower version is pending) with `SELECT ... FOR UPDATE
   SKIP LOCKED`, then the lane's next deliveries behind them; each claimed row gets a lease: its
   `next_attempt_at` moves to the lease's end (now + WEBHOOK_RELAY_LEASE_SECONDS). A leased head is
   not due, and the rows behind it have a pending earlier version, so no other relay takes the lane
   until the lease ends.
2. **Post** (no transaction): lane by lane (lanes in parallel threads, in order within a lane,
   stopping a lane at its first failure). Each POST is bounded to WEBHOOK_TIMEOUT_SECONDS in all
   and 64 KB of answer, and a POST starts only while it can end before the lease does (less
   LEASE_MARGIN_SECONDS): a delivery still posting when another relay may take it never exists.
3. **Record** (one short transaction): the outcomes (one UPDATE), the attempt log (one INSERT) and
   the endpoints' failing record, only for the rows still under this batch's lease (their
   `next_attempt_at` is still the lease's end: a replay or a later relay moved it otherwise); the
   claimed rows not posted (behind a failure, or out of time) are released to their due time.

A relay killed between 1 and 3 leaves its rows pending with the lease's end as their next attempt:
when it passes, another relay sends them again with the same webhook-id (the event's id), the
duplicate the specification allows. A failure is tried again after WEBHOOK_RETRY_SCHEDULE (about a
day in all), then the delivery is dead-lettered; an endpoint failing for WEBHOOK_DISABLE_AFTER_DAYS
is disabled and its organisation notified.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import ipaddress
import json
import logging
import secrets
import socket
import ssl
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mass_mail
from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from standardwebhooks.webhooks import Webhook

from fintech.access import webhook_endpoints_visible_to
from fintech.errors import InvalidInput, NotFound
from fintech.models import (
    DeliveryStatus,
    EndpointStatus,
    Event,
    EventRecipient,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
)

from .audit import audit_record
from .enqueue import enqueue_on_commit
from .events import CATALOGUE, event_body

logger = logging.getLogger(__name__)
D = DeliveryStatus

# --- endpoints -----------------------------------------------------------------------------------


def secret_new() -> str:
    """A `whsec_` secret: 32 random bytes, base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix: the last 32 bits are IPv4
_V4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible IPv6 (::10.0.0.1)


def _private(address: str) -> bool:
    """Not a public unicast address; an IPv6 address carrying an IPv4 one (mapped, 6to4, NAT64,
    IPv4-compatible) is judged by that IPv4 address too."""
    ip = ipaddress.ip_address(address)
    if not ip.is_global or ip.is_multicast:
        return True
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = [ip.ipv4_mapped, ip.sixtofour]
        if ip in _NAT64 or ip in _V4_COMPATIBLE:
            embedded.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return any(v4 is not None and _private(str(v4)) for v4 in embedded)
    return False


def url_check(url: str) -> str:
    """An endpoint's URL: https (http too where private hosts are allowed), and a host that does not
    resolve to a private, loopback or link-local address unless WEBHOOK_ALLOW_PRIVATE_HOSTS."""
    allow_private = settings.WEBHOOK_ALLOW_PRIVATE_HOSTS
    parts = urlsplit((url or "").strip())
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or not parts.hostname:
        raise InvalidInput.on("url", _("Give an https URL of your receiver."))
    if parts.username or parts.password:
        raise InvalidInput.on("url", _("A webhook URL must not carry credentials."))
    try:
        port = parts.port
    except ValueError:  # out of range or not a number
        raise InvalidInput.on("url", _("The URL's port is not valid.")) from None
    if not allow_private:
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port or 443)}
        except (OSError, UnicodeError):
            raise InvalidInput.on("url", _("The URL's host does not resolve.")) from None
        if any(_private(str(a)) for a in addresses):
            raise InvalidInput.on("url", _("The URL's host is a private, loopback or link-local address."))
    return parts.geturl()


def _types_check(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not all(isinstance(t, str) for t in event_types):
        raise InvalidInput.on("event_types", _("Give a list of event types."))
    unknown = sorted(set(event_types) - set(CATALOGUE))
    if unknown:
        raise InvalidInput.on(
            "event_types", _("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}
        )
    return sorted(set(event_types))


@transaction.atomic
def endpoint_create(
    *, actor: User, url: str, event_types: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register a receiver of the actor's organisation for these event types (none: all)."""
    if actor.organization_id is None:
        raise InvalidInput(_("Only a member organisation registers webhook endpoints."))
    endpoint = WebhookEndpoint.objects.create(
        organization_id=actor.organization_id,
        url=url_check(url),
        event_types=_types_check(event_types),
        description=(description or "")[:200],
        secret=secret_new(),
        created_by=actor,
    )
    audit_record(actor=actor, action="webhook_endpoint.create", obj=endpoint, payload={"url": endpoint.url})
    return endpoint


def _locked(actor: User, endpoint_id: int) -> WebhookEndpoint:
    qs = webhook_endpoints_visible_to(actor, WebhookEndpoint.objects.all())
    endpoint = qs.select_for_update().filter(pk=endpoint_id).first()
    if endpoint is None:
        raise NotFound(_("Webhook endpoint not found."))
    return endpoint


@transaction.atomic
def endpoint_update(*, actor: User, endpoint_id: int, changes: dict[str, Any]) -> WebhookEndpoint:
    """Change an endpoint's URL, types, description or status (`active` again clears its failing
    record; the deliveries it owed resume)."""
    endpoint = _locked(actor, endpoint_id)
    if "url" in changes:
        endpoint.url = url_check(changes["url"])
    if "event_types" in changes:
        endpoint.event_types = _types_check(changes["event_types"])
    if "description" in changes:
        endpoint.description = (changes["description"] or "")[:200]
    if "status" in changes:
        if changes["status"] not in EndpointStatus.values:
            raise InvalidInput.on("status", _("Status is active or disabled."))
        if changes["status"] == EndpointStatus.ACTIVE and endpoint.status != EndpointStatus.ACTIVE:
            endpoint.failing_since, endpoint.disabled_reason = None, ""
        endpoint.status = changes["status"]
    endpoint.save()
    audit_record(actor=actor, action="webhook_endpoint.change", obj=endpoint, payload=changes)
    return endpoint


@transaction.atomic
def endpoint_delete(*, actor: User, endpoint_id: int) -> None:
    endpoint = _locked(actor, endpoint_id)
    audit_record(actor=actor, action="webhook_endpoint.delete", obj=endpoint, payload={"url": endpoint.url})
    endpoint.delete()


@transaction.atomic
def endpoint_rotate_secret(*, actor: User, endpoint_id: int) -> WebhookEndpoint:
    """A new secret; the old one still signs (a second signature) for WEBHOOK_SECRET_OVERLAP_HOURS."""
    endpoint = _locked(actor, endpoint_id)
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = timezone.now() + timedelta(hours=settings.WEBHOOK_SECRET_OVERLAP_HOURS)
    endpoint.secret = secret_new()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_until"])
    audit_record(actor=actor, action="webhook_endpoint.rotate_secret", obj=endpoint)
    return endpoint


@transaction.atomic
def delivery_replay(*, actor: User, delivery_id: int) -> WebhookDelivery:
    """Send a delivery again (dead, delivered or pending) from now, with a fresh retry schedule and
    the same webhook-id. A replayed old version may arrive after later ones: the operator asked."""
    endpoints = webhook_endpoints_visible_to(actor, WebhookEndpoint.objects.all())
    delivery = (
        WebhookDelivery.objects.select_for_update()
        .filter(pk=delivery_id, endpoint__in=endpoints.values("pk"))
        .first()
    )
    if delivery is None:
        raise NotFound(_("Webhook delivery not found."))
    before = delivery.status
    delivery.status, delivery.attempts, delivery.next_attempt_at = D.PENDING, 0, timezone.now()
    delivery.save(update_fields=["status", "attempts", "next_attempt_at"])
    audit_record(
        actor=actor, action="webhook_delivery.replay", obj=delivery, from_state=before, to_state=D.PENDING
    )
    if settings.WEBHOOK_RELAY_ON_COMMIT:
        enqueue_on_commit("webhooks_relay", robust=True)
    return delivery


# --- signing -------------------------------------------------------------------------------------


def signature_header(endpoint: WebhookEndpoint, msg_id: str, at: Any, body: bytes) -> str:
    """`v1,<sig>` with the current secret, and a second one with the previous secret while it is
    still valid (rotation: the receiver verifies with either)."""
    keys = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_until and endpoint.previous_secret_until > at:
        keys.append(endpoint.previous_secret)
    return " ".join(Webhook(k).sign(msg_id, at, body) for k in keys)


# --- the relay -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    delivery: WebhookDelivery
    at: Any
    code: int | None
    duration_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.code is not None and 200 <= self.code < 300


_local = threading.local()


class AddressRefused(OSError):
    """The receiver's name resolves to a private, loopback or link-local address."""


def _resolve(host: str, port: int) -> str:
    """Resolve once; refuse if ANY of the name's addresses is not public (a name with one public
    and one private address, or one re-bound since its check, must not reach the private one).
    The address returned is the one connected to: nothing resolves the name again."""
    addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    bad = [a for a in addresses if _private(a)]
    if bad or not addresses:
        logger.warning("webhook host %s refused: resolves to %s", host, ", ".join(bad) or "nothing")
        raise AddressRefused("refused: not a public address")
    return addresses[0]


class _PinnedHTTP(http.client.HTTPConnection):
    """HTTP to the checked address (the Host header keeps the name)."""

    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to the checked address; SNI and the certificate check use the name."""

    def __init__(self, host: str, port: int | None, *, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _connection(url: str) -> tuple[http.client.HTTPConnection, str]:
    """A kept-alive connection of this thread to the URL's host, and the request path."""
    parts = urlsplit(url)
    key = (parts.scheme, parts.netloc)
    pool: dict[Any, http.client.HTTPConnection] = getattr(_local, "pool", None) or {}
    _local.pool = pool
    conn = pool.get(key)
    if conn is None:
        timeout = settings.WEBHOOK_TIMEOUT_SECONDS
        https = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if https else 80)
        if settings.WEBHOOK_ALLOW_PRIVATE_HOSTS:
            conn = (http.client.HTTPSConnection if https else http.client.HTTPConnection)(
                host, port, timeout=timeout
            )
        else:
            # Checked again when connecting: a name may resolve elsewhere than when it was registered.
            address = _resolve(host, port)
            conn = (_PinnedHTTPS if https else _PinnedHTTP)(host, port, address=address, timeout=timeout)
        pool[key] = conn
    path = parts.path or "/"
    return conn, path + (f"?{parts.query}" if parts.query else "")


_RESPONSE_MAX = 64 * 1024  # bytes of a receiver's answer read at most; the rest is never read


def _post(url: str, headers: dict[str, str], body: bytes) -> int:
    """POST and return the status, within WEBHOOK_TIMEOUT_SECONDS in all, the name's lookup and
    the connection included (the relay's lease counts on it): a timer cuts the socket at the
    deadline (a per-read timeout alone lets a receiver trickle bytes for ever), each socket
    operation gets only the time left, and at most 64 KB of the answer is read."""
    deadline = time.monotonic() + settings.WEBHOOK_TIMEOUT_SECONDS
    expired = threading.Event()
    held: list[http.client.HTTPConnection] = []

    def cut() -> None:
        expired.set()
        sock = held[0].sock if held else None
        if sock is not None:
            with contextlib.suppress(OSError):  # already closed
                sock.shutdown(socket.SHUT_RDWR)

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or expired.is_set():
            raise TimeoutError("webhook POST deadline passed")
        return remaining

    timer = threading.Timer(settings.WEBHOOK_TIMEOUT_SECONDS, cut)
    timer.daemon = True
    timer.start()
    conn: http.client.HTTPConnection | None = None
    try:
        conn, path = _connection(url)  # a new connection resolves the name here
        held.append(conn)
        if conn.sock is None:
            conn.timeout = left()
            conn.connect()
        conn.sock.settimeout(left())
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read(_RESPONSE_MAX)
        if expired.is_set():
            raise TimeoutError("webhook POST deadline passed")
        if response.will_close or not response.isclosed():
            conn.close()  # an answer not read to its end: the connection cannot be reused
        return response.status
    except BaseException as exc:
        if conn is not None:
            conn.close()  # a timeout or a reset: reconnect next time
        if expired.is_set() and not isinstance(exc, TimeoutError):
            raise TimeoutError("webhook POST deadline passed") from exc
        raise
    finally:
        timer.cancel()


def _send(delivery: WebhookDelivery, body: bytes) -> Outcome:
    at = timezone.now()
    msg_id = str(delivery.event_id)
    headers = {
        "content-type": "application/json",
        "user-agent": "patent-pledge-webhooks/1",
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(delivery.endpoint, msg_id, at, body),
    }
    started = time.monotonic()
    try:
        code: int | None = _post(delivery.endpoint.url, headers, body)
        error = ""
    except AddressRefused as exc:
        code, error = None, str(exc)  # generic: the addresses are in the server log only
    except (OSError, http.client.HTTPException) as exc:
        # The customer reads the attempt log: no resolver or socket detail there, only here.
        logger.warning("webhook delivery %s failed: %s: %s", delivery.pk, type(exc).__name__, exc)
        code, error = None, "timed out" if isinstance(exc, TimeoutError) else "connection failed"
    return Outcome(delivery, at, code, int((time.monotonic() - started) * 1000), error)


def _lane_send(lane: list[tuple[WebhookDelivery, bytes]], post_by: float) -> list[Outcome]:
    """POST a lane's deliveries in order; stop at the first failure (the next must wait for it),
    and before a POST that could outlast the lease (started after `post_by`, time.monotonic())."""
    outcomes = []
    for delivery, body in lane:
        if time.monotonic() > post_by:
            break
        outcome = _send(delivery, body)
        outcomes.append(outcome)
        if not outcome.ok:
            break
    return outcomes


def _claim(limit: int, now: Any) -> list[WebhookDelivery]:
    """The heads of due lanes, locked, skipping rows another relay holds; then their followers."""
    earlier = WebhookDelivery.objects.filter(
        endpoint=OuterRef("endpoint"),
        aggregate_type=OuterRef("aggregate_type"),
        aggregate_id=OuterRef("aggregate_id"),
        aggregate_version__lt=OuterRef("aggregate_version"),
        status=D.PENDING,
    )
    # Ordered by the due time alone: the partial index on it is read in order and the scan stops
    # at `limit` heads (a second sort key would make PostgreSQL find every head first).
    heads = list(
        WebhookDelivery.objects.filter(
            status=D.PENDING, next_attempt_at__lte=now, endpoint__status=EndpointStatus.ACTIVE
        )
        .filter(~Exists(earlier))
        .order_by("next_attempt_at")
        .select_for_update(skip_locked=True, of=("self",))[:limit]
    )
    if not heads:
        return []
    rows = _followers(heads, settings.WEBHOOK_RELAY_LANE_DEPTH)
    # Each lane: the followers due, in version order, up to the first one not due (a delivery that
    # waits holds back those behind it).
    followers: list[WebhookDelivery] = []
    stopped: set[tuple[int, str, int]] = set()
    for d in rows:
        lane = (d.endpoint_id, d.aggregate_type, d.aggregate_id)
        if lane in stopped:
            continue
        if d.next_attempt_at > now:
            stopped.add(lane)
            continue
        followers.append(d)
    return heads + followers


def _followers(heads: list[WebhookDelivery], depth: int) -> list[WebhookDelivery]:
    """The next `depth` pending deliveries behind each head, in its lane, locked, in lane and
    version order (nobody else claims them while their head is locked and pending)."""
    order = ("endpoint_id", "aggregate_type", "aggregate_id", "aggregate_version")
    if connection.vendor == "postgresql":
        # One statement: the LATERAL join finds them from the heads' arrays and locks them, with no
        # list of ids sent back and forth (a 2,000-id IN list costs more to build than to run).
        table = WebhookDelivery._meta.db_table
        return list(
            WebhookDelivery.objects.raw(
                f"""
                SELECT d.* FROM {table} d
                WHERE d.id IN (
                    SELECT f.id
                    FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::int[])
                         AS h(endpoint_id, a_type, a_id, v)
                    CROSS JOIN LATERAL (
                        SELECT n.id FROM {table} n
                        WHERE n.endpoint_id = h.endpoint_id AND n.aggregate_type = h.a_type
                          AND n.aggregate_id = h.a_id AND n.aggregate_version > h.v AND n.status = 'pending'
                        ORDER BY n.aggregate_version
                        LIMIT %s
                    ) f
                )
                ORDER BY d.endpoint_id, d.aggregate_type, d.aggregate_id, d.aggregate_version
                FOR UPDATE OF d
                """,  # noqa: S608 (the table is the model's own; values are parameters)
                [
                    [h.endpoint_id for h in heads],
                    [h.aggregate_type for h in heads],
                    [h.aggregate_id for h in heads],
                    [h.aggregate_version for h in heads],
                    depth,
                ],
            )
        )
    ids: list[int] = []
    for h in heads:
        ids += (
            WebhookDelivery.objects.filter(
                endpoint_id=h.endpoint_id,
                aggregate_type=h.aggregate_type,
                aggregate_id=h.aggregate_id,
                aggregate_version__gt=h.aggregate_version,
                status=D.PENDING,
            )
            .order_by("aggregate_version")
            .values_list("pk", flat=True)[:depth]
        )
    return list(WebhookDelivery.objects.filter(pk__in=ids).order_by(*order).select_for_update(of=("self",)))


# A POST starts only this long before its latest possible end passes the lease's end: slack for
# the clocks of the relays' hosts (the lease is compared with another host's clock) and a commit.
LEASE_MARGIN_SECONDS = 2.0


@dataclass
class _Batch:
    """A claimed batch: its rows (as read when claimed, before the lease), the lease's end written
    on every row (the batch's token), and the last moment a POST may start (time.monotonic())."""

    rows: list[WebhookDelivery]
    due: dict[int, datetime]  # each row's next_attempt_at before the lease (restored if not posted)
    lease_until: datetime
    post_by: float


def _lease_seconds() -> float:
    lease = float(settings.WEBHOOK_RELAY_LEASE_SECONDS)
    if lease <= settings.WEBHOOK_TIMEOUT_SECONDS + LEASE_MARGIN_SECONDS:
        raise ImproperlyConfigured(
            "WEBHOOK_RELAY_LEASE_SECONDS must exceed WEBHOOK_TIMEOUT_SECONDS + "
            f"{LEASE_MARGIN_SECONDS:g} (a POST must fit in the lease)"
        )
    return lease


def _claim_batch(limit: int) -> _Batch | None:
    """Step 1: claim due lanes and lease their rows, in one committed transaction."""
    lease = _lease_seconds()
    with transaction.atomic():
        now = timezone.now()
        started = time.monotonic()
        claimed = _claim(limit, now)
        if not claimed:
            return None
        until = now + timedelta(seconds=lease)
        _lease_write([d.pk for d in claimed], until)
    due = {d.pk: d.next_attempt_at for d in claimed}
    return _Batch(
        claimed, due, until, started + lease - settings.WEBHOOK_TIMEOUT_SECONDS - LEASE_MARGIN_SECONDS
    )


def _array(values: list[Any]) -> str:
    """A PostgreSQL array literal of ints, texts, datetimes or NULLs, passed as one text
    parameter and cast in the statement (`%s::bigint[]`): psycopg's per-item adaptation of a
    2,000-item list costs more than the statement it feeds."""

    def item(v: Any) -> str:
        if v is None:
            return "NULL"
        if isinstance(v, int) and not isinstance(v, bool):
            return str(v)
        text = v.isoformat() if isinstance(v, datetime) else str(v)
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    return "{" + ",".join(map(item, values)) + "}"


def _lease_write(ids: list[int], until: datetime) -> None:
    if connection.vendor != "postgresql":
        WebhookDelivery.objects.filter(pk__in=ids).update(next_attempt_at=until)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {WebhookDelivery._meta.db_table} SET next_attempt_at = %s WHERE id = ANY(%s::bigint[])",  # noqa: S608
            [until, _array(ids)],
        )


@dataclass
class _Prepared:
    """A claimed batch ready to post: its lanes (deliveries and bodies, in order) and the rows
    refused (an event not naming the endpoint's organisation)."""

    batch: _Batch
    lanes: list[list[tuple[WebhookDelivery, bytes]]]
    refused: list[WebhookDelivery]


def _prepare(batch: _Batch) -> _Prepared:
    """The batch's endpoints, events and bodies (reads only, no transaction)."""
    claimed = batch.rows
    endpoints = {e.pk: e for e in WebhookEndpoint.objects.filter(pk__in={d.endpoint_id for d in claimed})}
    # The batch's events, found through its lease (the rows' shared next_attempt_at, on the due
    # index) rather than a list of 2,000 ids; another batch leased at the same microsecond would
    # only add rows never looked up.
    leased = WebhookDelivery.objects.filter(status=D.PENDING, next_attempt_at=batch.lease_until)
    events = {e.pk: e for e in Event.objects.filter(pk__in=leased.values("event_id"))}
    # Defence in depth: only an event naming the endpoint's organisation is ever sent
    # (deliveries are created so; a row edited by hand is dead-lettered, never posted).
    entitled = set(
        EventRecipient.objects.filter(
            event_id__in=leased.values("event_id"),
            organization_id__in={e.organization_id for e in endpoints.values()},
        ).values_list("event_id", "organization_id")
    )
    refused = [d for d in claimed if (d.event_id, endpoints[d.endpoint_id].organization_id) not in entitled]
    for d in refused:
        d.endpoint = endpoints[d.endpoint_id]
    sendable = [d for d in claimed if d not in refused]
    lanes: dict[tuple[int, str, int], list[tuple[WebhookDelivery, bytes]]] = {}
    for d in sorted(
        sendable, key=lambda d: (d.endpoint_id, d.aggregate_type, d.aggregate_id, d.aggregate_version)
    ):
        d.endpoint = endpoints[d.endpoint_id]
        body = json.dumps(event_body(events[d.event_id]), separators=(",", ":")).encode()
        lanes.setdefault((d.endpoint_id, d.aggregate_type, d.aggregate_id), []).append((d, body))
    return _Prepared(batch, list(lanes.values()), refused)


def _post_lanes(prepared: _Prepared, pool: ThreadPoolExecutor | None = None) -> list[Outcome]:
    """Step 2: the lanes in parallel threads (`pool`, or one of WEBHOOK_RELAY_THREADS made for
    this batch), no database."""
    if not prepared.lanes:
        return []
    post_by = prepared.batch.post_by
    if pool is not None:
        return [o for lane in pool.map(lambda lane: _lane_send(lane, post_by), prepared.lanes) for o in lane]
    threads = max(1, min(settings.WEBHOOK_RELAY_THREADS, len(prepared.lanes)))
    with ThreadPoolExecutor(threads) as own:
        return [o for lane in own.map(lambda lane: _lane_send(lane, post_by), prepared.lanes) for o in lane]


def _conclude(prepared: _Prepared, outcomes: list[Outcome]) -> dict[str, int]:
    """Step 3, one transaction: the outcomes, the refused rows dead-lettered, the rest released."""
    batch = prepared.batch
    counts = {"claimed": len(batch.rows), "delivered": 0, "failed": 0, "dead": 0, "released": 0}
    now = timezone.now()
    for d in prepared.refused:
        d.attempts = len(settings.WEBHOOK_RETRY_SCHEDULE)  # the next failure is the last
        outcomes.append(Outcome(d, now, None, 0, "not entitled: the event does not name the organisation"))
    posted = {o.delivery.pk for o in outcomes}
    unposted = [d for d in batch.rows if d.pk not in posted]
    with transaction.atomic():
        _record(outcomes, counts, batch.lease_until)
        counts["released"] = _release(unposted, batch)
    return counts


def relay_batch(limit: int | None = None) -> dict[str, int]:
    """Claim, deliver and record one batch; returns {claimed, delivered, failed, dead, released}
    (released: claimed, not posted, due again at once)."""
    batch = _claim_batch(limit or settings.WEBHOOK_RELAY_BATCH)
    if batch is None:
        return {"claimed": 0, "delivered": 0, "failed": 0, "dead": 0, "released": 0}
    prepared = _prepare(batch)
    return _conclude(prepared, _post_lanes(prepared))


def _release(rows: list[WebhookDelivery], batch: _Batch) -> int:
    """Claimed rows not posted (behind a lane's failure, or out of the lease's time): due again
    when they were due before the claim, if still under this batch's lease."""
    released = 0
    for d in rows:
        released += WebhookDelivery.objects.filter(
            pk=d.pk, status=D.PENDING, next_attempt_at=batch.lease_until
        ).update(next_attempt_at=batch.due[d.pk])
    return released


def _record(outcomes: list[Outcome], counts: dict[str, int], lease_until: datetime) -> None:
    """Store the outcomes of the rows still under the lease (`lease_until`): deliveries (one
    UPDATE), the attempt log (one INSERT), the endpoints' failing record; dead-letter a delivery
    past its last retry. A row whose lease was lost (a replay, or another relay after the lease's
    end) keeps what that one wrote: this POST was a duplicate, logged here only."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    if not outcomes:
        return
    for o in outcomes:
        d = o.delivery
        d.attempts += 1
        d.last_attempt_at, d.last_response_code = o.at, o.code
        if o.ok:
            d.status, d.delivered_at = D.DELIVERED, o.at
        elif d.attempts > len(schedule):
            d.status = D.DEAD
        else:
            d.next_attempt_at = o.at + timedelta(seconds=schedule[d.attempts - 1])
    kept = _deliveries_save([o.delivery for o in outcomes], lease_until)
    lost = [o for o in outcomes if o.delivery.pk not in kept]
    if lost:
        logger.warning(
            "webhook relay: lease lost on %s deliveries (posted, recorded by another): %s",
            len(lost),
            ", ".join(str(o.delivery.pk) for o in lost[:20]),
        )
    log = []
    failing: dict[int, Any] = {}
    healthy: set[int] = set()
    for o in outcomes:
        d = o.delivery
        if d.pk not in kept:
            continue
        if d.status == D.DELIVERED:
            counts["delivered"] += 1
            healthy.add(d.endpoint_id)
        else:
            counts["dead" if d.status == D.DEAD else "failed"] += 1
            failing.setdefault(d.endpoint_id, o.at)
        log.append(
            WebhookAttempt(
                delivery=d,
                number=d.attempts,
                at=o.at,
                response_code=o.code,
                duration_ms=o.duration_ms,
                error=o.error,
            )
        )
    _attempts_insert(log)
    WebhookEndpoint.objects.filter(pk__in=healthy).exclude(failing_since=None).update(failing_since=None)
    for endpoint_id, at in failing.items():
        if endpoint_id not in healthy:
            WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since=None).update(failing_since=at)


_SAVED = ["status", "attempts", "next_attempt_at", "last_attempt_at", "last_response_code", "delivered_at"]


def _deliveries_save(rows: list[WebhookDelivery], lease_until: datetime) -> set[int]:
    """One UPDATE of the batch's deliveries still under its lease (pending, `next_attempt_at` the
    lease's end); returns their ids. PostgreSQL: from arrays (unnest), since Django's bulk_update
    builds a CASE per field and row whose compilation costs more than the POSTs."""
    if connection.vendor != "postgresql":
        held = set(
            WebhookDelivery.objects.select_for_update()
            .filter(pk__in=[d.pk for d in rows], status=D.PENDING, next_attempt_at=lease_until)
            .values_list("pk", flat=True)
        )
        WebhookDelivery.objects.bulk_update([d for d in rows if d.pk in held], _SAVED, batch_size=500)
        return held
    table = WebhookDelivery._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(  # the table name is the model's own, the values are parameters
            f"""
            UPDATE {table} AS d SET status = v.status, attempts = v.attempts, next_attempt_at = v.next_at,
                   last_attempt_at = v.last_at, last_response_code = v.code, delivered_at = v.delivered_at
            FROM unnest(%s::bigint[], %s::text[], %s::int[], %s::timestamptz[], %s::timestamptz[], %s::int[],
                        %s::timestamptz[]) AS v(id, status, attempts, next_at, last_at, code, delivered_at)
            WHERE d.id = v.id AND d.status = 'pending' AND d.next_attempt_at = %s
            RETURNING d.id
            """,  # noqa: S608
            [
                _array([d.pk for d in rows]),
                _array([d.status for d in rows]),
                _array([d.attempts for d in rows]),
                _array([d.next_attempt_at for d in rows]),
                _array([d.last_attempt_at for d in rows]),
                _array([d.last_response_code for d in rows]),
                _array([d.delivered_at for d in rows]),
                lease_until,
            ],
        )
        return {pk for (pk,) in cursor.fetchall()}


def _attempts_insert(log: list[WebhookAttempt]) -> None:
    """The attempt log of a batch: one INSERT from arrays on PostgreSQL."""
    if connection.vendor != "postgresql":
        WebhookAttempt.objects.bulk_create(log, batch_size=500)
        return
    table = WebhookAttempt._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {table} (delivery_id, number, at, response_code, duration_ms, error)
            SELECT * FROM unnest(%s::bigint[], %s::int[], %s::timestamptz[], %s::int[], %s::int[], %s::text[])
            """,  # noqa: S608 (the table is the model's own; values are parameters)
            [
                _array([a.delivery.pk for a in log]),
                _array([a.number for a in log]),
                _array([a.at for a in log]),
                _array([a.response_code for a in log]),
                _array([a.duration_ms for a in log]),
                _array([a.error for a in log]),
            ],
        )


def endpoints_disable_failing() -> list[int]:
    """Disable the endpoints that have failed every attempt for WEBHOOK_DISABLE_AFTER_DAYS, and
    notify their organisations (after commit)."""
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS)
    with transaction.atomic():
        stale = list(
            WebhookEndpoint.objects.select_for_update(skip_locked=True).filter(
                status=EndpointStatus.ACTIVE, failing_since__lt=cutoff
            )
        )
        for endpoint in stale:
            endpoint.status = EndpointStatus.DISABLED
            endpoint.disabled_reason = f"failing since {endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
            endpoint.save(update_fields=["status", "disabled_reason"])
            audit_record(
                actor=None,
                action="webhook_endpoint.disable",
                obj=endpoint,
                from_state=EndpointStatus.ACTIVE,
                to_state=EndpointStatus.DISABLED,
                reason=endpoint.disabled_reason,
            )
            enqueue_on_commit("notify_endpoint_disabled", endpoint.pk, robust=True)
    return [e.pk for e in stale]


def endpoint_disabled_notify(endpoint_id: int) -> int:
    """Email the organisation's active users that its endpoint was disabled (English and Chinese)."""
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None:
        return 0
    recipients = list(
        User.objects.filter(organization_id=endpoint.organization_id, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    texts = []
    for language in ("en", "zh-hans"):
        with translation.override(language):
            texts.append(
                _(
                    "Your webhook endpoint %(url)s failed every delivery for %(days)s days and was "
                    "disabled. Fix the receiver, then set the endpoint active again: the deliveries it "
                    "owes resume."
                )
                % {"url": endpoint.url, "days": settings.WEBHOOK_DISABLE_AFTER_DAYS}
            )
    with translation.override("en"):
        subject = _("[Patent pledge] Webhook endpoint disabled")
    body = "\n\n".join(texts)
    return send_mass_mail([(subject, body, settings.DEFAULT_FROM_EMAIL, [r]) for r in recipients])


def relay_drain(*, budget_seconds: float | None = None, limit: int | None = None) -> dict[str, int]:
    """Deliver batches until none is due or the time budget is spent (the periodic task), then
    disable the endpoints failing for days.

    Pipelined: while one batch's POSTs run (a thread of their own, over one pool of
    WEBHOOK_RELAY_THREADS kept-alive connections for the whole drain), this thread claims and
    prepares the next batch and records the previous one. Lanes stay in order: a batch in flight
    holds its lanes under its lease, so the next claim takes other lanes. Returns the totals and
    the number of batches."""
    budget = settings.WEBHOOK_RELAY_BUDGET_SECONDS if budget_seconds is None else budget_seconds
    stop = time.monotonic() + budget
    limit = limit or settings.WEBHOOK_RELAY_BATCH
    totals = {"claimed": 0, "delivered": 0, "failed": 0, "dead": 0, "released": 0, "batches": 0}
    threads = max(1, settings.WEBHOOK_RELAY_THREADS)
    with (
        ThreadPoolExecutor(threads, thread_name_prefix="webhook-lane") as lanes,
        ThreadPoolExecutor(1, thread_name_prefix="webhook-post") as poster,
    ):
        flying: tuple[_Prepared, Future[list[Outcome]]] | None = None
        while True:
            batch = _claim_batch(limit) if time.monotonic() < stop else None
            ready = _prepare(batch) if batch is not None else None
            done: tuple[_Prepared, list[Outcome]] | None = None
            if flying is not None:
                done = (flying[0], flying[1].result())  # an error: as a crash (the leases run out)
                flying = None
            if ready is not None:
                flying = (ready, poster.submit(_post_lanes, ready, lanes))
            if done is not None:
                counts = _conclude(*done)  # while the next batch's POSTs run
                totals["batches"] += 1
                for k, v in counts.items():
                    totals[k] += v
            if flying is None:
                break
    endpoints_disable_failing()
    return totals
