"""The one way an application, a loan or a policy changes status: locked row, re-checked source
state (django-fsm-2), audit row."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model
from django_fsm import can_proceed

from fintech.errors import InvalidTransition
from fintech.models import Application, AuditLog, User

from .audit import audit_record, audit_row, audit_rows_write


def application_lock(pk: int) -> Application:
    """Lock the application row for the rest of the transaction (SELECT ... FOR UPDATE)."""
    return Application.objects.select_for_update().get(pk=pk)


def application_transition(
    app: Application,
    name: str,
    *,
    actor: User | None,
    reason: str = "",
    payload: dict[str, Any] | None = None,
) -> None:
    """Run transition `name` on a locked application, save it and write the audit row.

    The source state is checked on the locked row, so of two racing requests only one passes;
    the other gets a 409 that names the current state.
    """
    method = getattr(app, name)
    if not can_proceed(method):
        raise InvalidTransition.of(app, name.replace("_", " "))
    before = app.status
    method()
    app.save()
    audit_record(
        actor=actor,
        action=f"application.{name}",
        obj=app,
        from_state=before,
        to_state=app.status,
        reason=reason,
        payload=payload,
    )


def record_transition(
    obj: Model,
    name: str,
    *,
    actor: User | None,
    fields: tuple[str, ...] = (),
    reason: str = "",
    amount: Any = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """Run transition `name` on a row the caller has locked (a loan, a policy), save its status and
    `fields`, and write the audit row `<model>.<name>` (from, to)."""
    before = _transition_run(obj, name)
    obj.save(update_fields=["status", *fields])
    audit_rows_write(
        [_transition_audit(obj, name, before, actor=actor, reason=reason, amount=amount, payload=payload)]
    )


def transitions_apply_many(objs: Sequence[Model], name: str, *, fields: tuple[str, ...] = ()) -> list[str]:
    """`record_transition` for many locked rows of one model at once (the close's defaults), part
    one: the same state check and transition on each row, one UPDATE of the status and `fields`
    for all of them. Returns each row's state before, for `transitions_audit_rows`."""
    befores = [_transition_run(obj, name) for obj in objs]
    if not objs:
        return befores
    # One UPDATE per set of new values (the target state and `fields`): usually one or a few; a
    # CASE per row (bulk_update) costs more in Python than the statements it saves. On PostgreSQL
    # several sets (the close's defaults, one default day each) are one UPDATE over arrays.
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for obj in objs:
        key = (obj.status, *(getattr(obj, field) for field in fields))  # type: ignore[attr-defined]
        groups[key].append(obj.pk)
    if len(groups) > 1 and connection.vendor == "postgresql":
        _update_from_arrays(objs, ("status", *fields))
        return befores
    for (status, *values), pks in groups.items():
        type(objs[0])._default_manager.filter(pk__in=pks).update(
            status=status, **dict(zip(fields, values, strict=True))
        )
    return befores


def _update_from_arrays(objs: Sequence[Model], names: tuple[str, ...]) -> None:
    """UPDATE ... FROM unnest(ids, values...): each row's own `names` values, one statement."""
    meta = objs[0]._meta
    qn = connection.ops.quote_name
    pk = meta.pk
    assert pk is not None
    columns = [cast("Field[Any, Any]", meta.get_field(name)) for name in names]
    types = [pk.db_type(connection), *(c.db_type(connection) for c in columns)]
    arrays = [[obj.pk for obj in objs], *([getattr(obj, c.attname) for obj in objs] for c in columns)]
    aliases = ", ".join(f"c{i}" for i in range(len(types)))
    sets = ", ".join(f"{qn(str(c.column))} = v.c{i + 1}" for i, c in enumerate(columns))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} AS t SET {sets} "  # noqa: S608 (the model's own table, columns)
            f"FROM unnest({', '.join(f'%s::{t}[]' for t in types)}) AS v({aliases}) "
            f"WHERE t.{qn(str(pk.column))} = v.c0",
            arrays,
        )


def transitions_audit_rows(
    objs: Sequence[Model],
    name: str,
    befores: Sequence[str],
    *,
    actor: User | None,
    reasons: Sequence[str] | None = None,
    amounts: Sequence[Any] | None = None,
    payloads: Sequence[dict[str, Any] | None] | None = None,
) -> list[AuditLog]:
    """Part two: the audit rows `record_transition` writes, unsaved, in the rows' order, for the
    caller's one insert (services.audit.audit_rows_write)."""
    return [
        _transition_audit(
            obj,
            name,
            befores[i],
            actor=actor,
            reason=reasons[i] if reasons is not None else "",
            amount=amounts[i] if amounts is not None else None,
            payload=payloads[i] if payloads is not None else None,
        )
        for i, obj in enumerate(objs)
    ]


def _transition_run(obj: Model, name: str) -> str:
    method = getattr(obj, name)
    before: str = obj.status  # type: ignore[attr-defined]
    if not can_proceed(method):
        raise InvalidTransition.of(obj, name.replace("_", " "))
    method()
    return before


def _transition_audit(
    obj: Model, name: str, before: str, *, actor: User | None, reason: str, amount: Any, payload: Any
) -> AuditLog:
    return audit_row(
        actor=actor,
        action=f"{obj._meta.model_name}.{name}",
        obj=obj,
        from_state=before,
        to_state=obj.status,  # type: ignore[attr-defined]
        reason=reason,
        amount=amount,
        payload=payload,
    )


def require_status(app: Application, action: str, *statuses: str) -> None:
    if app.status not in statuses:
        raise InvalidTransition.of(app, action)
