"""Admin: the regulator's dashboard, two screens of charts over the subsidy and risk-pool reports.

- "Subsidies and pipeline": subsidies by period and by region (interest and premium), the
  applications by status.
- "Risk pool": loss events, recoveries and the fund (movements, balance at the end) per quarter,
  and the risk-pool report's loss events with their totals.

Each panel is a chart (Chart.js from the project's static files, drawn by fintech/dashboard.js from
the page's json_script data: the Content-Security-Policy allows no inline script) with its table
and the CSV / XLSX download of the same rows through fintech.exports. Filters: programme, period,
region, bank and insurer, within what the user sees. The figures come from the report selectors
(fintech.selectors.dashboard); regulators (their region's programmes) and platform staff open the
screens, anyone else gets a refusal page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast

from django import forms
from django.contrib import admin
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.http.response import HttpResponseBase
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _

from fintech import access, exports
from fintech.api.risk_pool import REPORT_COLUMNS as RISK_POOL_COLUMNS
from fintech.api.risk_pool import _file_rows as risk_pool_file_rows
from fintech.models import Organization, OrganizationKind, Program, Region, RegulatorDashboard, User
from fintech.money import ZERO
from fintech.rules.subsidies import InvalidPeriod, parse_period
from fintech.selectors import dashboard as selectors
from fintech.selectors.parties import organization_directory
from fintech.selectors.risk_pool import PARTIES
from fintech.services.common import business_today

from .display import money

K = OrganizationKind
FORMATS = ("csv", "xlsx")
PAGES = ("subsidies", "risk-pool")

# One colour per series, the same on every chart (the parties keep theirs everywhere).
COLOURS = {
    "interest": "#2f6f9f",
    "premium": "#e0913a",
    "insurer": "#2f6f9f",
    "government": "#c0504d",
    "bank": "#7a9a3a",
    "count": "#417690",
    "top_up": "#7a9a3a",
    "draw": "#c0504d",
    "fund_recovery": "#e0913a",
    "balance": "#333333",
}


# --- the filters ---------------------------------------------------------------------------------


class RegionChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Model) -> str:
        region = cast(Region, obj)
        return region_name(region)


class OrganizationChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Model) -> str:
        return cast(Organization, obj).name


class ProgramChoice(forms.ModelChoiceField):  # type: ignore[type-arg]
    def label_from_instance(self, obj: Model) -> str:
        return cast(Program, obj).name


def region_name(region: Region) -> str:
    return region.name_zh if (get_language() or "").startswith("zh") else region.name_en


class DashboardFilterForm(forms.Form):
    program = ProgramChoice(queryset=Program.objects.none(), required=False, label=_("programme"))
    period = forms.CharField(
        label=_("period"),
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"placeholder": "2025Q3", "size": 8}),
    )
    region = RegionChoice(queryset=Region.objects.none(), required=False, label=_("region"))
    bank = OrganizationChoice(queryset=Organization.objects.none(), required=False, label=_("bank"))
    insurer = OrganizationChoice(queryset=Organization.objects.none(), required=False, label=_("insurer"))

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        programs = access.programs_served_for(user).order_by("code")
        choices: dict[str, QuerySet[Any]] = {
            "program": programs,
            "region": Region.objects.filter(programs__in=programs.values("pk")).distinct().order_by("code"),
            "bank": organization_directory(kind=K.BANK),
            "insurer": organization_directory(kind=K.INSURER),
        }
        empty = {
            "program": _("All programmes"),
            "region": _("All regions"),
            "bank": _("All banks"),
            "insurer": _("All insurers"),
        }
        for name, queryset in choices.items():
            choice = cast(forms.ModelChoiceField, self.fields[name])  # type: ignore[type-arg]
            choice.queryset = queryset
            choice.empty_label = str(empty[name])

    def clean_period(self) -> Any:
        text = self.cleaned_data.get("period") or ""
        if not text:
            return None
        try:
            return parse_period(text)
        except InvalidPeriod:
            raise forms.ValidationError(
                gettext("Write a quarter like 2025Q3 or a month like 2025-07.")
            ) from None

    def filters(self) -> selectors.Filters:
        data = self.cleaned_data

        def pk(name: str) -> Any:
            return data[name].pk if data.get(name) is not None else None

        return selectors.Filters(
            program=pk("program"), period=data.get("period"), region=pk("region"), bank=pk("bank"),
            insurer=pk("insurer"),
        )  # fmt: skip


# --- the panels ----------------------------------------------------------------------------------


@dataclass
class Panel:
    """One figure: its chart, its table and its downloads, all from the same rows."""

    key: str
    title: str
    header: list[str]
    rows: list[list[Any]]
    chart: dict[str, Any] | None = None
    totals: list[Any] | None = None
    note: str = ""
    # Full width, the chart beside its table (a long table); the others share a row two by two.
    wide: bool = False
    # The columns the page's table shows (all of them when None); the download has every column.
    shown: Sequence[int] | None = None
    file_header: Sequence[str] | None = None  # when the download's columns are not the table's
    file_rows: Callable[[], Any] | None = None
    downloads: dict[str, str] = field(default_factory=dict)

    def download_rows(self) -> Any:
        if self.file_rows is not None:
            return self.file_rows()
        return [*self.rows, *([self.totals] if self.totals else [])]

    def download_header(self) -> Sequence[str]:
        return self.file_header or self.header

    def cells(self, row: Sequence[Any]) -> list[str]:
        picked = [row[i] for i in self.shown] if self.shown is not None else list(row)
        return [_cell(v) for v in picked]

    def table(self) -> dict[str, Any]:
        header = [self.header[i] for i in self.shown] if self.shown is not None else self.header
        return {
            "header": header,
            "rows": [self.cells(r) for r in self.rows],
            "totals": self.cells(self.totals) if self.totals else None,
        }


def _cell(value: Any) -> str:
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _number(value: Any) -> float:
    return float(value)


def _dataset(label: Any, values: list[Any], colour: str, **extra: Any) -> dict[str, Any]:
    return {
        "label": str(label),
        "data": [_number(v) for v in values],
        "backgroundColor": colour,
        "borderColor": colour,
        **extra,
    }


def _total(rows: list[list[Any]], label: str, columns: int) -> list[Any]:
    """A totals row: the label, then each numeric column summed (money stays money)."""
    out: list[Any] = [label]
    for i in range(1, columns):
        values = [r[i] for r in rows]
        if values and all(isinstance(v, Decimal) for v in values):
            out.append(sum(values, ZERO))
        elif values and all(isinstance(v, int) for v in values):
            out.append(sum(values))
        else:
            out.append("")
    return out


def _subsidy_rows(rows: list[dict[str, Any]], label: Callable[[dict[str, Any]], str]) -> list[list[Any]]:
    return [
        [label(r), r["interest_amount"], r["premium_amount"], r["total_amount"], r["loans"], r["enterprises"]]
        for r in rows
    ]


def _subsidy_header(first: Any) -> list[str]:
    return [
        str(first),
        gettext("interest subsidy (CNY)"),
        gettext("premium subsidy (CNY)"),
        gettext("total (CNY)"),
        gettext("loans"),
        gettext("SMEs"),
    ]


def _subsidy_chart(rows: list[list[Any]], *, horizontal: bool = False) -> dict[str, Any]:
    return {
        "type": "bar",
        "stacked": True,
        "horizontal": horizontal,
        "money": True,
        "labels": [r[0] for r in rows],
        "datasets": [
            _dataset(gettext("interest subsidy"), [r[1] for r in rows], COLOURS["interest"]),
            _dataset(gettext("premium subsidy"), [r[2] for r in rows], COLOURS["premium"]),
        ],
    }


def subsidy_panels(user: User, filters: selectors.Filters) -> list[Panel]:
    total = gettext("Total")
    by_period = _subsidy_rows(selectors.subsidies_by(user, filters, "period"), lambda r: str(r["group"]))
    by_region_raw = selectors.subsidies_by(user, filters, "region")
    regions = Region.objects.in_bulk([r["group_id"] for r in by_region_raw])
    by_region = _subsidy_rows(
        by_region_raw,
        lambda r: region_name(regions[r["group_id"]]) if r["group_id"] in regions else str(r["group"]),
    )
    pipeline = selectors.pipeline(user, filters)
    pipeline_rows: list[list[Any]] = [[p.label, p.applications, p.requested] for p in pipeline]
    return [
        Panel(
            key="subsidies-by-period",
            title=gettext("Subsidies by period"),
            header=_subsidy_header(gettext("period")),
            rows=by_period,
            # A loan is counted in each period it has subsidies in: the counts do not add up.
            totals=[*_total(by_period, total, 4), "", ""] if by_period else None,
            chart=_subsidy_chart(by_period),
            note=gettext("Every entitlement that is not cancelled, whatever its status."),
        ),
        Panel(
            key="subsidies-by-region",
            title=gettext("Subsidies by region"),
            header=_subsidy_header(gettext("region")),
            rows=by_region,
            totals=_total(by_region, total, 6) if by_region else None,
            chart=_subsidy_chart(by_region, horizontal=True),
            note=gettext("The region of the SME that receives the subsidy."),
        ),
        Panel(
            key="pipeline",
            title=gettext("Applications by status"),
            wide=True,
            header=[gettext("status"), gettext("applications"), gettext("amount requested (CNY)")],
            rows=pipeline_rows,
            totals=_total(pipeline_rows, total, 3),
            chart={
                "type": "bar",
                "horizontal": True,
                "labels": [p.label for p in pipeline],
                "datasets": [
                    _dataset(gettext("applications"), [p.applications for p in pipeline], COLOURS["count"])
                ],
            },
            note=gettext(
                "Submitted applications (drafts are the SME's own); a period keeps those submitted in it."
            ),
        ),
    ]


def risk_panels(user: User, filters: selectors.Filters, today: date) -> list[Panel]:
    total = gettext("Total")
    timeline = selectors.risk_over_time(user, filters, today=today)
    labels = [t.period.label for t in timeline]
    losses: list[list[Any]] = [
        [t.period.label, t.loss_events, t.loss_amount, t.insurer_share, t.government_share, t.bank_share]
        for t in timeline
    ]
    recoveries: list[list[Any]] = [
        [t.period.label, t.recovered.insurer, t.recovered.government, t.recovered.bank, t.recovered.total]
        for t in timeline
    ]
    fund: list[list[Any]] = [
        [t.period.label, t.fund.top_ups, t.fund.draws, t.fund.recoveries, t.fund.balance, t.fund.unfunded]
        for t in timeline
    ]
    parties = (gettext("insurer"), gettext("government fund"), gettext("bank"))
    party_colours = (COLOURS["insurer"], COLOURS["government"], COLOURS["bank"])

    def party_chart(rows: list[list[Any]], first: int) -> dict[str, Any]:
        return {
            "type": "bar",
            "stacked": True,
            "money": True,
            "labels": labels,
            "datasets": [
                _dataset(name, [r[first + i] for r in rows], colour)
                for i, (name, colour) in enumerate(zip(parties, party_colours, strict=True))
            ],
        }

    report = selectors.risk_pool_report(user, filters)
    report_rows = [
        [
            e.loan.sme.name,
            e.loan.bank.name,
            e.loan.policy.insurer.name,
            e.default_on,
            e.loss_amount,
            e.insurer_share,
            e.government_share,
            e.bank_share,
            sum((getattr(e, f"recovered_{party}") for party in PARTIES), ZERO),
            e.unfunded_amount,
        ]
        for e in report.rows
    ]
    t = report.totals
    report_totals = [
        gettext("Total"), "", "", "", t["loss_amount"], t["insurer_share"], t["government_share"],
        t["bank_share"], t["recovered_insurer"] + t["recovered_government"] + t["recovered_bank"],
        t["unfunded_amount"],
    ]  # fmt: skip
    return [
        Panel(
            key="loss-events",
            title=gettext("Loss events per quarter"),
            header=[
                gettext("quarter"),
                gettext("loss events"),
                gettext("loss (CNY)"),
                gettext("insurer share (CNY)"),
                gettext("government share (CNY)"),
                gettext("bank share (CNY)"),
            ],
            rows=losses,
            totals=_total(losses, total, 6) if losses else None,
            chart=party_chart(losses, 3),
            note=gettext("Loans that defaulted in the quarter; the loss is split among the parties."),
        ),
        Panel(
            key="recoveries",
            title=gettext("Recoveries per quarter"),
            header=[
                gettext("quarter"),
                gettext("insurer part (CNY)"),
                gettext("government part (CNY)"),
                gettext("bank part (CNY)"),
                gettext("total (CNY)"),
            ],
            rows=recoveries,
            totals=_total(recoveries, total, 5) if recoveries else None,
            chart=party_chart(recoveries, 1),
            note=gettext("Money recovered from defaulted loans in the quarter, shared as the loss was."),
        ),
        Panel(
            key="fund",
            title=gettext("Government risk fund"),
            wide=True,
            header=[
                gettext("quarter"),
                gettext("top-ups (CNY)"),
                gettext("draws (CNY)"),
                gettext("recoveries (CNY)"),
                gettext("balance at the end (CNY)"),
                gettext("unfunded at the end (CNY)"),
            ],
            rows=fund,
            chart={
                "type": "bar",
                "money": True,
                "labels": labels,
                "datasets": [
                    _dataset(
                        gettext("balance at the end"),
                        [r[4] for r in fund],
                        COLOURS["balance"],
                        type="line",
                        order=0,
                        tension=0.2,
                        backgroundColor="rgba(0,0,0,0)",
                    ),
                    _dataset(gettext("top-ups"), [r[1] for r in fund], COLOURS["top_up"], order=1),
                    _dataset(gettext("draws"), [r[2] for r in fund], COLOURS["draw"], order=1),
                    _dataset(gettext("recoveries"), [r[3] for r in fund], COLOURS["fund_recovery"], order=1),
                ],
            },
            note=gettext(
                "Movements of the programme's fund in the quarter and its balance at the quarter's end; "
                "the bank and insurer filters do not apply to the fund."
            ),
        ),
        Panel(
            key="risk-pool",
            title=gettext("Loss events of the risk-pool report"),
            wide=True,
            header=[
                gettext("SME"),
                gettext("bank"),
                gettext("insurer"),
                gettext("default date"),
                gettext("loss (CNY)"),
                gettext("insurer share (CNY)"),
                gettext("government share (CNY)"),
                gettext("bank share (CNY)"),
                gettext("recovered (CNY)"),
                gettext("unfunded (CNY)"),
            ],
            rows=report_rows,
            totals=report_totals,
            shown=(0, 1, 3, 4, 5, 6, 7, 8, 9),
            file_header=RISK_POOL_COLUMNS,
            file_rows=lambda: risk_pool_file_rows(report),
            note=gettext(
                "The download is the risk-pool report as the API gives it: every loss event with each "
                "party's share, recovered, net and settled amounts, and the totals."
            ),
        ),
    ]


def panels_for(page: str, user: User, filters: selectors.Filters) -> list[Panel]:
    if page == "subsidies":
        return subsidy_panels(user, filters)
    return risk_panels(user, filters, business_today())


def _headline(page: str, panels: list[Panel]) -> list[tuple[str, str]]:
    """The figures at the top of the page, read from the panels' totals."""
    by_key = {p.key: p for p in panels}
    if page == "subsidies":
        period = by_key["subsidies-by-period"].totals
        pipeline = by_key["pipeline"]
        waiting = sum(
            row[1] for row, status in zip(pipeline.rows, selectors.PIPELINE_STATUSES, strict=True)
            if status in ("valuation", "underwriting", "bank_review", "approved")
        )  # fmt: skip
        active = next(
            row[1] for row, s in zip(pipeline.rows, selectors.PIPELINE_STATUSES, strict=True) if s == "active"
        )
        return [
            (gettext("Subsidies"), _cell(period[3] if period else ZERO)),
            (gettext("Interest subsidy"), _cell(period[1] if period else ZERO)),
            (gettext("Premium subsidy"), _cell(period[2] if period else ZERO)),
            (gettext("Applications in progress"), _cell(waiting)),
            (gettext("Loans running"), _cell(active)),
        ]
    report = by_key["risk-pool"]
    fund = by_key["fund"].rows
    totals = report.totals or []
    return [
        (gettext("Loss events"), _cell(len(report.rows))),
        (gettext("Losses"), _cell(totals[4] if totals else ZERO)),
        (gettext("Recovered"), _cell(totals[8] if totals else ZERO)),
        (gettext("Fund balance"), _cell(fund[-1][4] if fund else ZERO)),
        (gettext("Unfunded"), _cell(fund[-1][5] if fund else ZERO)),
    ]


