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

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.safestring import SafeString
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import (
    FundMovement,
    LossEvent,
    OrganizationKind,
    Program,
    Recovery,
    Settlement,
    SettlementStatus,
    User,
)
from fintech.selectors.risk_pool import PARTIES, fund_position, loss_event_position, report_rows
from fintech.services import risk_pool as risk_services

from .actions import ActionsMixin, AdminAction, Buttons
from .display import (
    DASH,
    admin_link,
    audit_panel,
    day,
    link_column,
    link_to,
    money,
    name_column,
    rate,
    table,
    text,
)
from .forms import BusinessDateField, MoneyField
from .scoping import ReviewAdmin

K = OrganizationKind


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
        "amount": money(recovery.amount),
        "insurer": money(recovery.insurer_part),
        "government": money(recovery.government_part),
        "bank": money(recovery.bank_part),
    }


def _record_settlement(actor: User, event: LossEvent, data: dict[str, Any]) -> str:
    settlement = risk_services.settlement_record(
        actor=actor,
        loan_id=event.loan_id,
        party=access.settling_party(actor, event) or "",  # the service refuses "" as no party
        amount=data["amount"],
        paid_on=data["paid_on"],
        reference=data["reference"],
    )
    return gettext(
        "Settlement of %(amount)s recorded; a second person of your organisation must approve it."
    ) % {"amount": money(settlement.amount)}


def _settlement_initial(user: Any, event: LossEvent) -> dict[str, Any]:
    party = access.settling_party(user, event)
    return {"amount": loss_event_position(event).settleable(party)} if party else {}


LOSS_EVENT_ACTIONS = Buttons(
    record=(
        AdminAction(
            key="record-recovery",
            label=_("Record recovery"),
            form_class=RecoveryForm,
            may=lambda user, event: access.acts_for(user, K.BANK, event),
            run=_record_recovery,
        ),
        AdminAction(
            key="record-settlement",
            label=_("Record settlement"),
            form_class=SettlementForm,
            may=lambda user, event: access.settling_party(user, event) is not None,
            run=_record_settlement,
            initial=_settlement_initial,
        ),
    )
)


def _may_approve(user: Any, settlement: Settlement) -> bool:
    """A member of the paying organisation other than the one who recorded it (four eyes)."""
    return access.belongs_to(user, settlement.payer_id) and settlement.created_by_id != user.pk


def _approve(actor: User, settlement: Settlement, data: dict[str, Any]) -> str:
    done = risk_services.settlement_approve(actor=actor, settlement_id=settlement.pk)
    return gettext("Settlement %(reference)s of %(amount)s approved.") % {
        "reference": done.reference,
        "amount": money(done.amount),
    }


SETTLEMENT_ACTIONS = Buttons(
    record=(
        AdminAction(
            key="approve",
            label=_("Approve settlement"),
            form_class=ApproveForm,
            may=_may_approve,
            offered=lambda user, settlement: settlement.status == SettlementStatus.PENDING,
            run=_approve,
        ),
    )
)


def _top_up(actor: User, _none: None, data: dict[str, Any]) -> str:
    movement = risk_services.fund_top_up_record(
        actor=actor, program_id=data["program"].pk, amount=data["amount"], received_on=data["received_on"]
    )
    return gettext("Top-up of %(amount)s recorded for %(program)s.") % {
        "amount": money(movement.amount),
        "program": movement.program,
    }


FUND_ACTIONS = Buttons(
    listing=(
        AdminAction(
            key="top-up",
            label=_("Record top-up"),
            form_class=TopUpForm,
            may=lambda user, _none: access.acts_for(user, K.REGULATOR),
            form_kwargs=lambda user, _none: {"programs": access.programs_served_for(user)},
            run=_top_up,
        ),
    )
)


# --- claims: the loss events ---------------------------------------------------------------------


