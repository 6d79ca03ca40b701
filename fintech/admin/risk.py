"""Screens of the risk pool after default (DOMAIN.md sections 10 and 11).

- Claims (loss events): the insurer sees the losses of the policies it issued, the bank its
  defaulted loans, a regulator its region's; each sees the split, what was recovered and settled.
  The insurer records its settlement, a regulator the fund's, the bank a recovery.
- Settlements: a second member of the paying organisation approves a pending one (four eyes).
- Risk fund: a regulator sees the movements of the programmes serving its region, their balance
  and unfunded part, and records a top-up.

Nothing is edited directly; every action calls the same service as the API, with the user as
actor, so the rules and the audit trail live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech.errors import DomainError
from fintech.models import (
    AuditLog,
    FundMovement,
    LossEvent,
    OrganizationKind,
    Program,
    Recovery,
    Settlement,
    SettlementParty,
    SettlementStatus,
    User,
)
from fintech.selectors.risk_pool import (
    PARTIES,
    fund_position,
    fund_programs_visible_to,
    loss_event_position,
    report_rows,
)
from fintech.services import risk_pool as risk_services

from .forms import BusinessDateField, MoneyField
from .origination import DASH, ReviewScopeMixin, _admin_link, _day, _money, _rate, _table, _text
from .scoping import ACTION_TEMPLATE, OrgScopedAdmin, ReadOnlyAdminMixin, is_platform, role_of

K = OrganizationKind
ACTION_BUTTONS_TEMPLATE = "admin/fintech/application/change_form.html"  # the `review_actions` buttons


def _org_id(user: Any) -> int | None:
    return getattr(user, "organization_id", None)


# --- forms (they parse input only; the services check every rule) -------------------------------


class RecoveryForm(forms.Form):
    amount = MoneyField(label=_("amount"))
    received_on = BusinessDateField(label=_("received on"))
    source = forms.CharField(
        label=_("source"),
        max_length=200,
        help_text=_("Where the money came from, e.g. sale of the pledged patent."),
    )


class SettlementForm(forms.Form):
    amount = MoneyField(label=_("amount"))
    paid_on = BusinessDateField(label=_("paid on"))
    reference = forms.CharField(label=_("payment reference"), max_length=100)


class ApproveForm(forms.Form):
    """Nothing to enter: the page shows the settlement and the button confirms."""


class TopUpForm(forms.Form):
    program = forms.ModelChoiceField(label=_("programme"), queryset=Program.objects.none())
    amount = MoneyField(label=_("amount"))
    received_on = BusinessDateField(label=_("received on"))

    def __init__(self, *args: Any, programs: QuerySet[Program], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs  # type: ignore[attr-defined]


# --- the actions of a record's page --------------------------------------------------------------


@dataclass(frozen=True)
class RiskAction:
    """One button of a detail page: who may press it (`may`, decided on the record as shown; the
    service checks again under a row lock) and the service call (`run`)."""

    key: str
    label: Any
    form_class: type[forms.Form]
    may: Callable[[Any, Any], bool]
    run: Callable[[User, Any, dict[str, Any]], str]
    initial: Callable[[Any, Any], dict[str, Any]] = field(default=lambda user, obj: {})


def _settling_party(user: Any, event: LossEvent) -> str | None:
    """The share this user's organisation settles on the loss: the policy's insurer its own, a
    regulator of the SME's region the fund's."""
    if role_of(user) == K.INSURER and event.loan.policy.insurer_id == _org_id(user):
        return SettlementParty.INSURER
    org = getattr(user, "organization", None)
    if role_of(user) == K.REGULATOR and org is not None and org.region_id == event.loan.sme.region_id:
        return SettlementParty.GOVERNMENT
    return None


def _record_recovery(actor: User, event: LossEvent, data: dict[str, Any]) -> str:
    recovery = risk_services.recovery_record(
        actor=actor,
        loan_id=event.loan_id,
        amount=data["amount"],
        received_on=data["received_on"],
        source=data["source"],
    )
    return gettext(
        "Recovery of %(amount)s recorded: insurer %(insurer)s, government fund %(government)s, bank %(bank)s."
    ) % {
        "amount": _money(recovery.amount),
        "insurer": _money(recovery.insurer_part),
        "government": _money(recovery.government_part),
        "bank": _money(recovery.bank_part),
    }


def _record_settlement(actor: User, event: LossEvent, data: dict[str, Any]) -> str:
    party = _settling_party(actor, event)
    if party is None:
        raise PermissionDenied
    settlement = risk_services.settlement_record(
        actor=actor,
        loan_id=event.loan_id,
        party=party,
        amount=data["amount"],
        paid_on=data["paid_on"],
        reference=data["reference"],
    )
    return gettext(
        "Settlement of %(amount)s recorded; a second person of your organisation must approve it."
    ) % {"amount": _money(settlement.amount)}


def _settlement_initial(user: Any, event: LossEvent) -> dict[str, Any]:
    party = _settling_party(user, event)
    return {"amount": loss_event_position(event).settleable(party)} if party else {}


LOSS_EVENT_ACTIONS: tuple[RiskAction, ...] = (
    RiskAction(
        key="record-recovery",
        label=_("Record recovery"),
        form_class=RecoveryForm,
        may=lambda user, event: role_of(user) == K.BANK and event.loan.bank_id == _org_id(user),
        run=_record_recovery,
    ),
    RiskAction(
        key="record-settlement",
        label=_("Record settlement"),
        form_class=SettlementForm,
        may=lambda user, event: _settling_party(user, event) is not None,
        run=_record_settlement,
        initial=_settlement_initial,
    ),
)


def _may_approve(user: Any, settlement: Settlement) -> bool:
    return (
        settlement.status == SettlementStatus.PENDING
        and settlement.payer_id == _org_id(user)
        and settlement.created_by_id != user.pk
    )


def _approve(actor: User, settlement: Settlement, data: dict[str, Any]) -> str:
    done = risk_services.settlement_approve(actor=actor, settlement_id=settlement.pk)
    return gettext("Settlement %(reference)s of %(amount)s approved.") % {
        "reference": done.reference,
        "amount": _money(done.amount),
    }


SETTLEMENT_ACTIONS: tuple[RiskAction, ...] = (
    RiskAction(
        key="approve", label=_("Approve settlement"), form_class=ApproveForm, may=_may_approve, run=_approve
    ),
)


class RiskActionsMixin:
    """Detail-page buttons, each a small form page that POSTs to a service. A broken rule comes
    back as an error message on the detail page, and nothing has changed."""

    risk_actions: tuple[RiskAction, ...] = ()

    def _url_name(self) -> str:
        opts = self.opts  # type: ignore[attr-defined]
        return f"{opts.app_label}_{opts.model_name}_risk_action"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/action/<slug:action>/",
                self.admin_site.admin_view(self.risk_action_view),  # type: ignore[attr-defined]
                name=self._url_name(),
            )
        ]
        return own + super().get_urls()  # type: ignore[misc]  # before the admin's "<path:object_id>/"

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        context["review_actions"] = (
            [
                {
                    "label": action.label,
                    "url": reverse(f"admin:{self._url_name()}", args=[obj.pk, action.key]),
                    "danger": False,
                }
                for action in self.risk_actions
                if action.may(request.user, obj)
            ]
            if obj is not None
            else []
        )
        return super().render_change_form(request, context, add, change, form_url, obj)  # type: ignore[misc]

    def summary(self, obj: Any) -> list[tuple[Any, Any]]:
        return []

    def risk_action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return HttpResponse(status=405)
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None:  # not there, or not the user's to see: the admin's own answer
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)  # type: ignore[attr-defined]
        spec = next((a for a in self.risk_actions if a.key == action), None)
        if spec is None:
            raise Http404(gettext("No such action."))
        if not spec.may(request.user, obj):
            raise PermissionDenied(gettext("Your organisation may not do this here."))
        opts = self.opts  # type: ignore[attr-defined]
        change_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk])
        if request.method == "POST":
            form = spec.form_class(request.POST)
            if form.is_valid():
                try:
                    done = spec.run(request.user, obj, form.cleaned_data)  # type: ignore[arg-type]
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)  # type: ignore[attr-defined]
                else:
                    self.message_user(request, done, messages.SUCCESS)  # type: ignore[attr-defined]
                return HttpResponseRedirect(change_url)
        else:
            form = spec.form_class(initial=spec.initial(request.user, obj))
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": opts,
            "original": obj,
            "title": spec.label,
            "subtitle": str(obj),
            "form": form,
            "submit_label": spec.label,
            "summary": self.summary(obj),
            "back_url": change_url,
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name  # type: ignore[attr-defined]
        return TemplateResponse(request, ACTION_TEMPLATE, context)


def _audit_panel(*records: Model) -> SafeString:
    wanted = Q(pk__in=[])
    for record in records:
        wanted |= Q(object_type=record._meta.label_lower, object_id=str(record.pk))
    entries = (
        AuditLog.objects.filter(wanted).select_related("actor", "actor_organization").order_by("at", "id")
    )
    return _table(
        [_("at"), _("action"), _("from state"), _("to state"), _("actor"), _("organisation"), _("amount")],
        (
            (
                timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                e.action,
                _text(e.from_state),
                _text(e.to_state),
                _text(e.actor),
                _text(e.actor_organization and e.actor_organization.name),
                _money(e.amount),
            )
            for e in entries
        ),
        _("No audit entries."),
    )


# --- claims: the loss events ---------------------------------------------------------------------


@admin.register(LossEvent)
class LossEventAdmin(RiskActionsMixin, ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("loan__bank", "loan__policy__insurer")
    region_lookup = "loan__sme__region_id"
    view_roles = (K.BANK, K.INSURER, K.REGULATOR)
    risk_actions = LOSS_EVENT_ACTIONS
    change_form_template = ACTION_BUTTONS_TEMPLATE

    list_display = [
        "loan_link",
        "sme_name",
        "bank_name",
        "insurer_name",
        "default_on",
        "loss_amount",
        "insurer_share",
        "government_share",
        "bank_share",
        "recovered_total",
        "settled_total",
        "unfunded_amount",
    ]
    list_select_related = ["loan__sme", "loan__bank", "loan__policy__insurer"]
    list_filter = ["default_on", "program"]
    search_fields = ["loan__sme__name", "=loan__sme__uscc", "=loan__policy__policy_number"]
    search_help_text = _("SME name, unified social credit code or policy number.")
    list_per_page = 50
    show_full_result_count = False
    fieldsets = [
        (
            _("Loss at default"),
            {
                "fields": [
                    ("loan_link", "program"),
                    ("default_on", "declared_by"),
                    "reason",
                    ("unpaid_principal", "unpaid_interest", "accrued_interest", "loss_amount"),
                    ("fund_balance_before", "unfunded_amount"),
                ]
            },
        ),
        (_("Shares, recoveries and settlements"), {"fields": ["position_panel"]}),
        (_("Recoveries"), {"fields": ["recoveries_panel"]}),
        (_("Settlements"), {"fields": ["settlements_panel"]}),
        (_("Audit trail"), {"fields": ["audit_panel"]}),
    ]
    readonly_fields = flatten_fieldsets(fieldsets)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        # The recovered and settled columns come from the report's correlated sums: one query
        # for the page, however many recoveries and settlements the losses have.
        return report_rows(super().get_queryset(request), period=None).order_by("-default_on", "-id")

    @admin.display(description=_("loan"), ordering="loan_id")
    def loan_link(self, obj: LossEvent) -> Any:
        return format_html(
            '<a href="{}">#{}</a>', reverse("admin:fintech_loan_change", args=[obj.loan_id]), obj.loan_id
        )

    @admin.display(description=_("SME"), ordering="loan__sme__name")
    def sme_name(self, obj: LossEvent) -> str:
        return obj.loan.sme.name

    @admin.display(description=_("bank"), ordering="loan__bank__name")
    def bank_name(self, obj: LossEvent) -> str:
        return obj.loan.bank.name

    @admin.display(description=_("insurer"), ordering="loan__policy__insurer__name")
    def insurer_name(self, obj: LossEvent) -> str:
        return obj.loan.policy.insurer.name

    @admin.display(description=_("recovered"))
    def recovered_total(self, obj: Any) -> str:
        return _money(obj.recovered_insurer + obj.recovered_government + obj.recovered_bank)

    @admin.display(description=_("settled"))
    def settled_total(self, obj: Any) -> str:
        return _money(obj.settled_insurer + obj.settled_government)

    def summary(self, obj: LossEvent) -> list[tuple[Any, Any]]:
        position = loss_event_position(obj)
        rows: list[tuple[Any, Any]] = [
            (_("loan"), f"#{obj.loan_id} {obj.loan.sme.name}"),
            (_("default date"), _day(obj.default_on)),
            (_("loss"), _money(obj.loss_amount)),
        ]
        labels = {"insurer": _("insurer"), "government": _("government risk fund"), "bank": _("bank")}
        for party in PARTIES:
            rows.append(
                (
                    labels[party],
                    gettext("share %(share)s, recovered %(recovered)s")
                    % {
                        "share": _money(position.shares.of(party)),
                        "recovered": _money(position.recovered.of(party)),
                    },
                )
            )
        return rows

    @admin.display(description=_("position"))
    def position_panel(self, obj: LossEvent) -> SafeString:
        position = loss_event_position(obj)
        ratios = {"insurer": obj.insurer_ratio, "government": obj.government_ratio, "bank": obj.bank_ratio}
        labels = {"insurer": _("insurer"), "government": _("government risk fund"), "bank": _("bank")}
        return _table(
            [_("party"), _("ratio"), _("share"), _("recovered"), _("net loss"), _("settled"), _("pending")],
            (
                (
                    labels[p],
                    _rate(ratios[p]),
                    _money(position.shares.of(p)),
                    _money(position.recovered.of(p)),
                    _money(position.net.of(p)),
                    _money(position.settled[p]) if p in position.settled else DASH,
                    _money(position.pending[p]) if p in position.pending else DASH,
                )
                for p in PARTIES
            ),
            "",
        )

    @admin.display(description=_("recoveries"))
    def recoveries_panel(self, obj: LossEvent) -> SafeString:
        return _table(
            [_("received on"), _("amount"), _("source"), _("insurer"), _("government"), _("bank")],
            (
                (
                    _day(r.received_on),
                    _money(r.amount),
                    r.source,
                    _money(r.insurer_part),
                    _money(r.government_part),
                    _money(r.bank_part),
                )
                for r in obj.recoveries.order_by("received_on", "id")
            ),
            _("No recovery recorded."),
        )

    @admin.display(description=_("settlements"))
    def settlements_panel(self, obj: LossEvent) -> SafeString:
        return _table(
            [
                _("settlement"),
                _("party"),
                _("paid on"),
                _("amount"),
                _("reference"),
                _("status"),
                _("recorded by"),
            ],
            (
                (
                    _admin_link(s, f"#{s.pk}"),
                    s.get_party_display(),
                    _day(s.paid_on),
                    _money(s.amount),
                    s.reference,
                    s.get_status_display(),
                    _text(s.created_by),
                )
                for s in obj.settlements.select_related("created_by").order_by("id")
            ),
            _("No settlement recorded."),
        )

    @admin.display(description=_("audit trail"))
    def audit_panel(self, obj: LossEvent) -> SafeString:
        return _audit_panel(obj, obj.loan, *obj.recoveries.all(), *obj.settlements.all())


# --- settlements ---------------------------------------------------------------------------------


@admin.register(Settlement)
class SettlementAdmin(RiskActionsMixin, ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("payer", "loss_event__loan__bank")
    region_lookup = "loss_event__loan__sme__region_id"
    view_roles = (K.INSURER, K.REGULATOR, K.BANK)
    risk_actions = SETTLEMENT_ACTIONS
    change_form_template = ACTION_BUTTONS_TEMPLATE

    list_display = [
        "id",
        "loss_event_link",
        "party",
        "payer",
        "amount",
        "paid_on",
        "reference",
        "status",
        "created_by",
        "approved_by",
    ]
    list_select_related = ["payer", "created_by", "approved_by", "loss_event"]
    list_filter = ["status", "party"]
    search_fields = ["=reference", "loss_event__loan__sme__name"]
    fields = [
        "loss_event_link",
        ("party", "payer"),
        ("amount", "paid_on", "reference"),
        "status",
        ("created_by", "created_at"),
        ("approved_by", "approved_at"),
        "audit_panel",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    @admin.display(description=_("loss event"), ordering="loss_event_id")
    def loss_event_link(self, obj: Settlement) -> Any:
        return format_html(
            '<a href="{}">{}</a>',
            reverse("admin:fintech_lossevent_change", args=[obj.loss_event_id]),
            gettext("loan #%(loan)s") % {"loan": obj.loss_event.loan_id},
        )

    def summary(self, obj: Settlement) -> list[tuple[Any, Any]]:
        return [
            (_("loan"), f"#{obj.loss_event.loan_id}"),
            (_("party"), obj.get_party_display()),
            (_("amount"), _money(obj.amount)),
            (_("paid on"), _day(obj.paid_on)),
            (_("payment reference"), obj.reference),
            (_("recorded by"), _text(obj.created_by)),
        ]

    @admin.display(description=_("audit trail"))
    def audit_panel(self, obj: Settlement) -> SafeString:
        return _audit_panel(obj)


# --- recoveries (read-only) ----------------------------------------------------------------------


@admin.register(Recovery)
class RecoveryAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    org_lookups = ("loss_event__loan__bank", "loss_event__loan__policy__insurer")
    region_lookup = "loss_event__loan__sme__region_id"
    view_roles = (K.BANK, K.INSURER, K.REGULATOR)
    list_display = [
        "id",
        "loan_id",
        "received_on",
        "amount",
        "source",
        "insurer_part",
        "government_part",
        "bank_part",
    ]
    list_select_related = ["loss_event"]
    list_filter = ["received_on"]
    fields = [
        "loss_event",
        ("amount", "received_on", "source"),
        ("insurer_part", "government_part", "bank_part"),
        ("recorded_by", "created_at"),
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    @admin.display(description=_("loan"), ordering="loss_event__loan_id")
    def loan_id(self, obj: Recovery) -> int:
        return obj.loss_event.loan_id


# --- the government risk fund --------------------------------------------------------------------


@admin.register(FundMovement)
class FundMovementAdmin(ReviewScopeMixin, ReadOnlyAdminMixin, OrgScopedAdmin):
    region_lookup = "program__regions"  # the programmes serving the regulator's region
    view_roles = (K.REGULATOR,)
    change_list_template = "admin/fintech/fundmovement/change_list.html"
    list_display = ["id", "program", "kind", "amount", "on", "loss_event", "created_by"]
    list_select_related = ["program", "created_by", "loss_event"]
    list_filter = ["kind", "program"]
    fields = ["program", ("kind", "amount", "on"), "loss_event", "recovery", ("created_by", "created_at")]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    def may_top_up(self, request: HttpRequest) -> bool:
        return role_of(request.user) == K.REGULATOR and not is_platform(request.user)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path("top-up/", self.admin_site.admin_view(self.top_up_view), name="fintech_fundmovement_top_up"),
        ]
        return own + super().get_urls()

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        programs = fund_programs_visible_to(request.user)  # type: ignore[arg-type]
        funds = [(program, fund_position(Program.objects.filter(pk=program.pk))) for program in programs]
        extra = {
            **(extra_context or {}),
            "funds": funds,
            "top_up_url": reverse("admin:fintech_fundmovement_top_up") if self.may_top_up(request) else None,
        }
        return super().changelist_view(request, extra)

    def top_up_view(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "POST"):
            return HttpResponse(status=405)
        if not (self.may_view(request) and self.may_top_up(request)):
            raise PermissionDenied(gettext("Only a regulator tops up the risk fund."))
        programs = fund_programs_visible_to(request.user)  # type: ignore[arg-type]
        changelist_url = reverse("admin:fintech_fundmovement_changelist")
        if request.method == "POST":
            form = TopUpForm(request.POST, programs=programs)
            if form.is_valid():
                try:
                    movement = risk_services.fund_top_up_record(
                        actor=request.user,  # type: ignore[arg-type]
                        program_id=form.cleaned_data["program"].pk,
                        amount=form.cleaned_data["amount"],
                        received_on=form.cleaned_data["received_on"],
                    )
                except DomainError as exc:
                    self.message_user(request, exc.message, messages.ERROR)
                else:
                    self.message_user(
                        request,
                        gettext("Top-up of %(amount)s recorded for %(program)s.")
                        % {"amount": _money(movement.amount), "program": movement.program},
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(changelist_url)
        else:
            form = TopUpForm(programs=programs)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": gettext("Risk fund"),
            "title": gettext("Top up the risk fund"),
            "form": form,
            "submit_label": gettext("Record top-up"),
            "summary": [],
            "back_url": changelist_url,
            "has_view_permission": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, ACTION_TEMPLATE, context)
