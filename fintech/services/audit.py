"""Audit trail writes. Call inside the service's transaction, so the record and the change commit
together or not at all."""

from __future__ import annotations

import json
from contextvars import ContextVar
from decimal import Decimal
from typing import Any

from django.db import models, transaction

from fintech.models import AuditLog, User

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
                summary["body"] = json_safe(json.loads(body, parse_float=Decimal))
            except ValueError:
                summary["body"] = "<not JSON>"
    return summary


def json_safe(value: Any) -> Any:
    """Drop secrets and make the payload JSON-safe (Decimals and dates as strings)."""
    if isinstance(value, dict):
        return {
            str(k): ("***" if any(s in str(k).lower() for s in _SECRET_KEYS) else json_safe(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, bool | int | str):
        return value
    return str(value)


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
    """Append one audit row for a state change or money movement; needs an open transaction."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record must run inside the transaction of the change it records")
    return AuditLog.objects.create(
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
