from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fintech.models import AuditLog, Organization, Program, Region, User

from .scoping import OrgScopedAdmin, ReadOnlyAdminMixin, is_platform


@admin.register(Region)
class RegionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name_zh", "name_en"]
    search_fields = ["code", "name_zh", "name_en"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)

    has_add_permission = has_change_permission  # type: ignore[assignment]
    has_delete_permission = has_change_permission


@admin.register(Organization)
class OrganizationAdmin(OrgScopedAdmin):
    org_lookups = ("pk",)
    list_display = ["name", "kind", "uscc", "region", "size_class", "is_active"]
    list_filter = ["kind", "size_class", "is_active", "region"]
    search_fields = ["name", "uscc", "external_id"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # organisations are deactivated, never deleted (history points at them)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)


@admin.register(User)
class UserAdmin(OrgScopedAdmin, DjangoUserAdmin):  # type: ignore[misc]
    org_lookups = ("organization",)
    fk_scopes = {"organization": ("pk",)}
    list_display = ["username", "organization", "is_active", "is_staff", "last_login"]
    list_filter = ["is_active", "is_staff", "organization__kind"]
    search_fields = ["username", "email", "organization__name"]
    fieldsets = (*DjangoUserAdmin.fieldsets, (_("Organisation"), {"fields": ("organization",)}))  # type: ignore[operator]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "is_active", "insurer_share", "government_share", "bank_share", "loan_cap"]
    filter_horizontal = ["regions"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return is_platform(request.user)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("actor_organization",)
    list_display = ["at", "action", "object_type", "object_id", "from_state", "to_state", "amount", "actor"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "reason", "actor__username"]
    date_hierarchy = "at"
