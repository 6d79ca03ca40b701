"""Read-only screens of loan-guarantee insurance policies and their premium payments (DOMAIN.md
section 7): the insurer's own, regulators their region's (fintech.access)."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.utils.translation import gettext_lazy as _

from fintech.models import OrganizationKind, Policy, PremiumPayment

from .display import link_column, name_column
from .scoping import ReviewAdmin, ReviewInline

K = OrganizationKind


class PremiumPaymentInline(ReviewInline):
    model = PremiumPayment
    view_roles = (K.INSURER, K.REGULATOR)
    fields = ["paid_on", "amount", "recorded_by", "external_id"]


@admin.register(Policy)
class PolicyAdmin(ReviewAdmin):
    view_roles = (K.INSURER, K.REGULATOR)
    # The list fits a 1,366 px screen: the term and the premium paid so far are on the policy's
    # page (the status says whether the premium is paid).
    list_display = [
        "policy_number",
        "application_link",
        "sme_name",
        "insured_amount",
        "premium_rate",
        "premium",
        "status",
    ]
    list_select_related = ["application__sme"]
    list_filter = ["status"]
    search_fields = ["=policy_number", "application__sme__name", "=application__sme__uscc"]
    fields = [
        "policy_number",
        "application_link",
        "insurer",
        ("insured_amount", "premium_rate", "term_months"),
        ("premium", "premium_paid_amount", "premium_paid_on"),
        "status",
        "issued_by",
        "external_id",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [PremiumPaymentInline]

    application_link = link_column("application", _("application"))

    sme_name = name_column("application__sme", _("SME"))
