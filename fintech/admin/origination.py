"""Review screens of origination for insurer and bank staff (DOMAIN.md sections 1, 7, 8, 11).

Each organisation sees only what names it (scoping.OrgScopedAdmin), regulators their region,
platform staff everything. Nothing here is edited directly: the application's detail page offers
the actions its viewer's role may take in the current status, and each action calls the same
service as the API, with the user as actor, so the rules and the audit trail live in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from fintech.errors import DomainError, InvalidTransition
from fintech.models import (
    Application,
    ApplicationStatus,
    AuditLog,
    Installment,
    Loan,
    OrganizationKind,
    PatentValuation,
    Pledge,
    PledgedPatent,
    Policy,
    PolicyStatus,
    PremiumPayment,
    User,
    Valuation,
)
from fintech.services import applications as application_services
from fintech.services import loans as loan_services
from fintech.services import policies as policy_services

from . import forms as review_forms
from .scoping import (
    ACTION_TEMPLATE,
    OrgScopedAdmin,
    OrgScopedInline,
    OrgScopedMixin,
    ReadOnlyAdminMixin,
    is_platform,
    role_of,
    staff_in,
)

S = ApplicationStatus
K = OrganizationKind
DASH = "—"


# --- scoping and permissions ---------------------------------------------------------------------


class ReviewScopeMixin(OrgScopedMixin):
    """OrgScopedMixin plus what a serious reviewer expects: regulators read the rows of SMEs in
    their region (DOMAIN.md section 11), and viewing is granted by role, not by Django model
    permissions (members are onboarded with an organisation, never with permission rows)."""

    view_roles: tuple[str, ...] = ()
    region_lookup: str = ""  # how a row reaches the SME's region, for regulators

    def scope(self, request: HttpRequest, qs: QuerySet[Any]) -> QuerySet[Any]:
        user = request.user
        if not is_platform(user) and role_of(user) == K.REGULATOR:
            if not self.region_lookup:
                return qs.none()
            return qs.filter(**{self.region_lookup: user.organization.region_id})  # type: ignore[union-attr]
        return super().scope(request, qs)

    def may_view(self, request: HttpRequest) -> bool:
        return staff_in(request.user, *self.view_roles)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_view(request)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may_view(request)


# --- rendering helpers (read-only panels of the detail pages) -----------------------------------


def _money(value: Decimal | None) -> str:
    return DASH if value is None else f"{value:,.2f}"


def _rate(value: Decimal | None) -> str:
    """A fraction shown as a percentage without trailing zeros: 0.01500000 -> 1.5 %."""
    if value is None:
        return DASH
    return f"{(value * 100).normalize():f} %"


def _day(value: date | None) -> str:
    return DASH if value is None else value.isoformat()


def _text(value: Any) -> Any:
    return DASH if value in (None, "") else value


def readonly_copy(fields: Any) -> list[str]:
    """Every field of an inline shown read-only (the same names as `fields`)."""
    return [str(name) for name in fields]


def _one(obj: Model, name: str) -> Any:
    """A reverse one-to-one (application.policy, loan.pledge ...) or None while it is missing."""
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def _facts(pairs: Iterable[tuple[Any, Any]]) -> SafeString:
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", pairs)
    return format_html('<table class="fintech-facts">{}</table>', rows)


def _table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], empty: Any) -> SafeString:
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html(
        '<table class="fintech-review"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


def _admin_link(obj: Model | None, label: Any = None) -> Any:
    if obj is None:
        return DASH
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else obj)


# --- the review actions --------------------------------------------------------------------------


def _policy_of(app: Application, action: str) -> Policy:
    policy = _one(app, "policy")
    if policy is None:
        raise InvalidTransition(app.status, action, gettext("The application has no insurance policy yet."))
    return policy


def _loan_of(app: Application, action: str) -> Loan:
    loan = _one(app, "loan")
    if loan is None:
        raise InvalidTransition(app.status, action, gettext("The application has no approved loan yet."))
    return loan


def _issue_policy(actor: User, app: Application, data: dict[str, Any]) -> str:
    policy = policy_services.policy_issue(
        actor=actor,
        application_id=app.pk,
        premium_rate=data["premium_rate"],
        insured_amount=data["insured_amount"],
    )
    return gettext(
        "Policy %(number)s issued: insured amount %(insured)s, premium %(premium)s. "
        "The application is now with the bank."
    ) % {
        "number": policy.policy_number,
        "insured": _money(policy.insured_amount),
        "premium": _money(policy.premium),
    }


def _record_premium(actor: User, app: Application, data: dict[str, Any]) -> str:
    policy = _policy_of(app, "record a premium payment")
    payment = policy_services.premium_payment_record(
        actor=actor, policy_id=policy.pk, amount=data["amount"], paid_on=data["paid_on"]
    )
    paid = payment.policy
    return gettext(
        "Premium payment of %(amount)s recorded; %(paid)s of %(premium)s paid, policy %(status)s."
    ) % {
        "amount": _money(payment.amount),
        "paid": _money(paid.premium_paid_amount),
        "premium": _money(paid.premium),
        "status": paid.get_status_display(),
    }


def _decline(actor: User, app: Application, data: dict[str, Any]) -> str:
    application_services.application_decline(actor=actor, application_id=app.pk, reason=data["reason"])
    return gettext("Application #%(id)s declined.") % {"id": app.pk}


def _approve(actor: User, app: Application, data: dict[str, Any]) -> str:
    loan = loan_services.loan_approve(
        actor=actor,
        application_id=app.pk,
        principal=data["principal"],
        annual_rate=data["annual_rate"],
        term_months=data["term_months"],
        repayment_method=data["repayment_method"],
    )
    return gettext("Loan #%(id)s approved: principal %(principal)s at %(rate)s for %(term)s months.") % {
        "id": loan.pk,
        "principal": _money(loan.principal),
        "rate": _rate(loan.annual_rate),
        "term": loan.term_months,
    }


def _register_pledge(actor: User, app: Application, data: dict[str, Any]) -> str:
    loan = _loan_of(app, "register a pledge")
    pledge = loan_services.pledge_register(
        actor=actor,
        loan_id=loan.pk,
        registration_number=data["registration_number"],
        registered_on=data["registered_on"],
    )
    return gettext("Pledge %(number)s registered on %(on)s.") % {
        "number": pledge.registration_number,
        "on": _day(pledge.registered_on),
    }


def _disburse(actor: User, app: Application, data: dict[str, Any]) -> str:
    loan = loan_services.loan_disburse(
        actor=actor, loan_id=_loan_of(app, "disburse").pk, disbursed_on=data["disbursed_on"]
    )
    return gettext("Loan #%(id)s disbursed on %(on)s; it matures on %(maturity)s.") % {
        "id": loan.pk,
        "on": _day(loan.disbursed_on),
        "maturity": _day(loan.maturity_on),
    }


def _policy_unpaid(app: Application) -> bool:
    policy = _one(app, "policy")
    return policy is not None and policy.status == PolicyStatus.ISSUED


def _loan_without_pledge(app: Application) -> bool:
    loan = _one(app, "loan")
    return loan is not None and _one(loan, "pledge") is None


def _approve_initial(app: Application) -> dict[str, Any]:
    policy = _one(app, "policy")
    return {
        "principal": policy.insured_amount if policy is not None else app.requested_amount,
        "term_months": app.term_months,
        "repayment_method": app.repayment_method,
    }


def _premium_initial(app: Application) -> dict[str, Any]:
    policy = _one(app, "policy")
    return {"amount": policy.premium - policy.premium_paid_amount} if policy is not None else {}


@dataclass(frozen=True)
class ReviewAction:
    """One button of the detail page. `party` is both the role that may press it and the field of
    the application that must name the user's organisation. `statuses` and `offered` only decide
    which buttons to show; the service called by `run` checks every rule again under a row lock."""

    key: str
    party: str
    label: Any
    form_class: type[forms.Form]
    statuses: tuple[str, ...]
    run: Callable[[User, Application, dict[str, Any]], str]
    offered: Callable[[Application], bool] = lambda app: True
    initial: Callable[[Application], dict[str, Any]] = field(default=lambda app: {})
    danger: bool = False

    def names(self, user: Any, app: Application) -> bool:
        return role_of(user) == self.party and getattr(app, f"{self.party}_id") == user.organization_id

    def available(self, app: Application) -> bool:
        return app.status in self.statuses and self.offered(app)


REVIEW_ACTIONS: tuple[ReviewAction, ...] = (
    ReviewAction(
        key="issue-policy",
        party=K.INSURER,
        label=_("Issue policy"),
        form_class=review_forms.PolicyIssueForm,
        statuses=(S.UNDERWRITING,),
        run=_issue_policy,
        offered=lambda app: _one(app, "policy") is None,
    ),
    ReviewAction(
        key="record-premium",
        party=K.INSURER,
        label=_("Record premium payment"),
        form_class=review_forms.PremiumPaymentForm,
        statuses=(S.BANK_REVIEW, S.APPROVED),
        run=_record_premium,
        offered=_policy_unpaid,
        initial=_premium_initial,
    ),
    ReviewAction(
        key="decline",
        party=K.INSURER,
        label=_("Decline"),
        form_class=review_forms.DeclineForm,
        statuses=(S.UNDERWRITING,),
        run=_decline,
        danger=True,
    ),
    ReviewAction(
        key="approve",
        party=K.BANK,
        label=_("Approve"),
        form_class=review_forms.LoanApproveForm,
        statuses=(S.BANK_REVIEW,),
        run=_approve,
        initial=_approve_initial,
    ),
    ReviewAction(
        key="register-pledge",
        party=K.BANK,
        label=_("Register pledge"),
        form_class=review_forms.PledgeRegisterForm,
        statuses=(S.APPROVED,),
        run=_register_pledge,
        offered=_loan_without_pledge,
    ),
    ReviewAction(
        key="disburse",
        party=K.BANK,
        label=_("Disburse"),
        form_class=review_forms.DisburseForm,
        statuses=(S.APPROVED,),
        run=_disburse,
        offered=lambda app: _one(app, "loan") is not None,
    ),
    ReviewAction(
        key="decline",
        party=K.BANK,
        label=_("Decline"),
        form_class=review_forms.DeclineForm,
        statuses=(S.BANK_REVIEW,),
        run=_decline,
        danger=True,
    ),
)


# --- the work queue ------------------------------------------------------------------------------

# The statuses in which an application waits for the organisation of each role.
QUEUE_STATUSES: dict[str, tuple[str, ...]] = {
    K.SME: (S.DRAFT,),
    K.APPRAISER: (S.VALUATION,),
    K.INSURER: (S.UNDERWRITING,),
    K.BANK: (S.BANK_REVIEW, S.APPROVED),
}


class QueueFilter(admin.SimpleListFilter):
    """By default a member sees the work awaiting its organisation; "all" shows its whole book.

    Choosing a status explicitly drops the default, so "declined" is not emptied by the queue.
    """

    title = _("work queue")
    parameter_name = "queue"
    MINE = "mine"
    ALL = "all"

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.queue_statuses = (
            () if is_platform(request.user) else QUEUE_STATUSES.get(role_of(request.user), ())
        )
        self.status_chosen = any(key.startswith("status") for key in params)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        if not self.queue_statuses:  # platform and regulators have no queue of their own
            return []
        return [(self.MINE, _("Awaiting my organisation")), (self.ALL, _("All"))]

    def effective(self) -> str:
        value = self.value()
        if value in (self.MINE, self.ALL):
            return str(value)
        return self.ALL if self.status_chosen else self.MINE

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.queue_statuses and self.effective() == self.MINE:
            return queryset.filter(status__in=self.queue_statuses)
        return queryset

    def choices(self, changelist: Any) -> Any:
        current = self.effective()
        for lookup, title in self.lookup_choices:
            yield {
                "selected": current == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }


# --- applications --------------------------------------------------------------------------------


@admin.register(Application)
class ApplicationAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("bank", "insurer", "appraiser", "sme")
    region_lookup = "sme__region_id"
    view_roles = (K.BANK, K.INSURER, K.APPRAISER, K.SME, K.REGULATOR)

    list_display = [
        "id",
        "sme_name",
        "requested_amount",
        "term_months",
        "repayment_method",
        "status",
        "bank_name",
        "insurer_name",
        "submitted_on",
        "credit_ceiling",
    ]
    list_display_links = ["id", "sme_name"]
    list_select_related = ["sme", "bank", "insurer"]
    list_filter = [QueueFilter, "status", "repayment_method"]
    search_fields = ["sme__name", "sme__uscc"]
    search_help_text = _("SME name or unified social credit code.")
    list_per_page = 50
    show_full_result_count = False
    fieldsets = [
        (
            _("Application"),
            {
                "fields": [
                    ("status", "submitted_on"),
                    "program",
                    ("requested_amount", "term_months", "repayment_method"),
                    ("risk_grade", "credit_ceiling"),
                    "purpose",
                    "decline_reason",
                ]
            },
        ),
        (_("Parties"), {"fields": ["sme_panel", ("bank", "insurer", "appraiser")]}),
        (_("Patents"), {"fields": ["patents_panel"]}),
        (_("Valuation report"), {"fields": ["valuation_panel"]}),
        (_("Insurance policy"), {"fields": ["policy_panel"]}),
        (_("Loan and repayment schedule"), {"fields": ["loan_panel", "schedule_panel"]}),
        (_("Audit trail"), {"fields": ["audit_panel"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)
    # An appraisal firm sees the valuation side only (DOMAIN.md section 11): not the policy, the
    # loan, its schedule or the audit trail of the other parties' actions.
    APPRAISER_HIDDEN = ("policy_panel", "loan_panel", "schedule_panel", "audit_panel")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if is_platform(request.user) or role_of(request.user) != K.APPRAISER:
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in self.APPRAISER_HIDDEN]})
            for name, opts in fieldsets
            if any(f not in self.APPRAISER_HIDDEN for f in opts["fields"])
        ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        qs = super().get_queryset(request)
        if not is_platform(request.user) and role_of(request.user) != K.SME:
            qs = qs.exclude(status=S.DRAFT)  # a draft is the SME's own until it is submitted
        return qs

    # list columns

    @admin.display(description=_("SME"), ordering="sme__name")
    def sme_name(self, obj: Application) -> str:
        return obj.sme.name

    @admin.display(description=_("bank"), ordering="bank__name")
    def bank_name(self, obj: Application) -> str:
        return obj.bank.name

    @admin.display(description=_("insurer"), ordering="insurer__name")
    def insurer_name(self, obj: Application) -> str:
        return obj.insurer.name

    # detail panels

    @admin.display(description=_("SME"))
    def sme_panel(self, obj: Application) -> SafeString:
        sme = obj.sme
        return _facts(
            [
                (_("name"), sme.name),
                (_("unified social credit code"), sme.uscc),
                (_("region"), sme.region),
                (_("industry"), _text(sme.get_industry_display())),
                (_("size class"), _text(sme.get_size_class_display())),
                (_("employees"), _text(sme.employees)),
                (_("operating revenue"), _money(sme.annual_revenue)),
            ]
        )

    @admin.display(description=_("patents"))
    def patents_panel(self, obj: Application) -> SafeString:
        return _table(
            [
                _("application number"),
                _("title"),
                _("patent type"),
                _("filing date"),
                _("expires on"),
                _("legal status"),
            ],
            (
                (
                    p.application_number,
                    p.title,
                    p.get_patent_type_display(),
                    _day(p.filing_date),
                    _day(p.expires_on),
                    p.get_status_display(),
                )
                for p in obj.patents.order_by("id")
            ),
            _("No patents."),
        )

    @admin.display(description=_("report"))
    def valuation_panel(self, obj: Application) -> SafeString:
        valuation: Valuation | None = _one(obj, "valuation")
        if valuation is None:
            return format_html("<p>{}</p>", _("The application has not been submitted for valuation."))
        facts = _facts(
            [
                (_("status"), valuation.get_status_display()),
                (_("appraisal firm"), obj.appraiser.name),
                (_("report number"), _text(valuation.report_number)),
                (_("valuation date"), _day(valuation.valuation_date)),
                (_("valid until"), _day(valuation.valid_until)),
                (_("appraised value"), _money(valuation.appraised_value)),
                (_("composite score"), _text(valuation.composite_score)),
                (_("risk grade"), _text(valuation.risk_grade)),
                (_("pledge rate"), _rate(valuation.pledge_rate)),
                (_("credit ceiling"), _money(valuation.credit_ceiling)),
                (_("scorecard version"), _text(valuation.scorecard_version)),
                (_("signing appraiser"), _text(valuation.signed_by)),
            ]
        )
        lines = _table(
            [_("patent"), _("method"), _("value"), _("legal"), _("technical"), _("economic")],
            (
                (
                    line.patent.application_number,
                    line.method,
                    _money(line.value),
                    line.indicators.get("legal", DASH),
                    line.indicators.get("technical", DASH),
                    line.indicators.get("economic", DASH),
                )
                for line in valuation.lines.select_related("patent").order_by("patent_id")
            ),
            _("No per-patent values yet."),
        )
        return format_html("{}{}", facts, lines)

    @admin.display(description=_("insurance policy"))
    def policy_panel(self, obj: Application) -> SafeString:
        policy: Policy | None = _one(obj, "policy")
        if policy is None:
            return format_html("<p>{}</p>", _("No policy has been issued."))
        facts = _facts(
            [
                (_("policy number"), policy.policy_number),
                (_("status"), policy.get_status_display()),
                (_("insured amount"), _money(policy.insured_amount)),
                (_("annual premium rate"), _rate(policy.premium_rate)),
                (_("term (months)"), policy.term_months),
                (_("premium"), _money(policy.premium)),
                (_("premium paid"), _money(policy.premium_paid_amount)),
                (_("premium paid on"), _day(policy.premium_paid_on)),
            ]
        )
        payments = _table(
            [_("paid on"), _("amount")],
            ((_day(p.paid_on), _money(p.amount)) for p in policy.premium_payments.order_by("paid_on", "id")),
            _("No premium payment recorded."),
        )
        return format_html("{}{}", facts, payments)

    @admin.display(description=_("loan"))
    def loan_panel(self, obj: Application) -> SafeString:
        loan: Loan | None = _one(obj, "loan")
        if loan is None:
            return format_html("<p>{}</p>", _("No loan has been approved."))
        pledge: Pledge | None = _one(loan, "pledge")
        return _facts(
            [
                (_("loan"), _admin_link(loan, f"#{loan.pk}")),
                (_("status"), loan.get_status_display()),
                (_("principal"), _money(loan.principal)),
                (_("annual rate"), _rate(loan.annual_rate)),
                (_("term (months)"), loan.term_months),
                (_("repayment method"), loan.get_repayment_method_display()),
                (_("approved on"), _day(loan.approved_on)),
                (_("disbursed on"), _day(loan.disbursed_on)),
                (_("matures on"), _day(loan.maturity_on)),
                (_("pledge registration"), pledge.registration_number if pledge else _("not registered")),
                (_("registered on"), _day(pledge.registered_on) if pledge else DASH),
                (_("secured amount"), _money(pledge.secured_amount) if pledge else DASH),
            ]
        )

    @admin.display(description=_("repayment schedule"))
    def schedule_panel(self, obj: Application) -> SafeString:
        loan: Loan | None = _one(obj, "loan")
        rows = list(loan.installments.order_by("seq")) if loan is not None else []
        return _table(
            [
                _("number"),
                _("accrual from"),
                _("due on"),
                _("days"),
                _("principal due"),
                _("interest due"),
                _("paid"),
                _("paid on"),
                _("status"),
            ],
            (
                (
                    i.seq,
                    _day(i.start_on),
                    _day(i.due_on),
                    i.days,
                    _money(i.principal_due),
                    _money(i.interest_due),
                    _money(i.principal_paid + i.interest_paid),
                    _day(i.paid_on),
                    i.get_status_display(),
                )
                for i in rows
            ),
            _("The schedule is built when the loan is disbursed."),
        )

    @admin.display(description=_("audit trail"))
    def audit_panel(self, obj: Application) -> SafeString:
        # The application's own rows, and those of the records it gathered on the way.
        wanted = Q(object_type=Application._meta.label_lower, object_id=str(obj.pk))
        loan = _one(obj, "loan")
        for record in (_one(obj, "valuation"), _one(obj, "policy"), loan, loan and _one(loan, "pledge")):
            if record is not None:
                wanted |= Q(object_type=record._meta.label_lower, object_id=str(record.pk))
        entries = (
            AuditLog.objects.filter(wanted).select_related("actor", "actor_organization").order_by("at", "id")
        )
        return _table(
            [
                _("at"),
                _("action"),
                _("from state"),
                _("to state"),
                _("actor"),
                _("organisation"),
                _("amount"),
                _("reason"),
            ],
            (
                (
                    timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                    e.action,
                    _text(e.from_state),
                    _text(e.to_state),
                    _text(e.actor),
                    _text(e.actor_organization and e.actor_organization.name),
                    _money(e.amount),
                    _text(e.reason),
                )
                for e in entries
            ),
            _("No audit entries."),
        )

    # review actions

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/review/<slug:action>/",
                self.admin_site.admin_view(self.review_action_view),
                name="fintech_application_review",
            )
        ]
        return own + super().get_urls()  # before the catch-all "<path:object_id>/" of the admin

    def review_actions_for(self, request: HttpRequest, app: Application) -> list[dict[str, Any]]:
        return [
            {
                "label": action.label,
                "url": reverse(
                    "admin:fintech_application_review",
                    args=[app.pk, action.key],
                    current_app=self.admin_site.name,
                ),
                "danger": action.danger,
            }
            for action in REVIEW_ACTIONS
            if action.names(request.user, app) and action.available(app)
        ]

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Application | None = None,
    ) -> HttpResponse:
        context["review_actions"] = self.review_actions_for(request, obj) if obj is not None else []
        return super().render_change_form(request, context, add, change, form_url, obj)

    def _action(self, user: Any, app: Application, key: str) -> ReviewAction:
        candidates = [a for a in REVIEW_ACTIONS if a.key == key]
        if not candidates:
            raise Http404(gettext("No such review action."))
        for action in candidates:
            if action.names(user, app):
                return action
        raise PermissionDenied(
            gettext("Only the organisation named on the application for this step may do this.")
        )

    @staticmethod
    def _summary(app: Application) -> list[tuple[Any, Any]]:
        policy: Policy | None = _one(app, "policy")
        loan: Loan | None = _one(app, "loan")
        rows: list[tuple[Any, Any]] = [
            (_("SME"), f"{app.sme.name} ({app.sme.uscc})"),
            (_("status"), app.get_status_display()),
            (_("requested amount"), _money(app.requested_amount)),
            (_("term (months)"), app.term_months),
            (_("credit ceiling"), _money(app.credit_ceiling)),
        ]
        if policy is not None:
            rows += [
                (_("insured amount"), _money(policy.insured_amount)),
                (_("premium"), _money(policy.premium)),
                (_("premium paid"), _money(policy.premium_paid_amount)),
            ]
        if loan is not None:
            rows += [(_("principal"), _money(loan.principal)), (_("loan status"), loan.get_status_display())]
        return rows

    @method_decorator(require_http_methods(["GET", "POST"]))
    def review_action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """Show the action's form (GET); on POST call its service with the user as actor. A broken
        rule comes back as an error message on the detail page, and nothing has changed."""
        app = self.get_object(request, unquote(object_id))
        if app is None:  # not there, or not the user's to see: the admin's own answer
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        spec = self._action(request.user, app, action)
        change_url = reverse(
            "admin:fintech_application_change", args=[app.pk], current_app=self.admin_site.name
        )
        if request.method == "POST":
            form = spec.form_class(request.POST)
            if form.is_valid():
                try:
                    done = spec.run(request.user, app, form.cleaned_data)  # type: ignore[arg-type]
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                else:
                    self.message_user(request, done, messages.SUCCESS)
                return HttpResponseRedirect(change_url)
        elif not spec.available(app):
            self.message_user(
                request,
                gettext("“%(action)s” is not open while the application is %(status)s.")
                % {"action": spec.label, "status": app.get_status_display()},
                messages.WARNING,
            )
            return HttpResponseRedirect(change_url)
        else:
            form = spec.form_class(initial=spec.initial(app))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": app,
            "title": spec.label,
            "subtitle": str(app),
            "form": form,
            "submit_label": spec.label,
            "summary": self._summary(app),
            "back_url": change_url,
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, ACTION_TEMPLATE, context)


# --- loans, policies, valuations, pledges (read-only) --------------------------------------------


class InstallmentInline(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedInline):
    model = Installment
    org_lookups = ("loan__bank", "loan__sme", "loan__policy__insurer")
    region_lookup = "loan__sme__region_id"
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
    readonly_fields = readonly_copy(fields)
    extra = 0
    can_delete = False


@admin.register(Loan)
class LoanAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("bank", "sme", "policy__insurer")
    region_lookup = "sme__region_id"
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
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])
    inlines = [InstallmentInline]

    @admin.display(description=_("application"), ordering="application_id")
    def application_link(self, obj: Loan) -> Any:
        url = reverse("admin:fintech_application_change", args=[obj.application_id])
        return format_html('<a href="{}">#{}</a>', url, obj.application_id)

    @admin.display(description=_("SME"), ordering="sme__name")
    def sme_name(self, obj: Loan) -> str:
        return obj.sme.name

    @admin.display(description=_("bank"), ordering="bank__name")
    def bank_name(self, obj: Loan) -> str:
        return obj.bank.name


class PremiumPaymentInline(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedInline):
    model = PremiumPayment
    org_lookups = ("policy__insurer",)
    region_lookup = "policy__application__sme__region_id"
    view_roles = (K.INSURER, K.REGULATOR)
    fields = ["paid_on", "amount", "recorded_by", "external_id"]
    readonly_fields = readonly_copy(fields)
    extra = 0
    can_delete = False


@admin.register(Policy)
class PolicyAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("insurer",)
    region_lookup = "application__sme__region_id"
    view_roles = (K.INSURER, K.REGULATOR)
    list_display = [
        "policy_number",
        "application_link",
        "sme_name",
        "insured_amount",
        "premium_rate",
        "term_months",
        "premium",
        "premium_paid_amount",
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

    @admin.display(description=_("application"), ordering="application_id")
    def application_link(self, obj: Policy) -> Any:
        url = reverse("admin:fintech_application_change", args=[obj.application_id])
        return format_html('<a href="{}">#{}</a>', url, obj.application_id)

    @admin.display(description=_("SME"), ordering="application__sme__name")
    def sme_name(self, obj: Policy) -> str:
        return obj.application.sme.name


class PatentValuationInline(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedInline):
    model = PatentValuation
    org_lookups = ("valuation__appraiser",)
    region_lookup = "valuation__application__sme__region_id"
    view_roles = (K.APPRAISER, K.REGULATOR)
    fields = ["patent", "method", "value", "indicators", "inputs"]
    readonly_fields = readonly_copy(fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("patent")


@admin.register(Valuation)
class ValuationAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("appraiser",)
    region_lookup = "application__sme__region_id"
    view_roles = (K.APPRAISER, K.REGULATOR)
    list_display = [
        "id",
        "application_link",
        "sme_name",
        "report_number",
        "valuation_date",
        "valid_until",
        "appraised_value",
        "risk_grade",
        "pledge_rate",
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

    @admin.display(description=_("application"), ordering="application_id")
    def application_link(self, obj: Valuation) -> Any:
        url = reverse("admin:fintech_application_change", args=[obj.application_id])
        return format_html('<a href="{}">#{}</a>', url, obj.application_id)

    @admin.display(description=_("SME"), ordering="application__sme__name")
    def sme_name(self, obj: Valuation) -> str:
        return obj.application.sme.name


class PledgedPatentInline(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedInline):
    model = PledgedPatent
    org_lookups = ("pledge__loan__bank",)
    region_lookup = "pledge__loan__sme__region_id"
    view_roles = (K.BANK, K.REGULATOR)
    fields = ["patent", "is_active"]
    readonly_fields = readonly_copy(fields)
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).select_related("patent")


@admin.register(Pledge)
class PledgeAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("loan__bank",)
    region_lookup = "loan__sme__region_id"
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

    @admin.display(description=_("loan"), ordering="loan_id")
    def loan_link(self, obj: Pledge) -> Any:
        url = reverse("admin:fintech_loan_change", args=[obj.loan_id])
        return format_html('<a href="{}">#{}</a>', url, obj.loan_id)

    @admin.display(description=_("SME"), ordering="loan__sme__name")
    def sme_name(self, obj: Pledge) -> str:
        return obj.loan.sme.name
