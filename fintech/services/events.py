"""The transactional outbox: the events the parties' core systems receive (docs/events.md).

Every audited change of the catalogue below writes its event in the audit row's transaction
(`events_for_audit_rows`, called by services.audit for every audit row it writes, one or a
set-based service's many), and the bulk paths (the daily close's overdue marking, a subsidy
run's entitlements) write theirs set-based (`events_emit`, one
`bulk_create` per chunk). Each event names the organisations entitled to it, decided by
access.event_audiences, and owes one delivery to each active webhook endpoint of those
organisations that subscribes to its type (services.webhooks relays them).

Every event of one financing (the application and its valuation, policy, loan, repayments,
installments, loss, settlements, recoveries and subsidies) belongs to ONE aggregate, the
application, numbered 1, 2, 3... in commit order: the stream row is locked while the event is
written, so two transactions touching the same financing take their numbers one after the other.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import connection, models
from django.db.models.expressions import RawSQL
from django.utils import timezone

from fintech.access import event_audience_pairs, event_audiences, event_audiences_with
from fintech.models import (
    Application,
    AuditLog,
    EndpointStatus,
    Event,
    EventRecipient,
    EventStream,
    Finding,
    Installment,
    Loan,
    LossEvent,
    Policy,
    PremiumPayment,
    Recovery,
    Repayment,
    Settlement,
    SubsidyEntitlement,
    Valuation,
    WebhookDelivery,
    WebhookEndpoint,
)

AGGREGATE = "application"
# From a subject row to the application of its financing (the aggregate).
ROOT: dict[type[models.Model], str] = {
    Application: "pk",
    Valuation: "application_id",
    Policy: "application_id",
    PremiumPayment: "policy__application_id",
    Loan: "application_id",
    Repayment: "loan__application_id",
    Installment: "loan__application_id",
    LossEvent: "loan__application_id",
    Settlement: "loss_event__loan__application_id",
    Recovery: "loss_event__loan__application_id",
    SubsidyEntitlement: "loan__application_id",
    Finding: "loan__application_id",
}
# The loan of a subject row, when it has one.
LOAN: dict[type[models.Model], str] = {
    Loan: "pk",
    Application: "loan__id",
    Policy: "loan__id",
    PremiumPayment: "policy__loan__id",
    Repayment: "loan_id",
    Installment: "loan_id",
    LossEvent: "loan_id",
    Settlement: "loss_event__loan_id",
    Recovery: "loss_event__loan_id",
    SubsidyEntitlement: "loan_id",
    Finding: "loan_id",
}

_MONEY = {"type": ["string", "null"], "pattern": r"^\d+\.\d{2}$", "description": "yuan, 2 places"}
_DATE = {"type": "string", "format": "date"}


@dataclass(frozen=True)
class EventType:
    """One entry of the catalogue: its name, schema version, what it announces and the schema of
    its `details` (the figures of the change; more keys may be added within a version)."""

    name: str
    version: int
    subject: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)
    reserved: bool = False  # written by a feature still to come; subscribable already


CATALOGUE: dict[str, EventType] = {
    t.name: t
    for t in (
        EventType("application.submitted", 1, "application", "An SME submitted its application."),
        EventType(
            "valuation.reported",
            1,
            "valuation",
            "The appraisal firm reported its valuation.",
            {"appraised_value": _MONEY, "pledge_rate": {"type": "string"}, "credit_ceiling": _MONEY},
        ),
        EventType(
            "policy.issued",
            1,
            "policy",
            "The insurer issued the guarantee insurance policy.",
            {"insured_amount": _MONEY, "premium_rate": {"type": "string"}},
        ),
        EventType(
            "premium.paid", 1, "policy", "A premium payment was recorded on the policy.", {"paid_on": _DATE}
        ),
        EventType("loan.approved", 1, "loan", "The bank approved the loan."),
        EventType("loan.disbursed", 1, "loan", "The bank disbursed the loan.", {"disbursed_on": _DATE}),
        EventType(
            "repayment.posted",
            1,
            "loan",
            "A repayment was posted to the loan.",
            {"repayment": {"type": "integer"}, "paid_on": _DATE},
        ),
        EventType("repayment.reversed", 1, "repayment", "A repayment was reversed."),
        EventType(
            "installment.overdue",
            1,
            "installment",
            "An installment stayed unpaid past its due date and grace days (the daily close).",
            {"seq": {"type": "integer"}, "due_on": _DATE},
        ),
        EventType("loan.defaulted", 1, "loan", "The loan defaulted.", {"default_on": _DATE}),
        EventType(
            "loss.shared",
            1,
            "loss_event",
            "The loss of a defaulted loan was recorded and shared between insurer, fund and bank.",
            {"shares": {"type": "object"}},
        ),
        EventType(
            "settlement.approved", 1, "settlement", "A party's settlement of its loss share was approved."
        ),
        EventType(
            "recovery.shared", 1, "recovery", "A recovery on a defaulted loan was recorded and shared."
        ),
        EventType(
            "subsidy.computed",
            1,
            "subsidy_entitlement",
            "A subsidy run computed an entitlement (after the annual cap).",
            {"kind": {"type": "string"}, "period": {"type": "string"}, "capped": {"type": "boolean"}},
        ),
        EventType(
            "subsidy.paid",
            1,
            "subsidy_entitlement",
            "A subsidy entitlement was paid.",
            {"kind": {"type": "string"}, "period": {"type": "string"}, "paid_on": _DATE},
        ),
        EventType(
            "collateral.finding_raised",
            1,
            "finding",
            "A collateral finding was raised.",
            {
                "kind": {"type": "string"},
                "severity": {"type": "string"},
                "patent": {"type": ["integer", "null"]},
                "on": _DATE,
            },
        ),
        EventType(
            "collateral.finding_resolved",
            1,
            "finding",
            "A collateral finding was resolved.",
            {
                "kind": {"type": "string"},
                "severity": {"type": "string"},
                "patent": {"type": ["integer", "null"]},
                "on": _DATE,
            },
        ),
    )
}

# The audit actions that announce an event of the catalogue.
AUDIT_EVENTS = {
    "application.submit": "application.submitted",
    "valuation.report": "valuation.reported",
    "policy.issue": "policy.issued",
    "policy.premium_paid": "premium.paid",
    "loan.approve": "loan.approved",
    "loan.disburse": "loan.disbursed",
    "repayment.record": "repayment.posted",
    "repayment.reverse": "repayment.reversed",
    "loan.default": "loan.defaulted",
    "loss.record": "loss.shared",
    "settlement.approve": "settlement.approved",
    "recovery.record": "recovery.shared",
}


def data_schema(event_type: EventType) -> dict[str, Any]:
    """The JSON schema of one event type's envelope (what the feed lists and a webhook posts)."""
    return {
        "type": "object",
        "required": ["id", "type", "version", "occurred_at", "aggregate", "data"],
        "properties": {
            "id": {"type": "integer", "description": "also the webhook-id header"},
            "type": {"type": "string", "const": event_type.name},
            "version": {"type": "integer", "const": event_type.version},
            "occurred_at": {"type": "string", "format": "date-time"},
            "aggregate": {
                "type": "object",
                "required": ["type", "id", "version"],
                "properties": {
                    "type": {"type": "string", "const": AGGREGATE},
                    "id": {"type": "integer"},
                    "version": {"type": "integer", "minimum": 1},
                },
            },
            "data": {
                "type": "object",
                "required": ["subject", "application", "loan"],
                "properties": {
                    "subject": {
                        "type": "object",
                        "properties": {
                            "type": {"type": "string", "const": event_type.subject},
                            "id": {"type": "integer"},
                        },
                    },
                    "application": {"type": "integer"},
                    "loan": {"type": ["integer", "null"]},
                    "from_state": {"type": "string"},
                    "to_state": {"type": "string"},
                    "amount": _MONEY,
                    "reason": {"type": "string"},
                    "details": {"type": "object", "properties": event_type.details},
                },
            },
        },
    }


