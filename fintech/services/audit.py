"""Audit trail writes. Call inside the service's transaction, so the record and the change commit
together or not at all."""

from __future__ import annotations

import json
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from config.api import MAX_JSON_DEPTH, json_depth
from fintech.models import AuditLog, User

from .events import events_for_audit_rows

_SECRET_KEYS = ("password", "token", "secret", "refresh", "access", "authorization")
_MAX_REQUEST_BYTES = 64 * 1024

# The request being served, set by config.middleware.AuditRequestMiddleware for writes.
current_request: ContextVar[dict[str, Any] | None] = ContextVar("audit_current_request", default=None)


def request_summary(
    method: str, path: str, content_type: str, body: bytes, files: Any = None, fields: Any = None
) -> dict[str, Any]:
    """What the audit keeps of a request: method, path and the body without secrets (JSON parsed,
    form fields as lists, files by name and size only); a body too large is noted, not kept."""
    summary: dict[str, Any] = {"method": method, "path": path}
    if content_type.startswith("multipart/") or content_type == "application/x-www-form-urlencoded":
        summary["fields"] = json_safe({k: v for k, v in (fields or {}).items()})
        summary["files"] = [{"field": k, "name": f.name, "size": f.size} for k, f in (files or {}).items()]
    elif body:
        if len(body) > _MAX_REQUEST_BYTES:
            summary["body"] = f"<{len(body)} bytes, not kept>"
        else:
            try:
                parsed = json.loads(body, parse_float=Decimal)
            except (ValueError, RecursionError):  # RecursionError: nested too deeply to parse
                summary["body"] = "<not JSON>"
            else:
                too_deep = json_depth(parsed) > MAX_JSON_DEPTH
                summary["body"] = "<nested too deeply, not kept>" if too_deep else json_safe(parsed)
    return summary


def json_safe(value: Any) -> Any:
    """Drop secrets and make the payload JSON-safe (Decimals and dates as strings).

    Iterative, with an explicit stack: a body nested thousands of levels deep must not exhaust
    Python's recursion limit (the API refuses such bodies, but the audit sees them first)."""
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (source, container, key in container)
    while stack:
        source, container, key = stack.pop()
        if isinstance(source, dict):
            out: dict[str, Any] = {}
            for k, v in source.items():
                name = str(k)
                if any(s in name.lower() for s in _SECRET_KEYS):
                    out[name] = "***"
                else:
                    out[name] = None
                    stack.append((v, out, name))
            container[key] = out
        elif isinstance(source, list | tuple):
            items: list[Any] = [None] * len(source)
            stack.extend((v, items, i) for i, v in enumerate(source))
            container[key] = items
        elif isinstance(source, models.Model):
            container[key] = source.pk
        elif source is None or isinstance(source, bool | int | str):
            container[key] = source
        else:
            container[key] = str(source)
    return root[0]


def audit_row(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    amount: Decimal | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditLog:
    """One audit row, not yet written: `audit_record` saves it at once; a set-based service (the
    close's defaults) builds its rows here and writes them with one `bulk_create`, in the same
    transaction as the change (`audit_rows_write`)."""
    return AuditLog(
        actor=actor if actor is not None and actor.pk else None,
        actor_organization_id=getattr(actor, "organization_id", None),
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        from_state=str(from_state or ""),
        to_state=str(to_state or ""),
        reason=reason or "",
        amount=amount,
        payload=json_safe(payload or {}),
        request=current_request.get() or {},
    )


def _in_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")


def audit_record(
    *,
    actor: User | None,
    action: str,
    obj: models.Model,
    from_state: str = "",
    to_state: str = "",
    reason: str = "",
    amount: Decimal | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditLog:
    """Append one audit row for a state change or money movement, and the event it announces
    (services.events); needs an open transaction."""
    _in_transaction()
    row = audit_row(
        actor=actor,
        action=action,
        obj=obj,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        amount=amount,
        payload=payload,
    )
    row.save(force_insert=True)
    # The outbox: the event this change announces (if any) commits or rolls back with it.
    events_for_audit_rows([row])
    return row


def audit_rows_write(rows: list[AuditLog]) -> None:
    """Append the rows built by `audit_row`, in their order, with one INSERT, and the events they
    announce, set-based; needs an open transaction."""
    _in_transaction()
    if len(rows) > 1 and connection.vendor == "postgresql":
        _audit_insert(rows)
        events_for_audit_rows(rows)
    elif rows:
        AuditLog.objects.bulk_create(rows)
        events_for_audit_rows(rows)


def _audit_insert(rows: list[AuditLog]) -> None:
    """PostgreSQL, a set-based writer's rows (the close's defaults: about 20 per default): one
    `INSERT ... SELECT` over one JSON document, ids given in the rows' order (as `bulk_create`
    gave them), no model fields prepared per row."""
    now = timezone.now()
    fields = AuditLog._meta
    document = json.dumps(
        [
            {
                "u": r.actor_id,
                "o": r.actor_organization_id,
                "a": r.action,
                "t": r.object_type,
                "i": r.object_id,
                "f": r.from_state,
                "s": r.to_state,
                "r": r.reason,
                "m": None if r.amount is None else str(r.amount),
                "p": r.payload,
                "q": r.request,
            }
            for r in rows
        ]
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {connection.ops.quote_name(fields.db_table)} (at, actor_id,
                actor_organization_id, action, object_type, object_id, from_state, to_state, reason,
                amount, payload, request)
            SELECT %s, (t.e->>'u')::bigint, (t.e->>'o')::bigint, t.e->>'a', t.e->>'t', t.e->>'i',
                   t.e->>'f', t.e->>'s', t.e->>'r', (t.e->>'m')::numeric, t.e->'p', t.e->'q'
            FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS t(e, n) ORDER BY t.n
            RETURNING id""",  # noqa: S608 (the model's own table)
            [now, document],
        )
        for row, (pk,) in zip(rows, cursor.fetchall(), strict=True):
            row.pk, row.at = pk, now
