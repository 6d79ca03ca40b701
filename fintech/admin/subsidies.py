"""Admin: benchmark rates, subsidy runs and their entitlements (DOMAIN.md sections 9 and 11).

- Benchmark rates are dated reference data: regulators and platform staff add new fixings and
  correct old ones (through the same service as everything else, audited); nobody deletes one.
- Subsidy runs are listed for the regulators of the programmes' regions (platform staff see all);
  "Add" starts a run, and the detail page offers approve, record payment and queue-again as the
  run's status and the viewer allow. Each calls the same service as the API, with the user as
  actor, so four-eyes and every other rule live in one place.
- Entitlements are read-only: regulators see their region's, an SME its own.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech.access import acts_for, is_platform, programs_served_for
from fintech.models import (
    BenchmarkRate,
    OrganizationKind,
    Program,
    SubsidyClawback,
    SubsidyEntitlement,
    SubsidyRun,
    SubsidyRunChunk,
    SubsidyRunStatus,
    User,
)
from fintech.services import subsidies as services
from fintech.services.common import business_today

from .actions import ActionsMixin, AdminAction, Buttons, Done
from .batch import ChunkInline, chunk_fields
from .display import day, link_column, money, name_column, parameters
from .scoping import ReviewAdmin, ScreenMixin

K = OrganizationKind
S = SubsidyRunStatus


# --- benchmark rates -----------------------------------------------------------------------------


class BenchmarkRateForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = BenchmarkRate
        fields = ["source", "effective_on", "term_min_months", "term_max_months", "rate"]
        help_texts = {
            # xgettext:no-python-format
            "rate": _("A fraction: 3.45 % is 0.0345."),
            "term_max_months": _("Empty: no upper bound (e.g. the 5-year LPR from 61 months)."),
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        rate = data.get("rate")
        if rate is not None and not (0 < rate < 1):
            self.add_error("rate", gettext("A rate is a fraction above 0 and below 1, e.g. 0.0345."))
        lo, hi, on = data.get("term_min_months"), data.get("term_max_months"), data.get("effective_on")
        if lo is not None and hi is not None and hi < lo:
            self.add_error("term_max_months", gettext("The range ends before it starts."))
        elif lo is not None and on is not None:
            probe = BenchmarkRate(
                pk=self.instance.pk, effective_on=on, term_min_months=lo, term_max_months=hi
            )
            clash = services.benchmark_overlap(probe)
            if clash is not None:
                self.add_error(
                    "term_min_months",
                    gettext("The term range overlaps %(other)s of the same day.") % {"other": clash},
                )
        return data


@admin.register(BenchmarkRate)
class BenchmarkRateAdmin(ScreenMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    view_roles = (K.REGULATOR,)  # regulators and platform staff keep the fixings
    form = BenchmarkRateForm
    list_display = ["effective_on", "source", "term_min_months", "term_max_months", "rate"]
    list_filter = ["source", "term_min_months"]
    date_hierarchy = "effective_on"
    ordering = ["-effective_on", "term_min_months"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return self.may_view(request)

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_view(request)

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False  # a wrong fixing is corrected, never deleted (runs may have used it)

    def save_model(self, request: HttpRequest, obj: BenchmarkRate, form: Any, change: bool) -> None:
        services.benchmark_rate_save(actor=cast(User, request.user), rate=obj, changed=form.changed_data)


# --- subsidy runs --------------------------------------------------------------------------------


class SubsidyRunStartForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none(), label=_("programme"))
    period = forms.CharField(
        label=_("period"),
        max_length=8,
        help_text=_("A quarter like 2025Q3, or a month like 2025-07 (per programme)."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["program"])  # type: ignore[type-arg]
        field.queryset = programs_served_for(user).order_by("code")


def preview_summary(preview: services.SubsidyPreview) -> list[tuple[Any, Any]]:
    """The facts of a dry run, shown above the start form."""
    state = (
        gettext("ended: a run may start")
        if preview.ended
        else gettext("not ended: a run is refused until %(first)s")
        % {"first": day(preview.period_end + timedelta(days=1))}
    )
    return [
        (_("preview"), gettext("Figures so far; nothing has been saved.")),
        (_("programme"), preview.program),
        (_("period"), f"{preview.period} ({day(preview.period_start)} - {day(preview.period_end)})"),
        (_("period status"), state),
        (_("interest subsidies"), money(preview.interest_total)),
        (_("premium subsidies"), money(preview.premium_total)),
        (_("total"), money(preview.total_amount)),
        (_("entitlements"), preview.entitlements_count),
        (_("cut by the annual cap"), preview.capped_count),
    ]


class SubsidyRunApproveForm(forms.Form):
    """No input: the page states what will be approved; the POST approves it."""


class SubsidyRunPaymentForm(forms.Form):
    paid_on = forms.DateField(label=_("paid on"), help_text=_("The value date of the transfer (YYYY-MM-DD)."))
    reference = forms.CharField(label=_("payment reference"), max_length=100)


class SubsidyRunResumeForm(forms.Form):
    """No input: queue the chunks that are not done once more."""


def _approve(actor: User, run: SubsidyRun, data: dict[str, Any]) -> str:
    run = services.subsidy_run_approve(actor=actor, run_id=run.pk)
    return gettext("Run #%(id)s approved.") % {"id": run.pk}


def _pay(actor: User, run: SubsidyRun, data: dict[str, Any]) -> str:
    run = services.subsidy_run_pay(
        actor=actor, run_id=run.pk, paid_on=data["paid_on"], reference=data["reference"]
    )
    return gettext("Payment %(ref)s of run #%(id)s recorded.") % {"ref": run.payment_reference, "id": run.pk}


def _resume(actor: User, run: SubsidyRun, data: dict[str, Any]) -> str:
    services.subsidy_run_resume(actor=actor, run_id=run.pk)
    return gettext("The unfinished chunks of run #%(id)s were queued again.") % {"id": run.pk}


def _start(actor: User, obj: None, data: dict[str, Any]) -> Done:
    """The service snapshots the programme, cuts the chunks and queues them."""
    run = services.subsidy_run_start(actor=actor, program_id=data["program"].pk, period=data["period"])
    message = gettext("Subsidy run #%(id)s of %(period)s started.") % {"id": run.pk, "period": run.period}
    return Done(message, run)


def _preview(actor: User, obj: None, data: dict[str, Any]) -> list[tuple[Any, Any]]:
    """The dry run: the run's figures so far, computed and rolled back."""
    return preview_summary(
        services.subsidy_run_preview(actor=actor, program_id=data["program"].pk, period=data["period"])
    )