def event_body(event: Event) -> dict[str, Any]:
    """The envelope of an event, as the feed lists it and a webhook posts it."""
    return {
        "id": event.pk,
        "type": event.type,
        "version": event.type_version,
        "occurred_at": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "aggregate": {
            "type": event.aggregate_type,
            "id": event.aggregate_id,
            "version": event.aggregate_version,
        },
        "data": event.data,
    }


@dataclass(frozen=True)
class Change:
    """What an event says of one subject row: `data` without the subject, application and loan,
    which `events_emit` adds."""

    subject_id: int
    data: dict[str, Any]


def events_for_audit_rows(rows: Sequence[AuditLog]) -> None:
    """The events the audited changes `rows` announce, those of the catalogue (called by
    services.audit for one row or for a set-based service's rows). Rows are grouped by event type
    in the order each type first appears, so the events of one financing keep the order of its
    changes when a bulk writer writes its rows kind by kind, as the single path does."""
    groups: dict[tuple[str, type[models.Model]], list[Change]] = {}
    for row in rows:
        name = AUDIT_EVENTS.get(row.action)
        model = apps.get_model(row.object_type) if name is not None else None
        if name is None or model not in ROOT:
            continue
        data: dict[str, Any] = {"from_state": row.from_state, "to_state": row.to_state}
        if row.amount is not None:
            data["amount"] = f"{row.amount:.2f}"
        if row.reason:
            data["reason"] = row.reason
        data["details"] = row.payload
        groups.setdefault((name, model), []).append(Change(int(row.object_id), data))
    events_emit_groups([(name, kind, changes) for (name, kind), changes in groups.items()])


