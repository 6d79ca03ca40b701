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

from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech.access import acts_for, programs_served_for
from fintech.errors import DomainError
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

from .actions import ActionsMixin, AdminAction, Buttons
from .display import money
from .scoping import ReadOnlyAdminMixin, ReviewAdmin, ScreenMixin

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


def _regulator(user: Any, run: SubsidyRun) -> bool:
    return acts_for(user, K.REGULATOR)


def _in(*statuses: str) -> Any:
    return lambda user, run: run.status in statuses


RUN_ACTIONS = Buttons(
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
    )
)


class SubsidyRunChunkInline(ReadOnlyAdminMixin, admin.TabularInline):  # type: ignore[type-arg]
    """The run's chunks as the engine left them: a stalled or failed one shows its attempts,
    last heartbeat and error."""

    model = SubsidyRunChunk
    fields = (
        "lo_id",
        "hi_id",
        "status",
        "attempts",
        "heartbeat_at",
        "entitlements_count",
        "finished_at",
        "error",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(SubsidyRun)
class SubsidyRunAdmin(ActionsMixin, ReviewAdmin):
    view_roles = (K.REGULATOR,)
    admin_actions = RUN_ACTIONS
    action_path = "run"
    inlines = [SubsidyRunChunkInline]
    list_display = [
        "id",
        "program",
        "period",
        "status",
        "interest_total",
        "premium_total",
        "entitlements_count",
        "progress",
        "started_by",
        "approved_by",
        "paid_on",
    ]
    list_select_related = ["program", "started_by", "approved_by"]
    list_filter = ["status", ("program", admin.RelatedOnlyFieldListFilter), "period"]
    fields = [
        ("program", "period"),
        ("period_start", "period_end"),
        "status",
        ("interest_total", "premium_total", "clawback_total", "entitlements_count"),
        ("chunks_total", "chunks_done", "chunks_requeued"),
        "parameters",
        ("started_by", "created_at"),
        ("approved_by", "approved_at"),
        ("paid_on", "payment_reference"),
        "finished_at",
        "error",
        "entitlements_link",
    ]
    readonly_fields = flatten_fieldsets([(None, {"fields": fields})])

    def has_add_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_view(request) and acts_for(request.user, K.REGULATOR)

    # columns

    @admin.display(description=_("chunks"))
    def progress(self, obj: SubsidyRun) -> str:
        healed = gettext(", %(n)s queued again") % {"n": obj.chunks_requeued} if obj.chunks_requeued else ""
        return f"{obj.chunks_done}/{obj.chunks_total}{healed}"

    @admin.display(description=_("entitlements"))
    def entitlements_link(self, obj: SubsidyRun) -> Any:
        url = reverse("admin:fintech_subsidyentitlement_changelist") + f"?run__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, gettext("The run's entitlements"))

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        """Start a run (instead of the model form): the service snapshots the programme, cuts the
        chunks and queues them."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        user = cast(User, request.user)
        back = reverse("admin:fintech_subsidyrun_changelist", current_app=self.admin_site.name)
        is_post = request.method == "POST"
        form = SubsidyRunStartForm(request.POST if is_post else None, user=user)
        if is_post and form.is_valid():
            try:
                run = services.subsidy_run_start(
                    actor=user, program_id=form.cleaned_data["program"].pk, period=form.cleaned_data["period"]
                )
            except DomainError as exc:
                for field, errors in exc.fields.items():
                    form.add_error(field if field in form.fields else None, errors)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                self.message_user(
                    request,
                    gettext("Subsidy run #%(id)s of %(period)s started.")
                    % {"id": run.pk, "period": run.period},
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse(
                        "admin:fintech_subsidyrun_change", args=[run.pk], current_app=self.admin_site.name
                    )
                )
        return self.action_page(
            request,
            title=gettext("Start a subsidy run"),
            form=form,
            back_url=back,
            submit_label=gettext("Start"),
            summary=[],
        )

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
    list_display = [
        "id",
        "run",
        "period",
        "kind",
        "sme",
        "loan",
        "installment_seq",
        "computed_amount",
        "amount",
        "capped",
        "status",
        "cancel_reason",
    ]
    list_select_related = ["run", "run__program", "sme", "loan", "installment"]
    list_filter = ["kind", "status", "capped", "period"]
    search_fields = ["sme__name", "=sme__uscc"]
    show_full_result_count = False

    @admin.display(description=_("installment"), ordering="installment__seq")
    def installment_seq(self, obj: SubsidyEntitlement) -> Any:
        return obj.installment.seq if obj.installment is not None else "—"


# --- clawbacks of subsidies whose repayment was reversed (read-only; DOMAIN.md 8a) --------------


@admin.register(SubsidyClawback)
class SubsidyClawbackAdmin(ReviewAdmin):
    view_roles = (K.REGULATOR, K.SME)
    list_display = [
        "id",
        "entitlement",
        "sme",
        "amount",
        "status",
        "run",
        "netted_amount",
        "receivable_amount",
        "reason",
        "created_at",
    ]
    list_select_related = ["entitlement", "sme", "run", "run__program"]
    list_filter = ["status"]
    search_fields = ["sme__name", "=sme__uscc"]
