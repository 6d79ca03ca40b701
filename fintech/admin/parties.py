from __future__ import annotations

from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fintech.access import is_platform
from fintech.models import AuditLog, Organization, Program, Region, User
from fintech.rules.identifiers import InvalidIdentifier, validate_uscc
from fintech.services.audit import audit_record

from .display import DASH, audit_action, local_name, name_column, record_label, state_label
from .scoping import PlatformEditsMixin, ReadOnlyAdminMixin, ScopedAdmin, ScreenMixin


@admin.register(Region)
class RegionAdmin(PlatformEditsMixin, ScreenMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name_zh", "name_en"]
    search_fields = ["code", "name_zh", "name_en"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_platform(request.user)


class OrganizationForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = Organization
        fields = [
            "kind",
            "name",
            "uscc",
            "region",
            "external_id",
            "is_active",
            "industry",
            "employees",
            "annual_revenue",
            "total_assets",
            "size_class",
        ]

    def clean_uscc(self) -> str:
        # The same GB 32100-2015 check as registration and add_member (DOMAIN.md section 2).
        try:
            return validate_uscc(self.cleaned_data["uscc"])
        except InvalidIdentifier as exc:
            raise forms.ValidationError(str(exc)) from exc


@admin.register(Organization)
class OrganizationAdmin(PlatformEditsMixin, ScopedAdmin):
    form = OrganizationForm
    list_display = ["name", "kind", "uscc", "region", "size_class", "is_active"]
    list_filter = ["kind", "size_class", "is_active", ("region", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "uscc", "external_id"]

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # organisations are deactivated, never deleted (history points at them)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Records name an organisation by its role and region: changing either would orphan them
        # (a bank turned insurer could no longer service its loans).
        readonly = list(super().get_readonly_fields(request, obj))
        return [*readonly, "kind", "region"] if obj is not None else readonly

    def save_model(self, request: HttpRequest, obj: Organization, form: Any, change: bool) -> None:
        # The admin's change view runs in a transaction, so the row and its audit commit together.
        super().save_model(request, obj, form, change)
        audit_record(
            actor=cast(User, request.user),
            action="organization.change" if change else "organization.create",
            obj=obj,
            from_state=("active" if form.initial.get("is_active", True) else "inactive") if change else "",
            to_state="active" if obj.is_active else "inactive",
            payload={name: form.cleaned_data.get(name) for name in form.changed_data},
        )


@admin.register(User)
class UserAdmin(PlatformEditsMixin, ScopedAdmin, DjangoUserAdmin):  # type: ignore[misc]
    # The organisation by name in the user's language (its kind is a filter): a 1,366 px screen.
    list_display = ["username", "organization_name", "is_active", "is_staff", "last_login"]
    list_select_related = ["organization"]
    list_filter = ["is_active", "is_staff", "organization__kind"]
    search_fields = ["username", "email", "organization__name"]
    fieldsets = (*(DjangoUserAdmin.fieldsets or ()), (_("Organisation"), {"fields": ("organization",)}))

    organization_name = name_column("organization", _("organisation"))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        # Only a superuser hands out superuser status or Django permissions.
        readonly = list(super().get_readonly_fields(request, obj))
        if getattr(request.user, "is_superuser", False):
            return readonly
        return [*readonly, "is_superuser", "groups", "user_permissions"]

    def save_model(self, request: HttpRequest, obj: User, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        audit_record(
            actor=cast(User, request.user),
            action="user.change" if change else "user.create",
            obj=obj,
            to_state="active" if obj.is_active else "inactive",
            payload={name: form.cleaned_data.get(name) for name in form.changed_data},
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Program)
class ProgramAdmin(PlatformEditsMixin, ScreenMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "code",
        "name",
        "is_active",
        "insurer_share",
        "government_share",
        "bank_share",
        "loan_cap",
    ]
    filter_horizontal = ["regions"]

    def save_model(self, request: HttpRequest, obj: Program, form: Any, change: bool) -> None:
        # Past loans, loss events and runs keep the parameters copied onto them; this records who
        # changed the programme and how (the admin's change view runs in one transaction).
        super().save_model(request, obj, form, change)
        audit_record(
            actor=cast(User, request.user),
            action="program.change" if change else "program.create",
            obj=obj,
            from_state=("active" if form.initial.get("is_active", True) else "suspended") if change else "",
            to_state="active" if obj.is_active else "suspended",
            payload={name: form.cleaned_data.get(name) for name in form.changed_data},
        )

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class AuditActionFilter(admin.SimpleListFilter):
    """The actions found in the trail, by their labels (not their codes)."""

    title = _("action")
    parameter_name = "action"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        codes = model_admin.get_queryset(request).order_by().values_list("action", flat=True).distinct()
        return sorted(((code, audit_action(code)) for code in codes), key=lambda pair: str(pair[1]))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(action=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, ScopedAdmin):
    list_display = ["at", "action_label", "record", "transition", "amount", "actor", "organisation"]
    list_select_related = ["actor", "actor_organization"]
    list_filter = [AuditActionFilter, "object_type"]
    search_fields = ["object_id", "reason", "actor__username"]
    date_hierarchy = "at"
    fields = [
        ("at", "action_label"),
        ("record", "transition"),
        ("actor", "organisation"),
        "amount",
        "reason",
        "payload",
        "request",
    ]
    readonly_fields = [
        "at",
        "action_label",
        "record",
        "transition",
        "actor",
        "organisation",
        "amount",
        "reason",
        "payload",
        "request",
    ]

    @admin.display(description=_("action"), ordering="action")
    def action_label(self, obj: AuditLog) -> Any:
        return audit_action(obj.action)

    @admin.display(description=_("record"), ordering="object_type")
    def record(self, obj: AuditLog) -> str:
        return record_label(obj.object_type, obj.object_id)

    @admin.display(description=_("from → to"))
    def transition(self, obj: AuditLog) -> str:
        if not (obj.from_state or obj.to_state):
            return DASH
        before, after = (
            state_label(obj.object_type, obj.from_state),
            state_label(obj.object_type, obj.to_state),
        )
        return f"{before} → {after}"

    @admin.display(description=_("organisation"), ordering="actor_organization__name")
    def organisation(self, obj: AuditLog) -> Any:
        org = obj.actor_organization
        return local_name(org.name) if org is not None else DASH
