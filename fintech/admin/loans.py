"""Read-only screens of loans with their repayment schedules, and of pledges (DOMAIN.md sections 7, 8):
the bank, the insurer and the SME of a loan see it, regulators their region's (fintech.access)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fintech.models import Installment, Loan, OrganizationKind, Pledge, PledgedPatent

from .display import link_column, name_column
from .scoping import ReviewAdmin, ReviewInline

K = OrganizationKind


class InstallmentInline(ReviewInline):
    model = Installment
    view_roles = (K.BANK, K.INSURER, K.SME, K.REGULATOR)
    fields = [
        "seq",
        "start_on",
        "due_on",
        "days",
        "opening_principal",
        "principal_due",
        "interest_due",
        "principal_paid",
        "interest_paid",
        "paid_on",
        "status",
    ]


@admin.register(Loan)
class LoanAdmin(ReviewAdmin):
    view_roles = (K.BANK, K.INSURER, K.SME, K.REGULATOR)
    list_display = [
        "id",
        "application_link",
        "sme_name",
        "bank_name",
        "principal",
        "annual_rate",
        "term_months",
        "repayment_method",
        "status",
        "disbursed_on",
        "maturity_on",
    ]
    list_select_related = ["sme", "bank"]
    list_filter = ["status", "repayment_method"]
    search_fields = ["sme__name", "=sme__uscc", "=external_id"]
    fields = [
        "application_link",
        "sme",
        "bank",
        "policy",
        "program",
        ("principal", "annual_rate"),
        ("term_months", "repayment_method"),
        "status",
        ("approved_on", "approved_by"),
        ("disbursed_on", "maturity_on", "settled_on"),
        ("grace_days", "default_days_past_due"),
        "external_id",
        "collateral",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [InstallmentInline]

    @admin.display(description=_("collateral coverage"))
    def collateral(self, obj: Loan) -> Any:
        from .collateral import collateral_panel  # the admin modules register in order

        return collateral_panel(obj)

    application_link = link_column("application", _("application"))

    sme_name = name_column("sme", _("SME"))

    bank_name = name_column("bank", _("bank"))


class PledgedPatentInline(ReviewInline):
    model = PledgedPatent
    view_roles = (K.BANK, K.REGULATOR)
    fields = ["patent", "is_active"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("patent")


@admin.register(Pledge)
class PledgeAdmin(ReviewAdmin):
    view_roles = (K.BANK, K.REGULATOR)
    list_display = [
        "registration_number",
        "loan_link",
        "sme_name",
        "registered_on",
        "secured_amount",
        "debt_start_on",
        "debt_end_on",
        "released_on",
    ]
    list_select_related = ["loan__sme"]
    list_filter = ["registered_on"]
    search_fields = ["=registration_number", "loan__sme__name", "=loan__sme__uscc"]
    fields = [
        "registration_number",
        "loan_link",
        "registered_on",
        "secured_amount",
        ("debt_start_on", "debt_end_on"),
        "released_on",
        "recorded_by",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [PledgedPatentInline]

    loan_link = link_column("loan", _("loan"))

    sme_name = name_column("loan__sme", _("SME"))