@admin.register(LossEvent)
class LossEventAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.BANK, K.INSURER, K.REGULATOR)
    admin_actions = LOSS_EVENT_ACTIONS
    action_name = "risk_action"

    # The loss and what came back (a 1,366 px screen: the bank, the insurer and the 5:3:2 shares
    # are on the page, the programme is a filter).
    list_display = [
        "loan_link",
        "sme_name",
        "default_on",
        "loss_amount",
        "recovered_total",
        "settled_total",
        "unfunded_amount",
    ]
    list_select_related = ["loan__sme", "loan__bank", "loan__policy__insurer"]
    list_filter = ["default_on", ("program", admin.RelatedOnlyFieldListFilter)]
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

    loan_link = link_column("loan", _("loan"))

    sme_name = name_column("loan__sme", _("SME"))

    bank_name = name_column("loan__bank", _("bank"))

    insurer_name = name_column("loan__policy__insurer", _("insurer"))

    @admin.display(description=_("recovered"))
    def recovered_total(self, obj: Any) -> str:
        return money(obj.recovered_insurer + obj.recovered_government + obj.recovered_bank)

    @admin.display(description=_("settled"))
    def settled_total(self, obj: Any) -> str:
        return money(obj.settled_insurer + obj.settled_government)

    def action_summary(self, obj: LossEvent) -> list[tuple[Any, Any]]:
        position = loss_event_position(obj)
        rows: list[tuple[Any, Any]] = [
            (_("loan"), f"#{obj.loan_id} {obj.loan.sme.name}"),
            (_("default date"), day(obj.default_on)),
            (_("loss"), money(obj.loss_amount)),
        ]
        labels = {"insurer": _("insurer"), "government": _("government risk fund"), "bank": _("bank")}
        for party in PARTIES:
            rows.append(
                (
                    labels[party],
                    gettext("share %(share)s, recovered %(recovered)s")
                    % {
                        "share": money(position.shares.of(party)),
                        "recovered": money(position.recovered.of(party)),
                    },
                )
            )
        return rows

    @admin.display(description=pgettext_lazy("loss split", "position"))
    def position_panel(self, obj: LossEvent) -> SafeString:
        position = loss_event_position(obj)
        ratios = {"insurer": obj.insurer_ratio, "government": obj.government_ratio, "bank": obj.bank_ratio}
        labels = {"insurer": _("insurer"), "government": _("government risk fund"), "bank": _("bank")}
        return table(
            [_("party"), _("ratio"), _("share"), _("recovered"), _("net loss"), _("settled"), _("pending")],
            (
                (
                    labels[p],
                    rate(ratios[p]),
                    money(position.shares.of(p)),
                    money(position.recovered.of(p)),
                    money(position.net.of(p)),
                    money(position.settled[p]) if p in position.settled else DASH,
                    money(position.pending[p]) if p in position.pending else DASH,
                )
                for p in PARTIES
            ),
            "",
        )

    @admin.display(description=_("recoveries"))
    def recoveries_panel(self, obj: LossEvent) -> SafeString:
        return table(
            [_("received on"), _("amount"), _("source"), _("insurer"), _("government"), _("bank")],
            (
                (
                    day(r.received_on),
                    money(r.amount),
                    r.source,
                    money(r.insurer_part),
                    money(r.government_part),
                    money(r.bank_part),
                )
                for r in obj.recoveries.order_by("received_on", "id")
            ),
            _("No recovery recorded."),
        )

    @admin.display(description=_("settlements"))
    def settlements_panel(self, obj: LossEvent) -> SafeString:
        return table(
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
                    admin_link(s, f"#{s.pk}"),
                    s.get_party_display(),
                    day(s.paid_on),
                    money(s.amount),
                    s.reference,
                    s.get_status_display(),
                    text(s.created_by),
                )
                for s in obj.settlements.select_related("created_by").order_by("id")
            ),
            _("No settlement recorded."),
        )

    @admin.display(description=_("audit trail"))
    def audit_panel(self, obj: LossEvent) -> SafeString:
        return audit_panel(obj, obj.loan, *obj.recoveries.all(), *obj.settlements.all())


# --- settlements ---------------------------------------------------------------------------------


@admin.register(Settlement)
class SettlementAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.INSURER, K.REGULATOR, K.BANK)
    admin_actions = SETTLEMENT_ACTIONS
    action_name = "risk_action"

    # Who recorded and who approved it are on the settlement's page (a 1,366 px screen).
    list_display = [
        "id",
        "loss_event_link",
        "party",
        "payer_name",
        "amount",
        "paid_on",
        "reference",
        "status",
    ]
    list_select_related = ["payer", "loss_event"]
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

    payer_name = name_column("payer", _("payer"))

    @admin.display(description=_("loss event"), ordering="loss_event_id")
    def loss_event_link(self, obj: Settlement) -> Any:
        return link_to(
            "lossevent", obj.loss_event_id, gettext("loan #%(loan)s") % {"loan": obj.loss_event.loan_id}
        )

    def action_summary(self, obj: Settlement) -> list[tuple[Any, Any]]:
        return [
            (_("loan"), f"#{obj.loss_event.loan_id}"),
            (_("party"), obj.get_party_display()),
            (_("amount"), money(obj.amount)),
            (_("paid on"), day(obj.paid_on)),
            (_("payment reference"), obj.reference),
            (_("recorded by"), text(obj.created_by)),
        ]

    @admin.display(description=_("audit trail"))
    def audit_panel(self, obj: Settlement) -> SafeString:
        return audit_panel(obj)


# --- recoveries (read-only) ----------------------------------------------------------------------


@admin.register(Recovery)
class RecoveryAdmin(ReviewAdmin):
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
class FundMovementAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.REGULATOR,)
    admin_actions = FUND_ACTIONS
    change_list_template = "admin/fintech/fundmovement/change_list.html"
    # The programme is a filter (and each programme's fund is above the list).
    list_display = ["id", "kind", "amount", "on", "loss_event_link", "created_by"]
    list_select_related = ["created_by", "loss_event"]
    list_filter = ["kind", ("program", admin.RelatedOnlyFieldListFilter)]
    fields = ["program", ("kind", "amount", "on"), "loss_event", "recovery", ("created_by", "created_at")]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        programs = access.programs_served_for(request.user)  # type: ignore[arg-type]
        funds = [(program, fund_position(Program.objects.filter(pk=program.pk))) for program in programs]
        return super().changelist_view(request, {**(extra_context or {}), "funds": funds})

    @admin.display(description=_("loss event"), ordering="loss_event_id")
    def loss_event_link(self, obj: FundMovement) -> Any:
        if obj.loss_event is None:
            return DASH
        return link_to(
            "lossevent", obj.loss_event_id, gettext("loan #%(loan)s") % {"loan": obj.loss_event.loan_id}
        )
