"""Organisation scoping for the admin: every list, form choice, filter and inline of a scoped
admin shows only what the user's organisation may see; platform staff see everything.

Review screens of banks and insurers subclass OrgScopedAdmin and name how a row reaches an
organisation (`org_lookups`).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import Model, Q, QuerySet
from django.http import HttpRequest

from fintech.models import Organization, OrganizationKind, User
from fintech.selectors.parties import is_active_member

# The one form page of every admin action that calls a service (origination, risk, subsidies).
ACTION_TEMPLATE = "admin/fintech/action_form.html"


def is_platform(user: Any) -> bool:
    return (
        bool(getattr(user, "is_superuser", False)) or getattr(user, "role", "") == OrganizationKind.PLATFORM
    )


def org_filter(user: User, lookups: tuple[str, ...]) -> Q:
    """Rows whose lookups reach the user's organisation (any of them)."""
    q = Q(pk__in=[])
    for lookup in lookups:
        q |= Q(**{lookup: user.organization_id})
    return q


def may_review(user: Any) -> bool:
    """Platform staff, and the staff of a member organisation (add_member makes them staff).

    Members are onboarded with an organisation, never with Django permission rows: viewing a
    scoped screen is granted by membership, and what they see is their organisation's rows only.
    """
    if is_platform(user):
        return True
    return bool(getattr(user, "is_staff", False) and is_active_member(user))


def role_of(user: Any) -> str:
    return str(getattr(user, "role", "") or "")


def staff_in(user: Any, *roles: str) -> bool:
    """Active staff of an active organisation with one of these roles; platform staff pass."""
    if not (getattr(user, "is_staff", False) and is_active_member(user)):
        return False
    return is_platform(user) or role_of(user) in roles


class ReviewScreenMixin:
    """Let member staff read a screen without per-model Django permissions."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return may_review(request.user) or super().has_view_permission(request, obj)  # type: ignore[misc]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return may_review(request.user) or super().has_module_permission(request)  # type: ignore[misc]


class OrgScopedMixin(ReviewScreenMixin):
    """Scope querysets (and foreign-key choices) to the user's organisation; members may view."""

    org_lookups: tuple[str, ...] = ()
    # Foreign-key fields whose choices are scoped, with the lookup from the related model.
    fk_scopes: dict[str, tuple[str, ...]] = {}

    def scope(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        user = request.user
        if is_platform(user):
            return qs
        if not getattr(user, "organization_id", None) or not self.org_lookups:
            return qs.none()
        return qs.filter(org_filter(user, self.org_lookups)).distinct()  # type: ignore[arg-type]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return self.scope(request, super().get_queryset(request))  # type: ignore[misc]

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        user = request.user
        lookups = self.fk_scopes.get(db_field.name)
        if lookups is not None and not is_platform(user):
            kwargs["queryset"] = db_field.related_model._default_manager.filter(
                org_filter(user, lookups)  # type: ignore[arg-type]
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)  # type: ignore[misc]


class OrgScopedAdmin(OrgScopedMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass


class OrgScopedInline(OrgScopedMixin, admin.TabularInline):  # type: ignore[type-arg]
    pass


class ReadOnlyAdminMixin:
    """Records written only by services (audit rows, ledger lines): view, never add/change/delete."""

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False


def own_organization(request: HttpRequest) -> Organization | None:
    return getattr(request.user, "organization", None)
