"""The admin's side of fintech.access: every list, detail page, inline, foreign-key choice list and
related-object filter of a scoped screen shows only the rows `access.visible` lets the user see;
platform staff see everything. A screen names only who may open it (`view_roles`)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest

from fintech import access

from .display import FormattedFieldsMixin, formatted


class ScreenMixin(FormattedFieldsMixin):
    """Who opens the screen: member staff of one of `view_roles`, or (when None) any member staff,
    or whoever Django's model permissions let in."""

    view_roles: tuple[str, ...] | None = None

    def may_view(self, request: HttpRequest) -> bool:
        if self.view_roles is None:
            return access.may_review(request.user)
        return access.staff_in(request.user, *self.view_roles)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if self.view_roles is None:
            return self.may_view(request) or super().has_view_permission(request, obj)  # type: ignore[misc]
        return self.may_view(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        if self.view_roles is None:
            return self.may_view(request) or super().has_module_permission(request)  # type: ignore[misc]
        return self.may_view(request)


class ScopedMixin(ScreenMixin):
    """ScreenMixin, and the rows (and foreign-key choices) through `access.visible`; a role that can
    never see a row of the model (a bank and patents) does not get the screen or its menu entry."""

    model: Any

    def may_view(self, request: HttpRequest) -> bool:
        return super().may_view(request) and access.may_ever_see(request.user, self.model)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return access.visible(request.user, super().get_queryset(request))  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        related = db_field.related_model
        if related in access.SCOPES and not access.is_platform(request.user):
            kwargs["queryset"] = access.visible(request.user, related._default_manager.all())
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class ScopedAdmin(ScopedMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass


class ScopedInline(ScopedMixin, admin.TabularInline):  # type: ignore[type-arg]
    pass


class ReadOnlyAdminMixin:
    """Records written only by services (audit rows, ledger lines): view, never add/change/delete."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


class PlatformEditsMixin:
    """Reference data every member may read and only platform staff add or change."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_platform(request.user)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return access.is_platform(request.user)


class ReviewAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    """A read-only review screen: what services wrote, scoped, with the actions of actions.py."""


class ReviewInline(ReadOnlyAdminMixin, ScopedInline):
    """A read-only, scoped list of a record's children on its page."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return formatted(self.model, list(self.fields or ()))
