from __future__ import annotations

from django.contrib import admin

from fintech.models import Patent, Patentee

from .scoping import OrgScopedAdmin, OrgScopedInline


class PatenteeInline(OrgScopedInline):
    model = Patentee
    org_lookups = ("patent__owner",)
    extra = 0
    readonly_fields = ["position", "name", "uscc", "pledge_consent_on"]
    can_delete = False


@admin.register(Patent)
class PatentAdmin(OrgScopedAdmin):
    org_lookups = ("owner",)
    list_display = ["application_number", "title", "patent_type", "status", "expires_on", "owner"]
    list_filter = ["patent_type", "status"]
    search_fields = ["application_number", "title", "owner__name"]
    inlines = [PatenteeInline]
    # Legal status changes go through services.patents.patent_status_set (audited); see actions.
    readonly_fields = [
        "application_number", "title", "patent_type", "filing_date", "grant_date", "claims_count",
        "term_adjustment_days", "expires_on", "status", "owner", "created_by", "external_id",
    ]

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False  # SMEs register patents through the API (ownership and number checks)

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
