"""Admin: the regulator's scenario screens (DOMAIN.md section 10b).

- The list shows the scenarios of the programmes serving the regulator's region (platform staff
  see all); nobody else sees the screen.
- "Add" is the start form: every parameter of the stress test and the forecast, with the book's
  observed recovery rate beside the recovery-rate field; it calls the same service as the API.
- A scenario's page shows its parameters, progress (the page refreshes while it runs), the
  figures per party under the programme's and the what-if shares, the loss distribution as a
  histogram and the subsidy forecast per quarter as charts (Chart.js, served from the project's
  static files), each with its table and CSV / XLSX downloads.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access, exports
from fintech.access import role_of, staff_in, visible
from fintech.errors import NotFound
from fintech.models import OrganizationKind, Program, Scenario, ScenarioStatus, User
from fintech.rules import scenarios as rules
from fintech.selectors import scenarios as selectors
from fintech.services import scenarios as services
from fintech.services.common import business_today

from .actions import ActionsMixin, AdminAction, Buttons, Done
from .scoping import ReadOnlyAdminMixin

K = OrganizationKind
MEASURE_LABELS = {
    "expected_loss": _("Expected loss"),
    "var_95": _("Value at risk, 95th percentile"),
    "var_99": _("Value at risk, 99th percentile"),
    "es_95": _("Expected shortfall beyond the 95th percentile"),
    "es_99": _("Expected shortfall beyond the 99th percentile"),
}
PARTY_LABELS = {
    "insurer": _("Insurer"),
    "government": _("Government fund"),
    "bank": _("Bank"),
    "total": _("Total"),
}


def _fraction_field(label: Any, initial: Decimal, help_text: Any = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        initial=initial,
        min_value=Decimal(0),
        max_digits=10,
        decimal_places=8,
        help_text=help_text,
    )


class ScenarioStartForm(forms.Form):
    program = forms.ModelChoiceField(queryset=Program.objects.none(), label=_("programme"))
    name = forms.CharField(label=_("name"), max_length=200, required=False)
    horizon_months = forms.IntegerField(label=_("horizon (months)"), initial=12, min_value=1, max_value=36)
    paths = forms.IntegerField(
        label=_("paths"), initial=rules.DEFAULT_PATHS, min_value=100, max_value=100_000
    )
    seed = forms.IntegerField(
        label=_("seed"),
        required=False,
        min_value=0,
        help_text=_("Empty: a random seed, stored with the result."),
    )
    pd_a = _fraction_field(_("annual PD, grade A"), rules.DEFAULT_PD_BY_GRADE["A"])
    pd_b = _fraction_field(_("annual PD, grade B"), rules.DEFAULT_PD_BY_GRADE["B"])
    pd_c = _fraction_field(_("annual PD, grade C"), rules.DEFAULT_PD_BY_GRADE["C"])
    recovery_rate = _fraction_field(_("recovery rate"), rules.DEFAULT_RECOVERY_RATE)
    correlation = _fraction_field(
        _("asset correlation"),
        rules.DEFAULT_CORRELATION,
        _("rho of the one-factor model (Basel IRB uses 0.12-0.24)."),
    )
    insurer_share = _fraction_field(_("insurer share"), Decimal("0.50"))
    government_share = _fraction_field(_("government share"), Decimal("0.30"))
    bank_share = _fraction_field(_("bank share"), Decimal("0.20"))
    what_if_shares = forms.CharField(
        label=_("what-if shares"),
        required=False,
        initial="0.60:0.20:0.20, 0.45:0.30:0.25",
        help_text=_("insurer:government:bank sets, separated by commas; each must sum to 1."),
    )
    benchmark_path = forms.CharField(
        label=_("benchmark path"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Empty: the benchmark in force stays constant. Else one 'YYYY-MM-DD rate' per line."),
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["program"])  # type: ignore[type-arg]
        field.queryset = access.scenario_programs_for(user).order_by("code")
        observed = [
            f"{p.code}: {rate if rate is not None else gettext('no losses yet')}"
            for p in field.queryset
            for rate in [selectors.observed_recovery_rate(p.pk, business_today())]
        ]
        self.fields["recovery_rate"].help_text = gettext(
            "Observed in the book (recoveries / losses): %(rates)s"
        ) % {"rates": "; ".join(observed) or "-"}

    def add_service_error(self, name: str, errors: list[str]) -> None:
        """A refusal of the service on one of its parameters, on the field that holds it."""
        self.add_error(_form_field(name), [f"{name}: {e}" for e in errors])


def _raw(data: dict[str, Any]) -> dict[str, Any]:
    """The start form's parameters as the API takes them; the service validates them."""
    raw: dict[str, Any] = {
        "name": data["name"],
        "horizon_months": data["horizon_months"],
        "paths": data["paths"],
        "pd_by_grade": {"A": str(data["pd_a"]), "B": str(data["pd_b"]), "C": str(data["pd_c"])},
        "recovery_rate": str(data["recovery_rate"]),
        "correlation": str(data["correlation"]),
        "shares": {
            "insurer": str(data["insurer_share"]),
            "government": str(data["government_share"]),
            "bank": str(data["bank_share"]),
        },
        "what_if_shares": [],
    }
    if data["seed"] is not None:
        raw["seed"] = data["seed"]
    for item in filter(None, (s.strip() for s in data["what_if_shares"].split(","))):
        parts = [p.strip() for p in item.split(":")]
        raw["what_if_shares"].append(dict(zip(rules.PARTIES, parts, strict=False)))
    lines = [line.split() for line in data["benchmark_path"].splitlines() if line.strip()]
    if lines:
        raw["benchmark"] = {
            "mode": "path",
            "path": [{"effective_on": ln[0], "rate": ln[1] if len(ln) > 1 else ""} for ln in lines],
        }
    return raw