# --- the screens ---------------------------------------------------------------------------------


@admin.register(RegulatorDashboard)
class RegulatorDashboardAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The dashboard's place in the menu: its list page is the dashboard."""

    def may_view(self, request: HttpRequest) -> bool:
        return access.staff_in(request.user, K.REGULATOR)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.may_view(request)

    def has_view_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return self.may_view(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Model | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view
        return [
            path("", view(self.subsidies_view), name="fintech_regulatordashboard_changelist"),
            path("risk-pool/", view(self.risk_pool_view), name="fintech_regulatordashboard_risk_pool"),
            path(
                "<slug:page>/download/<slug:figure>.<slug:fmt>",
                view(self.download_view),
                name="fintech_regulatordashboard_download",
            ),
        ]

    def _refused(self, request: HttpRequest) -> HttpResponse:
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            "admin/fintech/dashboard_refused.html",
            {**self.admin_site.each_context(request), "title": gettext("Regulator dashboard")},
            status=403,
        )

    def subsidies_view(self, request: HttpRequest) -> HttpResponse:
        return self.page_view(request, "subsidies")

    def risk_pool_view(self, request: HttpRequest) -> HttpResponse:
        return self.page_view(request, "risk-pool")

    def page_view(self, request: HttpRequest, page: str) -> HttpResponse:
        if not self.may_view(request):
            return self._refused(request)
        user = cast(User, request.user)
        form = DashboardFilterForm(request.GET or None, user=user)
        panels: list[Panel] = []
        if not request.GET or form.is_valid():
            filters = form.filters() if request.GET else selectors.Filters()
            panels = panels_for(page, user, filters)
        query = request.GET.urlencode()
        for panel in panels:
            panel.downloads = {
                fmt: reverse(
                    "admin:fintech_regulatordashboard_download",
                    args=[page, panel.key, fmt],
                    current_app=self.admin_site.name,
                )
                + (f"?{query}" if query else "")
                for fmt in FORMATS
            }
        tabs = [
            (
                name,
                label,
                reverse(url, current_app=self.admin_site.name) + (f"?{query}" if query else ""),
            )
            for name, label, url in (
                (
                    "subsidies",
                    gettext("Subsidies and pipeline"),
                    "admin:fintech_regulatordashboard_changelist",
                ),
                ("risk-pool", gettext("Risk pool"), "admin:fintech_regulatordashboard_risk_pool"),
            )
        ]
        charts = [
            {"id": f"chart-{p.key}", "title": p.title, **p.chart} for p in panels if p.chart is not None
        ]
        request.current_app = self.admin_site.name
        return TemplateResponse(
            request,
            "admin/fintech/dashboard.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "has_view_permission": True,
                "title": gettext("Regulator dashboard"),
                "tab_label": dict((n, lbl) for n, lbl, _url in tabs)[page],
                "page": page,
                "tabs": tabs,
                "form": form,
                "panels": [{"panel": p, "table": p.table()} for p in panels],
                "headline": _headline(page, panels) if panels else [],
                "charts": charts,
                "chart_text": {"no_data": gettext("No figures for these filters.")},
                "today": business_today(),
            },
        )

    def download_view(self, request: HttpRequest, page: str, figure: str, fmt: str) -> HttpResponseBase:
        if not self.may_view(request):
            return self._refused(request)
        if page not in PAGES or fmt not in FORMATS:
            return HttpResponseBadRequest(gettext("No such download."))
        user = cast(User, request.user)
        form = DashboardFilterForm(request.GET or None, user=user)
        if request.GET and not form.is_valid():
            return HttpResponseBadRequest(
                "; ".join(
                    f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items()
                )
            )
        filters = form.filters() if request.GET else selectors.Filters()
        panel = next((p for p in panels_for(page, user, filters) if p.key == figure), None)
        if panel is None:
            return HttpResponseBadRequest(gettext("No such download."))
        label = filters.period.label if filters.period else "all"
        name = f"{panel.key}-{label}.{fmt}"
        if fmt == "csv":
            return exports.csv_response(name, panel.download_header(), panel.download_rows())
        return exports.xlsx_response(name, panel.key[:31], panel.download_header(), panel.download_rows())
