"""Review screens of applications for every party (DOMAIN.md sections 1, 7, 8, 11).

Each organisation sees only what names it (fintech.access), regulators their region, platform staff
everything. Nothing here is edited directly: the application's page offers the review steps its
viewer's organisation may take in the current status (fintech/admin/actions.py), and each calls the
same service as the API, with the user as actor, so the rules and the audit trail live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import CharField, QuerySet, Value
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.errors import InvalidTransition
from fintech.models import (
    Application,
    ApplicationStatus,
    Loan,
    OrganizationKind,
    Pledge,
    Policy,
    User,
    Valuation,
)
from fintech.selectors import desks
from fintech.services import applications as application_services
from fintech.services import loans as loan_services
from fintech.services import policies as policy_services
from fintech.services.common import business_today

from . import forms as review_forms
from .actions import ActionsMixin, AdminAction, Buttons
from .display import (
    DASH,
    admin_link,
    audit_panel,
    day,
    facts,
    local_name,
    money,
    name_column,
    one,
    rate,
    table,
    term_left,
    text,
    valuation_method,
)
from .scoping import ReviewAdmin

S = ApplicationStatus
K = OrganizationKind


# --- the review actions (fintech/admin/actions.py) ----------------------------------------------


def _policy_of(app: Application, action: str) -> Policy:
    policy = one(app, "policy")
    if policy is None:
        raise InvalidTransition.of(app, action, gettext("The application has no insurance policy yet."))
    return policy


def _loan_of(app: Application, action: str) -> Loan:
    loan = one(app, "loan")
    if loan is None:
        raise InvalidTransition.of(app, action, gettext("The application has no approved loan yet."))
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
        "insured": money(policy.insured_amount),
        "premium": money(policy.premium),
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
        "amount": money(payment.amount),
        "paid": money(paid.premium_paid_amount),
        "premium": money(paid.premium),
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
        "principal": money(loan.principal),
        "rate": rate(loan.annual_rate),
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
        "on": day(pledge.registered_on),
    }


def _disburse(actor: User, app: Application, data: dict[str, Any]) -> str:
    loan = loan_services.loan_disburse(
        actor=actor, loan_id=_loan_of(app, "disburse").pk, disbursed_on=data["disbursed_on"]
    )
    return gettext("Loan #%(id)s disbursed on %(on)s; it matures on %(maturity)s.") % {
        "id": loan.pk,
        "on": day(loan.disbursed_on),
        "maturity": day(loan.maturity_on),
    }


def _approve_initial(app: Application) -> dict[str, Any]:
    policy = one(app, "policy")
    return {
        "principal": policy.insured_amount if policy is not None else app.requested_amount,
        "term_months": app.term_months,
        "repayment_method": app.repayment_method,
    }


def _premium_initial(app: Application) -> dict[str, Any]:
    policy = one(app, "policy")
    return {"amount": policy.premium - policy.premium_paid_amount} if policy is not None else {}


def _review(
    step: str,
    label: Any,
    form_class: type[forms.Form],
    run: Callable[[User, Application, dict[str, Any]], str],
    key: str = "",
    initial: Callable[[Application], dict[str, Any]] = lambda app: {},
    danger: bool = False,
) -> AdminAction:
    """A review step (fintech.selectors.desks): pressed by the organisation the application names
    for the step's party, offered only while the step is open, so a button shown can succeed."""
    party = desks.BY_KEY[step].party
    return AdminAction(
        key=key or step,
        label=label,
        form_class=form_class,
        may=lambda user, app: access.acts_for(user, party, app),
        offered=lambda user, app: desks.is_open(app, step),
        run=run,
        initial=lambda user, app: initial(app),
        danger=danger,
    )


def _decline_action(step: str) -> AdminAction:
    # The insurer declines while the policy is open, the bank while the approval is.
    return _review(step, _("Decline"), review_forms.DeclineForm, _decline, key="decline", danger=True)


REVIEW_ACTIONS = Buttons(
    record=(
        _review("policy", _("Issue policy"), review_forms.PolicyIssueForm, _issue_policy, key="issue-policy"),
        _review(
            "premium",
            _("Record premium payment"),
            review_forms.PremiumPaymentForm,
            _record_premium,
            key="record-premium",
            initial=_premium_initial,
        ),
        _decline_action("policy"),
        _review(
            "approval",
            _("Approve"),
            review_forms.LoanApproveForm,
            _approve,
            key="approve",
            initial=_approve_initial,
        ),
        _review(
            "pledge",
            _("Register pledge"),
            review_forms.PledgeRegisterForm,
            _register_pledge,
            key="register-pledge",
        ),
        _review("disbursement", _("Disburse"), review_forms.DisburseForm, _disburse, key="disburse"),
        _decline_action("approval"),
    )
)