# Service field names -> the form field that shows the error.
ERROR_FIELDS = {
    "pd_by_grade.A": "pd_a",
    "pd_by_grade.B": "pd_b",
    "pd_by_grade.C": "pd_c",
    "shares": "insurer_share",
    "shares.insurer": "insurer_share",
    "shares.government": "government_share",
    "shares.bank": "bank_share",
}


def _form_field(name: str) -> str | None:
    if name in ERROR_FIELDS:
        return ERROR_FIELDS[name]
    if name.startswith("what_if_shares"):
        return "what_if_shares"
    if name.startswith("benchmark"):
        return "benchmark_path"
    return name if name in ScenarioStartForm.base_fields else None


def _pairs(values: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v}" for k, v in values.items())


def _benchmark_text(benchmark: dict[str, Any]) -> str:
    if benchmark.get("mode") != "path":
        return gettext("the rate in force, constant")
    return ", ".join(f"{pt['effective_on']} {pt['rate']}" for pt in benchmark.get("path", []))


def _start(actor: User, obj: None, data: dict[str, Any]) -> Done:
    scenario = services.scenario_start(actor=actor, program_id=data["program"].pk, raw=_raw(data))
    return Done(gettext("Scenario #%(id)s started.") % {"id": scenario.pk}, scenario)


START = AdminAction(
    key="start",
    label=_("Start a scenario"),
    submit_label=_("Start"),
    form_class=ScenarioStartForm,
    may=lambda user, obj: staff_in(user, K.REGULATOR),
    form_kwargs=lambda user, obj: {"user": user},
    run=_start,
)


