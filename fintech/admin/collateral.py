"""Admin: the collateral watch. The annual-fee tables (platform), the findings queue of banks and
insurers with its cure buttons (actions.py), the legal-status event files."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import (
    FeeSchedule,
    FeeScheduleRow,
    Finding,
    FindingAction,
    FindingStatus,
    Loan,
    OrganizationKind,
    PatentEventFile,
    Severity,
    User,
)
from fintech.selectors.collateral import findings_counts, loan_cover, severity_rank
from fintech.services import collateral as services
from fintech.services.common import business_today

from .actions import ActionsMixin, AdminAction, Buttons
from .display import facts, link_column, money, name_column, table
from .forms import PartialPrepaymentForm
from .scoping import PlatformEditsMixin, ReviewAdmin, ScreenMixin

K = OrganizationKind


class FeeScheduleRowInline(admin.TabularInline):  # type: ignore[type-arg]
    model = FeeScheduleRow
    extra = 0


@admin.register(FeeSchedule)
class FeeScheduleAdmin(PlatformEditsMixin, ScreenMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """Dated CNIPA fee tables: a new table from a date is added, an old one is kept. Reference
    data: every member reads it (not scoped), only platform staff add tables."""

    list_display = ["valid_from", "sme_reduction_rate", "source"]
    inlines = [FeeScheduleRowInline]
    view_roles = None


class NoteForm(forms.Form):
    note = forms.CharField(label=_("note"), widget=forms.Textarea, max_length=2000)


class RevaluationForm(forms.Form):
    note = forms.CharField(label=_("note"), widget=forms.Textarea, max_length=2000, required=False)


class AddPatentForm(forms.Form):
    patent = forms.IntegerField(label=_("patent id"), min_value=1)
    value = forms.DecimalField(label=_("appraised value"), max_digits=18, decimal_places=2, min_value=0)
    valued_on = forms.DateField(label=_("valuation date"))
    note = forms.CharField(label=_("note"), widget=forms.Textarea, max_length=2000, required=False)


class FindingPrepaymentForm(PartialPrepaymentForm):
    note = forms.CharField(label=_("note"), widget=forms.Textarea, max_length=2000, required=False)


def _party(user: Any, finding: Finding) -> bool:
    return access.acts_for(user, K.BANK, finding.loan) or access.acts_for(user, K.INSURER, finding.loan)


def _note(actor: User, finding: Finding, data: dict[str, Any]) -> str:
    services.finding_note(actor=actor, finding_id=finding.pk, note=data["note"])
    return gettext("Note recorded.")


def _revaluation(actor: User, finding: Finding, data: dict[str, Any]) -> str:
    r = services.finding_revaluation_request(actor=actor, finding_id=finding.pk, note=data.get("note") or "")
    return gettext("Revaluation #%(id)s requested from the appraisal firm.") % {"id": r.pk}


def _add_patent(actor: User, finding: Finding, data: dict[str, Any]) -> str:
    services.finding_patent_add(
        actor=actor,
        finding_id=finding.pk,
        patent_id=data["patent"],
        value=data["value"],
        valued_on=data["valued_on"],
        note=data.get("note") or "",
    )
    return gettext("Patent added to the loan's pledge; the next watch recomputes the coverage.")


def _prepay(actor: User, finding: Finding, data: dict[str, Any]) -> str:
    action = services.finding_prepay_partial(
        actor=actor,
        finding_id=finding.pk,
        amount=data["amount"],
        value_date=data["value_date"],
        recast=data["recast"],
        note=data.get("note") or "",
    )
    prepayment = action.prepayment
    assert prepayment is not None
    return gettext(
        "Prepayment of %(amount)s recorded; the schedule is now version %(version)s. The next watch"
        " recomputes the coverage."
    ) % {"amount": money(prepayment.principal), "version": prepayment.schedule_version}


def _open(user: Any, finding: Finding) -> bool:
    return finding.status == FindingStatus.OPEN


FINDING_ACTIONS = Buttons(
    record=(
        AdminAction(key="note", label=_("Add a note"), form_class=NoteForm, may=_party, run=_note),
        AdminAction(
            key="revaluation",
            label=_("Request a revaluation"),
            form_class=RevaluationForm,
            may=_party,
            offered=_open,
            run=_revaluation,
        ),
        AdminAction(
            key="add-patent",
            label=_("Pledge a further patent"),
            form_class=AddPatentForm,
            may=lambda user, f: access.acts_for(user, K.BANK, f.loan),
            offered=_open,
            run=_add_patent,
        ),
        AdminAction(
            key="prepay",
            label=_("Partial prepayment"),
            form_class=FindingPrepaymentForm,
            may=lambda user, f: access.acts_for(user, K.BANK, f.loan),
            offered=_open,
            run=_prepay,
        ),
    )
)


class SeverityFilter(admin.SimpleListFilter):
    """The queue by severity, each with its count of open findings (selectors.findings_counts, as
    the API's /findings/counts/), most severe first."""

    title = _("severity")
    parameter_name = "severity"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        counts = findings_counts(model_admin.get_queryset(request))
        return [
            (str(s), gettext("%(severity)s (%(n)s open)") % {"severity": s.label, "n": counts[str(s)]})
            for s in (Severity.CRITICAL, Severity.WARNING, Severity.INFO)
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Finding]) -> QuerySet[Finding]:
        value = self.value()
        return queryset.filter(severity=value) if value in Severity.values else queryset