def _regulator(user: Any, run: SubsidyRun | None) -> bool:
    return acts_for(user, K.REGULATOR)


def _in(*statuses: str) -> Any:
    return lambda user, run: run.status in statuses


RUN_ACTIONS = Buttons(
    add=AdminAction(
        key="start",
        label=_("Start a subsidy run"),
        submit_label=_("Start"),
        form_class=SubsidyRunStartForm,
        may=_regulator,
        form_kwargs=lambda user, obj: {"user": user},
        run=_start,
        preview=_preview,
        preview_label=_("Preview (saves nothing)"),
    ),
    record=(
        AdminAction(
            key="approve",
            label=_("Approve"),
            form_class=SubsidyRunApproveForm,
            may=_regulator,
            # four eyes: not offered to the regulator who started the run (the service refuses it too)
            offered=lambda user, run: run.status == S.COMPUTED and run.started_by_id != user.pk,
            run=_approve,
        ),
        AdminAction(
            key="pay",
            label=_("Record payment"),
            form_class=SubsidyRunPaymentForm,
            may=_regulator,
            offered=_in(S.APPROVED),
            initial=lambda user, run: {"paid_on": business_today()},
            run=_pay,
        ),
        AdminAction(
            key="resume",
            label=_("Queue unfinished chunks again"),
            form_class=SubsidyRunResumeForm,
            may=_regulator,
            offered=_in(S.PENDING, S.RUNNING),
            run=_resume,
        ),
    ),
)


class SubsidyRunChunkInline(ChunkInline):
    model = SubsidyRunChunk
    fields = readonly_fields = chunk_fields("entitlements_count")


