"""The default permission of every API view."""

from __future__ import annotations

from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from fintech.access import is_active_member
from fintech.models import User


class ActiveMember(BasePermission):
    """Authenticated, and a member of an organisation that is still active."""

    message = _("Your account or your organisation is not active.")

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and is_active_member(user))


def request_user(request: Request) -> User:
    """The authenticated user of a request (ActiveMember guarantees one on every API view)."""
    return cast(User, request.user)