@admin.register(Finding)
class FindingAdmin(ActionsMixin, ReviewAdmin):
    """The watch list: the open findings of the caller's loans, most severe first."""

    view_roles = (K.BANK, K.INSURER, K.SME, K.REGULATOR)
    admin_actions = FINDING_ACTIONS
    action_name = "finding_action"
    # A 1,366 px screen: when it was last seen and resolved are on the finding's page.
    list_display = [
        "id",
        "loan_link",
        "sme_name",
        "kind",
        "severity",
        "status",
        "first_seen_on",
        "amount_text",
        "deadline_on",
    ]
    list_filter = ["status", SeverityFilter, "kind"]
    list_select_related = ["loan__sme"]

    def get_ordering(self, request: HttpRequest) -> Any:
        # the queue's order (selectors.collateral.findings_queue): critical, warning, info
        return ["status", severity_rank().asc(), "-last_seen_on"]

    fields = [
        "loan_link",
        "patent",
        "kind",
        "severity",
        "status",
        ("first_seen_on", "last_seen_on", "resolved_on"),
        "amount_text",
        "deadline_on",
        "detail",
        "steps",
    ]
    readonly_fields = [
        "loan_link",
        "patent",
        "kind",
        "severity",
        "status",
        "first_seen_on",
        "last_seen_on",
        "resolved_on",
        "amount_text",
        "deadline_on",
        "detail",
        "steps",
    ]

    loan_link = link_column("loan", _("loan"))
    sme_name = name_column("loan__sme", _("SME"))

    @admin.display(description=_("amount"))
    def amount_text(self, obj: Finding) -> str:
        return money(obj.amount)

    @admin.display(description=_("cure steps"))
    def steps(self, obj: Finding) -> Any:
        return table(
            [_("when"), _("step"), _("detail")],
            [
                (a.created_at.date(), a.get_kind_display(), _step_detail(a))
                for a in obj.actions.select_related("patent", "prepayment")
            ],
            _("No step taken yet."),
        )


def _step_detail(action: FindingAction) -> str:
    """The step's note, with what it recorded (the prepayment's principal and value date, the patent)."""
    parts = []
    if action.prepayment is not None:
        parts.append(
            gettext("%(amount)s prepaid on %(day)s (schedule version %(version)s)")
            % {
                "amount": money(action.prepayment.principal),
                "day": action.prepayment.value_date,
                "version": action.prepayment.schedule_version,
            }
        )
    if action.patent is not None:
        parts.append(action.patent.application_number)
    if action.note:
        parts.append(action.note)
    return "; ".join(parts)


@admin.register(PatentEventFile)
class PatentEventFileAdmin(ReviewAdmin):
    view_roles = (K.BANK,)
    list_display = [
        "id",
        "filename",
        "status",
        "lines_total",
        "lines_applied",
        "lines_skipped",
        "lines_rejected",
        "created_at",
    ]
    fields = [
        "filename",
        "status",
        "lines_total",
        "lines_applied",
        "lines_skipped",
        "lines_rejected",
        "errors",
    ]
    readonly_fields = [str(f) for f in fields]


STATES = {
    "in_force": _("in force"),
    "fee_in_grace": _("fee in grace"),
    "valuation_expired": _("valuation past its validity"),
    "dead": _("lapsed, invalidated or expired"),
}


def collateral_panel(loan: Loan, on: date | None = None) -> Any:
    """The loan's coverage today, for its admin page."""
    cover = loan_cover(loan, on or business_today())
    head = facts(
        [
            (_("collateral value"), money(cover.collateral_value)),
            (_("outstanding principal"), money(cover.outstanding_principal)),
            (_("coverage"), cover.coverage if cover.coverage is not None else "-"),
            (_("level"), {"ok": _("ok"), "warning": _("warning"), "shortfall": _("shortfall")}[cover.level]),
        ]
    )
    rows = table(
        [_("patent"), _("state"), _("appraised value"), _("haircut"), _("value")],
        [
            (
                p.application_number,
                STATES[p.state],
                money(p.appraised_value),
                p.haircut.normalize(),
                money(p.value),
            )
            for p in cover.patents
        ],
        _("No pledged patent."),
    )
    return head + rows