@admin.register(SubsidyRun)
class SubsidyRunAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.REGULATOR,)
    admin_actions = RUN_ACTIONS
    action_path = "run"
    inlines = [SubsidyRunChunkInline]
    # A 1,366 px screen: the programme is a filter, who started the run is on its page.
    list_display = [
        "id",
        "period",
        "status",
        "interest_total",
        "premium_total",
        "entitlements_count",
        "progress",
        "paid_on",
    ]
    # The chunk engine's counters are for platform staff (operations), not for regulators.
    ENGINE_ONLY = ("progress", "chunks")
    list_select_related = ["program"]
    list_filter = ["status", ("program", admin.RelatedOnlyFieldListFilter), "period"]
    fields = [
        ("program", "period"),
        ("period_start", "period_end"),
        "status",
        ("interest_total", "premium_total", "clawback_total", "entitlements_count"),
        ("chunks_total", "chunks_done", "chunks_requeued"),
        "parameters_panel",
        ("started_by", "created_at"),
        ("approved_by", "approved_at"),
        ("paid_on", "payment_reference"),
        "finished_at",
        "error",
        "entitlements_link",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    def get_list_display(self, request: HttpRequest) -> Any:
        shown = super().get_list_display(request)
        if is_platform(request.user):
            return shown
        return [c for c in shown if getattr(c, "__name__", c) not in self.ENGINE_ONLY]

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if is_platform(request.user):
            return self.fields
        return [f for f in self.fields if not (isinstance(f, tuple) and f[0] == "chunks_total")]

    def get_inlines(self, request: HttpRequest, obj: Any) -> Any:
        return self.inlines if is_platform(request.user) else []

    @admin.display(description=_("parameters"))
    def parameters_panel(self, obj: SubsidyRun) -> Any:
        # The programme's parameters the run copied, labelled; the chunk size is an engine detail.
        return parameters(obj.parameters, hidden=("chunk_size",))

    # columns

    @admin.display(description=_("chunks"))
    def progress(self, obj: SubsidyRun) -> str:
        healed = gettext(", %(n)s queued again") % {"n": obj.chunks_requeued} if obj.chunks_requeued else ""
        return f"{obj.chunks_done}/{obj.chunks_total}{healed}"

    @admin.display(description=_("entitlements"))
    def entitlements_link(self, obj: SubsidyRun) -> Any:
        url = reverse("admin:fintech_subsidyentitlement_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("The run's entitlements"))

    def action_summary(self, run: SubsidyRun) -> list[tuple[Any, Any]]:
        return [
            (_("programme"), run.program),
            (_("period"), run.period),
            (_("status"), run.get_status_display()),
            (_("interest subsidies"), money(run.interest_total)),
            (_("premium subsidies"), money(run.premium_total)),
            (_("total"), money(run.interest_total + run.premium_total)),
            (_("entitlements"), run.entitlements_count),
            (_("started by"), run.started_by),
        ]


# --- entitlements (read-only) --------------------------------------------------------------------


@admin.register(SubsidyEntitlement)
class SubsidyEntitlementAdmin(ReviewAdmin):
    view_roles = (K.REGULATOR, K.SME)
    # The run and the amount before the cap are on the page (a 1,366 px screen).
    list_display = [
        "id",
        "period",
        "kind",
        "sme_name",
        "loan_link",
        "installment_seq",
        "amount",
        "capped",
        "status",
        "cancel_reason",
    ]
    list_select_related = ["run", "run__program", "sme", "loan", "installment"]
    list_filter = ["kind", "status", "capped", "period"]
    search_fields = ["sme__name", "=sme__uscc"]
    show_full_result_count = False

    sme_name = name_column("sme", _("SME"))

    loan_link = link_column("loan", _("loan"))

    @admin.display(description=_("installment"), ordering="installment__seq")
    def installment_seq(self, obj: SubsidyEntitlement) -> Any:
        return obj.installment.seq if obj.installment is not None else "—"


# --- clawbacks of subsidies whose repayment was reversed (read-only; DOMAIN.md 8a) --------------


@admin.register(SubsidyClawback)
class SubsidyClawbackAdmin(ReviewAdmin):
    view_roles = (K.REGULATOR, K.SME)
    # A 1,366 px screen: the run is on the clawback's page, the SME by its name in the user's
    # language.
    list_display = [
        "id",
        "entitlement",
        "sme_name",
        "amount",
        "status",
        "netted_amount",
        "receivable_amount",
        "reason",
        "created_at",
    ]
    list_select_related = ["entitlement", "sme", "run", "run__program"]
    list_filter = ["status"]
    search_fields = ["sme__name", "=sme__uscc"]

    sme_name = name_column("sme", _("SME"))
