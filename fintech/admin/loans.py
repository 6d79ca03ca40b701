"""Screens of loans with their repayment schedules, and of pledges (DOMAIN.md sections 7, 8): the
bank, the insurer and the SME of a loan see it, regulators their region's (fintech.access). The
bank's loan page offers the payoff quote, the prepayments and the extension (DOMAIN.md 8a); the
insurer's desk lists the extensions waiting for its endorsement."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import (
    ExtensionStatus,
    Installment,
    Loan,
    LoanExtension,
    LoanStatus,
    OrganizationKind,
    Pledge,
    PledgedPatent,
    User,
)
from fintech.services.extensions import loan_extension_endorse, loan_extension_request
from fintech.services.prepayments import loan_prepay_partial, loan_settle_early, payoff_quote

from .actions import ActionsMixin, AdminAction, Buttons
from .display import link_column, money, name_column
from .forms import (
    ExtensionEndorseForm,
    ExtensionRequestForm,
    PartialPrepaymentForm,
    PayoffQuoteForm,
    SettleEarlyForm,
)
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


def _bank_of(user: Any, loan: Loan) -> bool:
    return access.acts_for(user, K.BANK, loan)


def _active(user: Any, loan: Loan) -> bool:
    return loan.status == LoanStatus.ACTIVE


def _quote(actor: User, loan: Loan, data: dict[str, Any]) -> str:
    quote = payoff_quote(actor=actor, loan_id=loan.pk, on=data["on"])
    return gettext(
        "Payoff on %(on)s: %(total)s (overdue %(overdue)s, principal %(principal)s, accrued interest"
        " %(accrued)s, prepayment fee %(fee)s)."
    ) % {
        "on": quote.on,
        "total": money(quote.total),
        "overdue": money(quote.overdue),
        "principal": money(quote.principal),
        "accrued": money(quote.accrued_interest),
        "fee": money(quote.prepayment_fee),
    }


def _settle(actor: User, loan: Loan, data: dict[str, Any]) -> str:
    done = loan_settle_early(
        actor=actor, loan_id=loan.pk, amount=data["amount"], value_date=data["value_date"]
    )
    return gettext("Loan settled on %(on)s with %(amount)s.") % {
        "on": done.value_date,
        "amount": money(done.amount),
    }


def _prepay(actor: User, loan: Loan, data: dict[str, Any]) -> str:
    done = loan_prepay_partial(
        actor=actor,
        loan_id=loan.pk,
        amount=data["amount"],
        value_date=data["value_date"],
        recast=data["recast"],
    )
    return gettext("Prepayment of %(amount)s recorded; the schedule is now version %(version)s.") % {
        "amount": money(done.principal),
        "version": done.schedule_version,
    }


def _extend(actor: User, loan: Loan, data: dict[str, Any]) -> str:
    extension = loan_extension_request(
        actor=actor, loan_id=loan.pk, new_maturity_on=data["new_maturity_on"], agreed_on=data["agreed_on"]
    )
    return gettext("Extension to %(on)s agreed; it waits for the insurer's endorsement.") % {
        "on": extension.new_maturity_on
    }


LOAN_ACTIONS = Buttons(
    record=(
        AdminAction(
            key="payoff",
            label=_("Payoff quote"),
            form_class=PayoffQuoteForm,
            may=lambda user, loan: _bank_of(user, loan) or access.acts_for(user, K.SME, loan),
            offered=_active,
            run=_quote,
        ),
        AdminAction(
            key="prepay",
            label=_("Partial prepayment"),
            form_class=PartialPrepaymentForm,
            may=_bank_of,
            offered=_active,
            run=_prepay,
        ),
        AdminAction(
            key="settle",
            label=_("Early settlement"),
            form_class=SettleEarlyForm,
            may=_bank_of,
            offered=_active,
            run=_settle,
            danger=True,
        ),
        AdminAction(
            key="extend",
            label=_("Extension"),
            form_class=ExtensionRequestForm,
            may=_bank_of,
            offered=lambda user, loan: (
                _active(user, loan) and not LoanExtension.objects.filter(loan=loan).exists()
            ),
            run=_extend,
        ),
    )
)


@admin.register(Loan)
class LoanAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.BANK, K.INSURER, K.SME, K.REGULATOR)
    admin_actions = LOAN_ACTIONS
    action_name = "loan_action"
    # Fewer columns for a 1,366 px screen (the application, the method and the term are on the
    # page; a bank's officer sees only the bank's own loans, so no bank column).
    list_display = [
        "id",
        "sme_name",
        "bank_name",
        "principal",
        "annual_rate",
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
        "schedule_version",
        ("grace_days", "default_days_past_due"),
        "external_id",
        "collateral",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [InstallmentInline]

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        if access.role_of(request.user) == K.BANK and not access.is_platform(request.user):
            return [c for c in shown if c != "bank_name"]
        return shown

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
    # The list fits a 1,366 px screen: the secured debt's period is on the pledge's page.
    list_display = [
        "registration_number",
        "loan_link",
        "sme_name",
        "registered_on",
        "secured_amount",
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


def _endorse(actor: User, extension: LoanExtension, data: dict[str, Any]) -> str:
    done = loan_extension_endorse(
        actor=actor,
        extension_id=extension.pk,
        premium_rate=data["premium_rate"],
        endorsed_on=data["endorsed_on"],
    )
    return gettext(
        "Extension endorsed; its premium of %(premium)s is due (record it as a premium payment)."
    ) % {"premium": money(done.premium)}


EXTENSION_ACTIONS = Buttons(
    record=(
        AdminAction(
            key="endorse",
            label=_("Endorse extension"),
            form_class=ExtensionEndorseForm,
            may=lambda user, extension: access.acts_for(user, K.INSURER, extension.loan.policy),
            offered=lambda user, extension: extension.status == ExtensionStatus.PENDING,
            run=_endorse,
        ),
    )
)


class WaitingFilter(admin.SimpleListFilter):
    """The insurer's desk: the extensions waiting for its endorsement first."""

    title = _("status")
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> Any:
        return ExtensionStatus.choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(status=self.value()) if self.value() else queryset


@admin.register(LoanExtension)
class LoanExtensionAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.BANK, K.INSURER, K.SME, K.REGULATOR)
    admin_actions = EXTENSION_ACTIONS
    action_name = "extension_action"
    # A 1,366 px screen: the old maturity and the premium paid so far are on the extension's page
    # (the status says whether the premium is due).
    list_display = [
        "id",
        "loan_link",
        "status",
        "agreed_on",
        "new_maturity_on",
        "extra_months",
        "premium",
        "effective_on",
    ]
    list_select_related = ["loan"]
    list_filter = [WaitingFilter]
    fields = [
        "loan_link",
        "status",
        ("agreed_on", "old_maturity_on", "new_maturity_on", "extra_months"),
        ("premium_rate", "premium", "premium_paid_amount"),
        ("endorsed_on", "effective_on", "schedule_version"),
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    loan_link = link_column("loan", _("loan"))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Waiting for an endorsement first, then the newest.
        return super().get_queryset(request).order_by("-status", "-id")
