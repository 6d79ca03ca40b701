"""The one way an application changes status: locked row, re-checked source state, audit row."""

from __future__ import annotations

from typing import Any

from django_fsm import can_proceed

from fintech.errors import InvalidTransition
from fintech.models import Application, User

from .audit import audit_record


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
        raise InvalidTransition(app.status, name.replace("_", " "))
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


def require_status(app: Application, action: str, *statuses: str) -> None:
    if app.status not in statuses:
        raise InvalidTransition(app.status, action)