@admin.register(Scenario)
class ScenarioAdmin(ActionsMixin, ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    admin_actions = Buttons(add=START)
    # The programme is a filter (a 1,366 px screen).
    list_display = ["id", "name", "status", "as_of", "progress", "started_by", "created_at"]
    list_select_related = ["program", "started_by"]
    list_filter = ["status", "program"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return visible(request.user, super().get_queryset(request))

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return staff_in(request.user, K.REGULATOR)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return staff_in(request.user, K.REGULATOR)

    @admin.display(description=_("paths done"))
    def progress(self, obj: Scenario) -> str:
        return f"{obj.paths_done:,}/{obj.paths_total:,}"

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/download/<slug:table>.<slug:fmt>",
                self.admin_site.admin_view(self.download_view),
                name="fintech_scenario_download",
            )
        ]
        return own + super().get_urls()

    def _scenario(self, request: HttpRequest, object_id: str) -> Scenario:
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            pk = int(unquote(object_id))
        except ValueError:
            raise Http404(gettext("Scenario not found.")) from None
        scenario = self.get_queryset(request).filter(pk=pk).first()
        if scenario is None:
            raise Http404(gettext("Scenario not found."))
        return scenario

    def download_view(self, request: HttpRequest, object_id: str, table: str, fmt: str) -> Any:
        scenario = self._scenario(request, object_id)
        if table not in selectors.TABLES or fmt not in exports.FILE_FORMATS:
            raise Http404
        columns, rows = selectors.download_table(scenario, table)
        return exports.file_response(fmt, f"scenario-{scenario.pk}-{table}", table, columns, rows)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: Any = None
    ) -> HttpResponse:
        """The result page (a scenario is never edited)."""
        try:
            scenario = self._scenario(request, object_id)
        except NotFound as exc:
            raise Http404 from exc
        request.current_app = self.admin_site.name
        share_sets = []
        for figures in selectors.share_sets(scenario):
            rows = [
                {"label": MEASURE_LABELS[m], "values": [figures[m][p] for p in PARTY_LABELS]}
                for m in selectors.MEASURES
            ]
            share_sets.append(
                {
                    "label": selectors.share_label(figures["shares"]),
                    "rows": rows,
                    "exhaustion": figures["fund_exhaustion_probability"],
                    "cover": figures["months_of_cover"],
                }
            )
        downloads = {
            table: {
                fmt: reverse(
                    "admin:fintech_scenario_download",
                    args=[scenario.pk, table, fmt],
                    current_app=self.admin_site.name,
                )
                for fmt in exports.FILE_FORMATS
            }
            for table in selectors.TABLES
        }
        p = scenario.parameters
        facts = [
            (gettext("programme"), scenario.program),
            (gettext("status"), scenario.get_status_display()),
            (gettext("as of"), scenario.as_of),
            (gettext("paths done"), f"{scenario.paths_done:,} / {scenario.paths_total:,}"),
            (gettext("horizon (months)"), p.get("horizon_months")),
            (gettext("seed"), p.get("seed")),
            (gettext("annual PD by grade"), _pairs(p.get("pd_by_grade") or {})),
            (
                gettext("PD by industry"),
                "; ".join(f"{k}: {_pairs(v)}" for k, v in (p.get("pd_by_industry") or {}).items()) or "-",
            ),
            (gettext("recovery rate"), p.get("recovery_rate")),
            (gettext("observed recovery rate"), scenario.book.get("observed_recovery_rate") or "-"),
            (gettext("asset correlation"), p.get("correlation")),
            (gettext("benchmark"), _benchmark_text(p.get("benchmark") or {})),
            (gettext("fund balance"), scenario.book.get("fund_balance")),
            (gettext("loans"), scenario.book.get("loans", "-")),
            (gettext("exposure"), scenario.book.get("exposure", "-")),
            (gettext("mean defaults per path"), (scenario.results or {}).get("mean_defaults", "-")),
            (gettext("started by"), scenario.started_by),
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "has_view_permission": True,
            "title": str(scenario),
            "scenario": scenario,
            "facts": facts,
            "share_sets": share_sets,
            "parties": list(PARTY_LABELS.values()),
            "histogram": (scenario.results or {}).get("histogram", []),
            "forecast": scenario.forecast or [],
            "downloads": downloads,
            "in_progress": scenario.status in (ScenarioStatus.PENDING, ScenarioStatus.RUNNING),
            "is_regulator": role_of(request.user) == K.REGULATOR,
            "chart_labels": {
                "paths": gettext("paths"),
                "loss": gettext("loss (CNY)"),
                "on_time": gettext("on time"),
                "expected": gettext("expected defaults"),
                "stressed": gettext("defaults at the 95th percentile"),
            },
        }
        return TemplateResponse(request, "admin/fintech/scenario/result.html", context)
