"""Read-only screens of valuation reports (DOMAIN.md section 6): the appraisal firm's own, regulators
their region's (fintech.access)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fintech.models import OrganizationKind, PatentValuation, Valuation

from .display import link_column, name_column, valuation_method
from .scoping import ReviewAdmin, ReviewInline

K = OrganizationKind


class PatentValuationInline(ReviewInline):
    model = PatentValuation
    view_roles = (K.APPRAISER, K.REGULATOR)
    fields = ["patent", "method_label", "value", "indicators", "inputs"]

    @admin.display(description=_("method"))
    def method_label(self, obj: PatentValuation) -> Any:
        return valuation_method(obj.method)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("patent")


@admin.register(Valuation)
class ValuationAdmin(ReviewAdmin):
    view_roles = (K.APPRAISER, K.REGULATOR)
    list_display = [
        "id",
        "sme_name",
        "report_number",
        "valuation_date",
        "appraised_value",
        "risk_grade",
        "credit_ceiling",
        "status",
    ]
    list_select_related = ["application__sme"]
    list_filter = ["status", "risk_grade"]
    search_fields = ["=report_number", "application__sme__name", "=application__sme__uscc"]
    fields = [
        "application_link",
        "appraiser",
        "status",
        "report_number",
        ("valuation_date", "valid_until"),
        ("appraised_value", "composite_score", "risk_grade", "pledge_rate", "credit_ceiling"),
        "scorecard_version",
        "enterprise_scores",
        ("signed_by", "reported_at"),
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [PatentValuationInline]

    application_link = link_column("application", _("application"))

    sme_name = name_column("application__sme", _("SME"))