def events_emit(name: str, model: type[models.Model], changes: Sequence[Change]) -> int:
    """Write the events of `changes` (rows of `model`) with their recipients and deliveries, in
    the caller's transaction: a handful of queries per call whatever the number of rows (callers
    pass a chunk). Returns the number of events written."""
    return events_emit_groups([(name, model, changes)])


def events_emit_groups(groups: Sequence[tuple[str, type[models.Model], Sequence[Change]]]) -> int:
    """`events_emit` for several (type, model, changes) groups at once, in their order (events,
    ids and versions as one call per group in turn would give them): each group's subjects read
    once (their roots, loans and audiences), then ONE stream upsert, ONE insert of the events, one
    of their recipients and one read of the webhook endpoints for all of them."""
    groups = [g for g in groups if g[2]]
    if not groups:
        return 0
    subjects: list[tuple[EventType, Change, int, int | None, set[int]]] = []
    for name, model, changes in groups:
        lookups = [ROOT[model], LOAN.get(model, "pk")]
        audiences, found = event_audiences_with(model, [c.subject_id for c in changes], lookups)
        for c in changes:
            root, loan = found[c.subject_id]
            subjects.append(
                (
                    CATALOGUE[name],
                    c,
                    root,
                    loan if model in LOAN else None,
                    audiences.get(c.subject_id, set()),
                )
            )
    versions = _versions_take([root for _t, _c, root, _l, _a in subjects])
    now = timezone.now()
    postgresql = connection.vendor == "postgresql"
    txid = 0 if postgresql else current_txid()  # PostgreSQL: taken by the INSERT itself
    rows = [
        Event(
            type=event_type.name,
            type_version=event_type.version,
            aggregate_type=AGGREGATE,
            aggregate_id=root,
            aggregate_version=version,
            subject_type=event_type.subject,
            subject_id=c.subject_id,
            data={
                "subject": {"type": event_type.subject, "id": c.subject_id},
                "application": root,
                "loan": loan,
                **c.data,
            },
            occurred_at=now,
            txid=txid,
        )
        for (event_type, c, root, loan, _a), version in zip(subjects, versions, strict=True)
    ]
    if postgresql:
        _events_insert(rows)
    else:
        Event.objects.bulk_create(rows)
    _recipients_insert([(e.pk, org) for e, s in zip(rows, subjects, strict=True) for org in sorted(s[4])])
    _deliveries_write(
        [
            (
                _Written(e.pk, e.type, e.aggregate_type, e.aggregate_id, e.aggregate_version, e.subject_id),
                s[4],
            )
            for e, s in zip(rows, subjects, strict=True)
        ],
        now,
    )
    return len(rows)


