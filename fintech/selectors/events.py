"""Reads of the outbox: the event feed and an endpoint's delivery log."""

from __future__ import annotations

import re

from django.db import connection
from django.db.models import Q, QuerySet
from django.utils.translation import gettext as _

from fintech.access import events_visible_to, webhook_endpoints_visible_to
from fintech.errors import InvalidInput, NotFound
from fintech.models import Event, User, WebhookDelivery, WebhookEndpoint

_CURSOR = re.compile(r"^(\d{1,19})-(\d{1,19})$")


def cursor_of(event: Event) -> str:
    return f"{event.txid}-{event.pk}"


def _cursor_parse(after: str) -> tuple[int, int]:
    match = _CURSOR.match(after or "")
    if not match:
        raise InvalidInput.on("after", _("Give a cursor returned as next_cursor by this feed."))
    return int(match[1]), int(match[2])


# The lowest transaction id still running in THIS database (xid8, with its epoch), or the next id
# to be given out when none is: pg_stat_activity shows 32-bit ids, widened with the epoch of the
# current snapshot's xmax (an id above xmax's low half belongs to the previous epoch).
_HORIZON_SQL = """
WITH cur AS (SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS x)
SELECT LEAST(cur.x, MIN(
    CASE WHEN a.backend_xid::text::bigint <= (cur.x & 4294967295)
         THEN ((cur.x >> 32) << 32) | a.backend_xid::text::bigint
         ELSE (((cur.x >> 32) - 1) << 32) | a.backend_xid::text::bigint END))
FROM cur LEFT JOIN pg_stat_activity a
     ON a.datname = current_database() AND a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
GROUP BY cur.x
"""


def feed_horizon() -> int | None:
    """Every transaction of this database with an id below this has ended (PostgreSQL; None
    elsewhere, one writer at a time): the feed lists only events written below it, so a
    transaction still open can never commit an event behind a reader's cursor. Only this
    database's transactions count (pg_snapshot_xmin would wait for every database on the server);
    the platform's database role sees its own sessions there."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(_HORIZON_SQL)
        return int(cursor.fetchone()[0])


def event_feed(
    user: User, *, after: str | None, types: list[str], limit: int
) -> tuple[list[Event], str | None]:
    """The caller's events after the cursor, in order (transaction, then id), at most `limit`; and
    the cursor to ask with next (the same one when there is nothing new)."""
    qs: QuerySet[Event] = events_visible_to(user, Event.objects.all())
    if types:
        qs = qs.filter(type__in=types)
    horizon = feed_horizon()
    if horizon is not None:
        qs = qs.filter(txid__lt=horizon)
    if after:
        txid, last = _cursor_parse(after)
        qs = qs.filter(Q(txid__gt=txid) | Q(txid=txid, pk__gt=last))
    events = list(qs.order_by("txid", "pk")[:limit])
    return events, (cursor_of(events[-1]) if events else after)


def endpoint_deliveries(user: User, endpoint_id: int) -> QuerySet[WebhookDelivery]:
    """An endpoint's deliveries, newest first, with their attempt log (404 if not the caller's)."""
    endpoint = (
        webhook_endpoints_visible_to(user, WebhookEndpoint.objects.all()).filter(pk=endpoint_id).first()
    )
    if endpoint is None:
        raise NotFound(_("Webhook endpoint not found."))
    return endpoint.deliveries.select_related("event").prefetch_related("attempt_log").order_by("-id")


def endpoints_of(user: User) -> QuerySet[WebhookEndpoint]:
    return webhook_endpoints_visible_to(user, WebhookEndpoint.objects.all()).order_by("id")