# --- the work queue ------------------------------------------------------------------------------


def next_steps(steps: tuple[desks.Step, ...], desk: str) -> Any:
    """The open steps as a desk sees them: its own as tasks in bold ("Approve or decline"), the
    others as what it waits for ("waiting for premium (insurer)"); a dash when nothing is open."""
    if not steps:
        return DASH
    parts = [
        format_html("<strong>{}</strong>", capfirst(step.todo))
        if step.party == desk
        else format_html(
            "{}",
            gettext("waiting for %(step)s (%(party)s)")
            % {"step": step.label, "party": desks.PARTIES[step.party]},
        )
        for step in steps
    ]
    return format_html_join(mark_safe("<br>"), "{}", ((part,) for part in parts))


class QueueFilter(admin.SimpleListFilter):
    """A member's desk: by default the applications waiting on its organisation (any of its steps
    open), or those waiting for one step, each with its count; "all" shows its whole book.

    Choosing a status explicitly drops the default, so "declined" is not emptied by the queue.
    """

    title = _("work queue")
    parameter_name = "queue"
    MINE = "mine"
    ALL = "all"

    def __init__(self, request: HttpRequest, params: dict[str, Any], model: Any, model_admin: Any) -> None:
        self.user = request.user
        self.steps = desks.steps_of(desks.desk_role(request.user))
        self.status_chosen = any(key.startswith("status") for key in params)
        self.scoped = model_admin.get_queryset(request)
        super().__init__(request, params, model, model_admin)

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        if not self.steps:  # platform and regulators take no review step
            return []
        counts = desks.desk_counts(self.user, self.scoped)
        mine = self.scoped.filter(desks.waiting_on(self.user)).count()
        return [
            (self.MINE, gettext("Waiting on my organisation (%(n)s)") % {"n": mine}),
            *(
                (step.key, gettext("%(todo)s (%(n)s)") % {"todo": capfirst(step.todo), "n": n})
                for step, n in counts
            ),
            (self.ALL, _("All")),
        ]

    def effective(self) -> str:
        value = self.value()
        if value == self.ALL or value == self.MINE or value in {s.key for s in self.steps}:
            return str(value)
        return self.ALL if self.status_chosen else self.MINE

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if not self.steps:
            return queryset
        current = self.effective()
        if current == self.MINE:
            return queryset.filter(desks.waiting_on(self.user))
        if current in desks.BY_KEY:
            return queryset.filter(desks.step_filter(current))
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
class ApplicationAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.BANK, K.INSURER, K.APPRAISER, K.SME, K.REGULATOR)
    admin_actions = REVIEW_ACTIONS
    action_path = action_name = "review"

    # Fewer, better columns (a 1,366 px screen): the counterpart the viewer works with (both, in
    # one column, for the others), what the application waits for; the terms, the ceiling and the
    # rest are on the page.
    list_display = [
        "id",
        "sme_name",
        "requested_amount",
        "status",
        "waiting_for",
        "bank_name",
        "insurer_name",
        "parties",
        "submitted_on",
    ]
    list_display_links = ["id", "sme_name"]
    list_select_related = ["sme", "bank", "insurer", "policy", "loan__pledge"]
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
                    "waiting_for",
                    "program",
                    ("requested_amount", "term_months", "repayment_method"),
                    ("risk_grade", "credit_ceiling"),
                    "purpose",
                    "decline_reason",
                ]
            },
        ),
        (_("Parties"), {"fields": ["sme_panel", ("bank", "insurer", "appraiser")]}),
        (_("The SME's other loans with this bank"), {"fields": ["other_loans_panel"]}),
        (_("Patents"), {"fields": ["patents_panel"]}),
        (_("Valuation report"), {"fields": ["valuation_panel"]}),
        (_("Insurance policy"), {"fields": ["policy_panel"]}),
        (_("Loan and repayment schedule"), {"fields": ["loan_panel", "schedule_panel"]}),
        (_("Audit trail"), {"fields": ["audit_panel"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)
    # What an appraisal firm does not see (access.sees_policy_and_loan).
    APPRAISER_HIDDEN = ("policy_panel", "loan_panel", "schedule_panel", "audit_panel", "other_loans_panel")

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if access.sees_policy_and_loan(request.user):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f not in self.APPRAISER_HIDDEN]})
            for name, opts in fieldsets
            if any(f not in self.APPRAISER_HIDDEN for f in opts["fields"])
        ]

    def get_object(self, request: HttpRequest, object_id: str, from_field: Any = None) -> Any:
        obj = super().get_object(request, object_id, from_field)
        if obj is not None:
            obj.viewer = request.user  # the panels below show only what the viewer may see
        return obj

    def get_list_display(self, request: HttpRequest) -> Any:
        # A bank's officer sees the insurer, an insurer's the bank; the others both, one above the
        # other in one column.
        hidden = {
            str(K.BANK): ("bank_name", "parties"),
            str(K.INSURER): ("insurer_name", "parties"),
        }.get(desks.desk_role(request.user), ("bank_name", "insurer_name"))
        return [c for c in super().get_list_display(request) if c not in hidden]

    # list columns

    sme_name = name_column("sme", _("SME"))

    bank_name = name_column("bank", _("bank"))

    insurer_name = name_column("insurer", _("insurer"))

    @admin.display(description=_("bank / insurer"), ordering="bank__name")
    def parties(self, obj: Application) -> SafeString:
        return format_html(
            '<div class="fintech-party">{}</div><div class="fintech-party">{}</div>',
            local_name(obj.bank.name),
            local_name(obj.insurer.name),
        )

    @admin.display(description=_("next step"))
    def waiting_for(self, obj: Application) -> Any:
        return next_steps(desks.open_steps(obj), getattr(obj, "desk", ""))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # Each row carries the viewer's desk, so the column above shows the steps as it sees them.
        desk = desks.desk_role(request.user)
        return super().get_queryset(request).annotate(desk=Value(desk, output_field=CharField()))

    # detail panels

    @admin.display(description=_("SME"))
    def sme_panel(self, obj: Application) -> SafeString:
        sme = obj.sme
        return facts(
            [
                (_("name"), sme.name),
                (_("unified social credit code"), sme.uscc),
                (_("region"), sme.region),
                (_("industry"), text(sme.get_industry_display())),
                (_("size class"), text(sme.get_size_class_display())),
                (_("employees"), text(sme.employees)),
                (_("operating revenue"), money(sme.annual_revenue)),
            ]
        )

    @admin.display(description=_("patents"))
    def patents_panel(self, obj: Application) -> SafeString:
        return table(
            [
                _("application number"),
                _("title"),
                _("patent type"),
                _("filing date"),
                _("expires on"),
                _("remaining term"),
                _("legal status"),
            ],
            (
                (
                    p.application_number,
                    p.title,
                    p.get_patent_type_display(),
                    day(p.filing_date),
                    day(p.expires_on),
                    term_left(p.expires_on, business_today()),
                    p.get_status_display(),
                )
                for p in obj.patents.order_by("id")
            ),
            _("No patents."),
        )

    @admin.display(description=_("loans"))
    def other_loans_panel(self, obj: Application) -> SafeString:
        loans = desks.sme_loans_with_bank(getattr(obj, "viewer", None), obj)
        return table(
            [_("loan"), _("principal"), _("annual rate"), _("status"), _("disbursed on"), _("matures on")],
            (
                (
                    admin_link(loan, f"#{loan.pk}"),
                    money(loan.principal),
                    rate(loan.annual_rate),
                    loan.get_status_display(),
                    day(loan.disbursed_on),
                    day(loan.maturity_on),
                )
                for loan in loans
            ),
            _("No other loan with this bank."),
        )

    @admin.display(description=_("report"))
    def valuation_panel(self, obj: Application) -> SafeString:
        valuation: Valuation | None = one(obj, "valuation")
        if valuation is None:
            return format_html("<p>{}</p>", _("The application has not been submitted for valuation."))
        summary = facts(
            [
                (_("status"), valuation.get_status_display()),
                (_("appraisal firm"), obj.appraiser.name),
                (_("report number"), text(valuation.report_number)),
                (_("valuation date"), day(valuation.valuation_date)),
                (_("valid until"), day(valuation.valid_until)),
                (_("appraised value"), money(valuation.appraised_value)),
                (_("composite score"), text(valuation.composite_score)),
                (_("risk grade"), text(valuation.risk_grade)),
                (_("pledge rate"), rate(valuation.pledge_rate)),
                (_("credit ceiling"), money(valuation.credit_ceiling)),
                (_("scorecard version"), text(valuation.scorecard_version)),
                (_("signing appraiser"), text(valuation.signed_by)),
            ]
        )
        lines = table(
            [_("patent"), _("method"), _("value"), _("legal"), _("technical"), _("economic")],
            (
                (
                    line.patent.application_number,
                    valuation_method(line.method),
                    money(line.value),
                    line.indicators.get("legal", DASH),
                    line.indicators.get("technical", DASH),
                    line.indicators.get("economic", DASH),
                )
                for line in valuation.lines.select_related("patent").order_by("patent_id")
            ),
            _("No per-patent values yet."),
        )
        return format_html("{}{}", summary, lines)

    @admin.display(description=_("insurance policy"))
    def policy_panel(self, obj: Application) -> SafeString:
        policy: Policy | None = one(obj, "policy")
        if policy is None:
            return format_html("<p>{}</p>", _("No policy has been issued."))
        summary = facts(
            [
                (_("policy number"), policy.policy_number),
                (_("status"), policy.get_status_display()),
                (_("insured amount"), money(policy.insured_amount)),
                (_("annual premium rate"), rate(policy.premium_rate)),
                (_("term (months)"), policy.term_months),
                (_("premium"), money(policy.premium)),
                (_("premium paid"), money(policy.premium_paid_amount)),
                (_("premium paid on"), day(policy.premium_paid_on)),
            ]
        )
        payments = table(
            [_("paid on"), _("amount")],
            ((day(p.paid_on), money(p.amount)) for p in policy.premium_payments.order_by("paid_on", "id")),
            _("No premium payment recorded."),
        )
        return format_html("{}{}", summary, payments)

    @admin.display(description=_("loan"))
    def loan_panel(self, obj: Application) -> SafeString:
        loan: Loan | None = one(obj, "loan")
        if loan is None:
            return format_html("<p>{}</p>", _("No loan has been approved."))
        pledge: Pledge | None = one(loan, "pledge")
        return facts(
            [
                (_("loan"), admin_link(loan, f"#{loan.pk}")),
                (_("status"), loan.get_status_display()),
                (_("principal"), money(loan.principal)),
                (_("annual rate"), rate(loan.annual_rate)),
                (_("term (months)"), loan.term_months),
                (_("repayment method"), loan.get_repayment_method_display()),
                (_("approved on"), day(loan.approved_on)),
                (_("disbursed on"), day(loan.disbursed_on)),
                (_("matures on"), day(loan.maturity_on)),
                (_("pledge registration"), pledge.registration_number if pledge else _("not registered")),
                (_("registered on"), day(pledge.registered_on) if pledge else DASH),
                (_("secured amount"), money(pledge.secured_amount) if pledge else DASH),
            ]
        )

    @admin.display(description=_("repayment schedule"))
    def schedule_panel(self, obj: Application) -> SafeString:
        loan: Loan | None = one(obj, "loan")
        rows = list(loan.installments.order_by("seq")) if loan is not None else []
        return table(
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
                    day(i.start_on),
                    day(i.due_on),
                    i.days,
                    money(i.principal_due),
                    money(i.interest_due),
                    money(i.principal_paid + i.interest_paid),
                    day(i.paid_on),
                    i.get_status_display(),
                )
                for i in rows
            ),
            _("The schedule is built when the loan is disbursed."),
        )

    @admin.display(description=_("audit trail"))
    def audit_panel(self, obj: Application) -> SafeString:
        # The application's own rows, and those of the records it gathered on the way.
        loan = one(obj, "loan")
        return audit_panel(obj, one(obj, "valuation"), one(obj, "policy"), loan, one(loan, "pledge"))

    def action_summary(self, app: Application) -> list[tuple[Any, Any]]:
        policy: Policy | None = one(app, "policy")
        loan: Loan | None = one(app, "loan")
        rows: list[tuple[Any, Any]] = [
            (_("SME"), f"{app.sme.name} ({app.sme.uscc})"),
            (_("status"), app.get_status_display()),
            (_("requested amount"), money(app.requested_amount)),
            (_("term (months)"), app.term_months),
            (_("credit ceiling"), money(app.credit_ceiling)),
        ]
        if policy is not None:
            rows += [
                (_("insured amount"), money(policy.insured_amount)),
                (_("premium"), money(policy.premium)),
                (_("premium paid"), money(policy.premium_paid_amount)),
            ]
        if loan is not None:
            rows += [(_("principal"), money(loan.principal)), (_("loan status"), loan.get_status_display())]
        return rows