def _events_insert(rows: list[Event]) -> None:
    """PostgreSQL: the events in one statement (ids given in the rows' order), the rows passed as
    one JSON document, not as model fields (a chunk's few hundred events cost a fraction of
    Django's bulk_create); the recipients follow in one more (_recipients_insert)."""
    first = rows[0]
    qn = connection.ops.quote_name
    document = json.dumps(
        [
            {
                "t": e.type,
                "tv": e.type_version,
                "st": e.subject_type,
                "a": e.aggregate_id,
                "v": e.aggregate_version,
                "s": e.subject_id,
                "d": e.data,
            }
            for e in rows
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {qn(Event._meta.db_table)} (type, type_version, aggregate_type,
                aggregate_id, aggregate_version, subject_type, subject_id, data, occurred_at, txid)
            SELECT t.e->>'t', (t.e->>'tv')::integer, %s, (t.e->>'a')::bigint, (t.e->>'v')::integer,
                   t.e->>'st', (t.e->>'s')::bigint, t.e->'d', %s, pg_current_xact_id()::text::bigint
            FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY t.n
            RETURNING id, aggregate_id, aggregate_version, txid""",  # noqa: S608 (the model's own table)
            [first.aggregate_type, first.occurred_at, document],
        )
        ids = {(int(a), int(v)): (int(pk), int(txid)) for pk, a, v, txid in cursor.fetchall()}
        for e in rows:
            e.pk, e.txid = ids[(e.aggregate_id, e.aggregate_version)]


# The set-based writer's statements: {source} is the caller's SELECT (subject_id, aggregate_id,
# data), {streams}/{events}/{recipients} the models' quoted tables; every value is a parameter.
#
# The stream rows are created, locked and moved on by one upsert whose rows come in aggregate order
# (`ORDER BY`: an INSERT takes its rows' locks in the order its SELECT yields them), so two
# transactions writing events of the same financings lock their streams in the same order and
# cannot deadlock on them; it returns each stream's last version given out, and an aggregate's
# events are numbered back from it in subject order. A caller writes a transaction's events of one
# kind in ONE call (the subsidy chunk, the run's completion and payment do), so the order holds
# across the transaction, not only within a call.
_STREAMS_TAKE = """
INSERT INTO {streams} (aggregate_type, aggregate_id, version)
SELECT %(agg)s, c.aggregate_id, c.n FROM (
    SELECT s.aggregate_id, COUNT(*) AS n FROM {src} s GROUP BY s.aggregate_id
) c WHERE c.n > 0 ORDER BY c.aggregate_id
ON CONFLICT (aggregate_type, aggregate_id) DO UPDATE SET version = {streams}.version + excluded.version
""".strip()
_EVENTS_SELECT = """
INSERT INTO {events} (type, type_version, aggregate_type, aggregate_id, aggregate_version,
                      subject_type, subject_id, data, occurred_at, txid)
SELECT %(type)s, %(type_version)s, %(agg)s, s.aggregate_id,
       st.version + 1 - ROW_NUMBER() OVER (PARTITION BY s.aggregate_id ORDER BY s.subject_id DESC),
       %(subject_type)s, s.subject_id, {data}, %(now)s, {txid}
FROM {src} s
JOIN {streamed} st ON st.aggregate_id = s.aggregate_id{stream_type}
ORDER BY s.subject_id
RETURNING id, subject_id, aggregate_id, aggregate_version
""".strip()
# PostgreSQL: one statement, the source read once (materialised), the streams taken in it.
_EVENTS_PG_SQL = """
WITH src AS MATERIALIZED ({source}),
taken AS ({streams_take} RETURNING aggregate_id, version)
{events_insert}
""".strip()
_RECIPIENTS_PG_SQL = """
INSERT INTO {recipients} (event_id, organization_id) SELECT * FROM unnest(%s::bigint[], %s::bigint[])
""".strip()
_RECIPIENTS_SQLITE_SQL = "INSERT INTO {recipients} (event_id, organization_id) VALUES (%s, %s)"


def events_insert_select(name: str, model: type[models.Model], source: str, params: dict[str, Any]) -> int:
    """Write the events of the rows `source` selects, set-based, in the caller's transaction:
    `source` is a SELECT of `subject_id`, `aggregate_id` (the financing's application) and `data`
    (the whole `data` object, built in SQL: see `json_object`), one row per subject. The stream
    versions are taken by one upsert (rows created or locked in aggregate order, see _STREAMS_TAKE),
    the events are one INSERT ... SELECT numbered in subject order within each aggregate (on
    PostgreSQL both in ONE statement), and their recipients (access.event_audiences; on PostgreSQL
    inserted in SQL from access.event_audience_pairs) and deliveries follow. Returns the number
    written."""
    event_type = CATALOGUE[name]
    quote = connection.ops.quote_name
    postgres = connection.vendor == "postgresql"
    streams = quote(EventStream._meta.db_table)
    now = timezone.now()
    args = {
        **params,
        "agg": AGGREGATE,
        "type": name,
        "type_version": event_type.version,
        "subject_type": event_type.subject,
        "now": connection.ops.adapt_datetimefield_value(now),
    }
    with connection.cursor() as cursor:
        if postgres:
            sql = _EVENTS_PG_SQL.format(
                source=source,
                streams_take=_STREAMS_TAKE.format(streams=streams, src="src"),
                events_insert=_EVENTS_SELECT.format(
                    events=quote(Event._meta.db_table),
                    src="src",
                    streamed="taken",
                    stream_type="",
                    data="CAST(s.data AS JSONB)",
                    txid="pg_current_xact_id()::text::bigint",
                ),
            )
            cursor.execute(sql, args)
        else:
            # SQLite (one writer at a time): the same two steps as two statements ("WHERE" before
            # "ON CONFLICT": SQLite's parser needs it after a SELECT).
            take = _STREAMS_TAKE.format(streams=streams, src=f"({source})")
            cursor.execute(take, args)
            cursor.execute(
                _EVENTS_SELECT.format(
                    events=quote(Event._meta.db_table),
                    src=f"({source})",
                    streamed=streams,
                    stream_type=" AND st.aggregate_type = %(agg)s",
                    data="s.data",
                    txid="0",
                ),
                args,
            )
        written = cursor.fetchall()
    if not written:
        return 0
    if postgres:
        # The recipients in SQL (access.event_audience_pairs: the same organisations as
        # event_audiences), the rows never passing through Python; the audiences are read into
        # Python only when one of those organisations has an active webhook endpoint.
        events_ids, subjects = [row[0] for row in written], [row[1] for row in written]
        if not _recipients_insert_select(model, events_ids, subjects):
            return len(written)
    audiences = event_audiences(model, [row[1] for row in written])
    if not postgres:
        pairs = [(pk, org) for pk, subject, _, _ in written for org in sorted(audiences.get(subject, ()))]
        _recipients_insert(pairs)
    _deliveries_create(
        (_Written(pk, name, AGGREGATE, agg, version, subject) for pk, subject, agg, version in written),
        audiences,
        now,
    )
    return len(written)


_RECIPIENTS_SELECT_SQL = """
INSERT INTO {recipients} (event_id, organization_id)
SELECT w.id, a.org FROM unnest(%s::bigint[], %s::bigint[]) AS w(id, subject)
JOIN ({audiences}) AS a(pk, org) ON a.pk = w.subject
ORDER BY w.id, a.org
""".strip()


def _recipients_insert_select(model: type[models.Model], event_ids: list[int], subjects: list[int]) -> bool:
    """PostgreSQL: the recipients of these events (one per subject) in one INSERT ... SELECT;
    whether any recipient has an active webhook endpoint (deliveries to create)."""
    pairs = event_audience_pairs(model, RawSQL("SELECT unnest(%s::bigint[])", [subjects]))
    audiences, audience_params = pairs.query.sql_with_params()
    recipients = connection.ops.quote_name(EventRecipient._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            _RECIPIENTS_SELECT_SQL.format(recipients=recipients, audiences=audiences),
            [event_ids, subjects, *audience_params],
        )
    orgs = EventRecipient.objects.filter(event_id__in=RawSQL("SELECT unnest(%s::bigint[])", [event_ids]))
    return WebhookEndpoint.objects.filter(
        status=EndpointStatus.ACTIVE, organization_id__in=orgs.values("organization_id")
    ).exists()


def _recipients_insert(pairs: Sequence[tuple[int, int]]) -> None:
    """(event, organisation) rows in one statement (PostgreSQL: two arrays; SQLite: executemany)."""
    if not pairs:
        return
    recipients = connection.ops.quote_name(EventRecipient._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                _RECIPIENTS_PG_SQL.format(recipients=recipients),
                [[p[0] for p in pairs], [p[1] for p in pairs]],
            )
        else:
            cursor.executemany(_RECIPIENTS_SQLITE_SQL.format(recipients=recipients), pairs)


def json_object(*pairs: tuple[str, str]) -> str:
    """A JSON object built in SQL from (key, SQL expression) pairs (keys are code, not input)."""
    fn = "jsonb_build_object" if connection.vendor == "postgresql" else "json_object"
    body = ", ".join(f"'{key}', {expr}" for key, expr in pairs)
    return f"{fn}({body})"


def json_bool(expr: str) -> str:
    """A boolean column as a JSON true/false (SQLite stores 0/1)."""
    if connection.vendor == "postgresql":
        return expr
    return f"CASE WHEN {expr} THEN json('true') ELSE json('false') END"


def current_txid() -> int:
    """The id of the current transaction on PostgreSQL (0 elsewhere: SQLite has one writer)."""
    if connection.vendor != "postgresql":
        return 0
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_xact_id()::text::bigint")
        return int(cursor.fetchone()[0])


def _versions_take(roots: list[int]) -> list[int]:
    """The next versions of these aggregates, one per entry in order; the stream rows stay locked
    until the caller's transaction ends (locked in id order: no deadlock between two chunks)."""
    counts = Counter(roots)
    keys = sorted(counts)
    if connection.vendor == "postgresql":
        # ONE statement: each stream row created or locked and moved on by its number of events,
        # in aggregate id order; it returns the last version given out.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {EventStream._meta.db_table} (aggregate_type, aggregate_id, version)
                SELECT %s, t.k, t.n FROM unnest(%s::bigint[], %s::integer[]) AS t(k, n) ORDER BY t.k
                ON CONFLICT (aggregate_type, aggregate_id)
                DO UPDATE SET version = {EventStream._meta.db_table}.version + EXCLUDED.version
                RETURNING aggregate_id, version""",  # noqa: S608 (the model's own table)
                [AGGREGATE, keys, [counts[k] for k in keys]],
            )
            last = {int(k): int(v) for k, v in cursor.fetchall()}
        given = {k: last[k] - counts[k] for k in keys}
    else:
        EventStream.objects.bulk_create(
            (EventStream(aggregate_type=AGGREGATE, aggregate_id=k) for k in keys), ignore_conflicts=True
        )
        streams = list(
            EventStream.objects.select_for_update()
            .filter(aggregate_type=AGGREGATE, aggregate_id__in=keys)
            .order_by("aggregate_id")
        )
        given = {s.aggregate_id: s.version for s in streams}
        for s in streams:
            s.version += counts[s.aggregate_id]
        EventStream.objects.bulk_update(streams, ["version"], batch_size=1000)
    out = []
    for root in roots:
        given[root] += 1
        out.append(given[root])
    return out


@dataclass(frozen=True)
class _Written:
    """What a delivery needs of an event just written."""

    pk: int
    type: str
    aggregate_type: str
    aggregate_id: int
    aggregate_version: int
    subject_id: int


def _deliveries_create(events: Iterable[_Written], audiences: dict[int, set[int]], now: Any) -> None:
    """One pending delivery per event and active endpoint of an entitled organisation that
    subscribes to its type (an empty list of types: every type)."""
    _deliveries_write([(e, audiences.get(e.subject_id, set())) for e in events], now)


def _deliveries_write(events: Sequence[tuple[_Written, set[int]]], now: Any) -> None:
    """`_deliveries_create` with each event's own audience (events of several subject models)."""
    orgs: set[int] = set().union(*(audience for _e, audience in events))
    endpoints: dict[int, list[WebhookEndpoint]] = {}
    for ep in WebhookEndpoint.objects.filter(organization_id__in=orgs, status=EndpointStatus.ACTIVE).only(
        "pk", "organization_id", "event_types"
    ):
        endpoints.setdefault(ep.organization_id, []).append(ep)
    if not endpoints:
        return
    rows = [
        WebhookDelivery(
            endpoint=ep,
            event_id=e.pk,
            aggregate_type=e.aggregate_type,
            aggregate_id=e.aggregate_id,
            aggregate_version=e.aggregate_version,
            next_attempt_at=now,
        )
        for e, audience in events
        for org in sorted(audience)
        for ep in endpoints.get(org, ())
        if not ep.event_types or e.type in ep.event_types
    ]
    WebhookDelivery.objects.bulk_create(rows, batch_size=2000)
    if rows and settings.WEBHOOK_RELAY_ON_COMMIT:
        from .enqueue import enqueue_on_commit

        enqueue_on_commit("webhooks_relay", robust=True)


def id_chunks(rows: models.QuerySet[Any], size: int = 2000) -> Iterable[list[Any]]:
    """The rows of a `values_list` queryset whose first column is the id, in id order, in lists of
    `size` (keyset pagination): how the bulk paths feed events_emit."""
    last = 0
    while True:
        part = list(rows.filter(pk__gt=last).order_by("pk")[:size])
        if not part:
            return
        yield part
        last = part[-1][0]
