"""Account lockouts (django-axes): platform staff see the locked usernames and release them
(API.md "Auth"); each release is in the audit log."""

from __future__ import annotations

from typing import Any

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest

from fintech.access import is_platform
from fintech.services.audit import audit_record

if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)


@admin.register(AccessAttempt)
class LockoutAdmin(AccessAttemptAdmin):
    """Failed sign-ins per username; deleting a row releases its lock."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return is_platform(request.user)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @transaction.atomic
    def delete_model(self, request: HttpRequest, obj: AccessAttempt) -> None:
        _audit_release(request, obj)
        super().delete_model(request, obj)

    @transaction.atomic
    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[AccessAttempt]) -> None:
        for attempt in queryset:
            _audit_release(request, attempt)
        super().delete_queryset(request, queryset)


def _audit_release(request: HttpRequest, attempt: AccessAttempt) -> None:
    audit_record(
        actor=request.user,  # type: ignore[arg-type]
        action="lockout.release",
        obj=attempt,
        reason=f"{attempt.username} ({attempt.failures_since_start} failed sign-ins)",
    )
