"""API: subsidy runs, entitlements and the subsidy report (API.md "Regulator").

- `POST /subsidy-runs/` {program, period} -> 202 (computed by Celery); `GET /subsidy-runs/`,
  `GET /subsidy-runs/{id}/`; `POST /subsidy-runs/{id}/approve/` (a second regulator) and
  `POST /subsidy-runs/{id}/payments/` {paid_on, reference} -> 200.
- `GET /subsidy-runs/preview/?program=&period=` -> what a run would compute now (a dry run that
  writes nothing; also for a period that has not ended, which a run refuses with 400).
- `GET /subsidies/?period=&enterprise=&kind=&status=` -> the caller's entitlements, paginated.
- `GET /reports/subsidies/?period=&group_by=&status=&program=&region=&bank=&insurer=[&format=csv|xlsx]`
  -> a bare JSON list of `{group_id, group, interest_amount, premium_amount, total_amount,
  clawback_amount, net_amount, loans, enterprises}`, or the same rows as a CSV file (streamed) or
  an XLSX workbook (written row by row to a temporary file, in openpyxl's write-only mode), both
  by fintech.exports (names neutralised against formulas): constant memory whatever the number of
  groups, so no download task is needed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech import exports
from fintech.errors import InvalidInput
from fintech.models import EntitlementStatus, SubsidyEntitlement, SubsidyKind, SubsidyRun
from fintech.money import format_money
from fintech.selectors import subsidies as selectors
from fintech.services import subsidies as services

from .fields import MAX_ID, MoneyField
from .idempotency import idempotent
from .permissions import request_user
from .rows import Computed, FlatListMixin, FlatRows

# --- runs ----------------------------------------------------------------------------------------


class SubsidyRunOutSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    interest_total = MoneyField()
    premium_total = MoneyField()
    total_amount = serializers.SerializerMethodField()
    started_by = serializers.IntegerField(source="started_by_id")
    approved_by = serializers.IntegerField(source="approved_by_id", allow_null=True)

    class Meta:
        model = SubsidyRun
        fields = [
            "id",
            "program",
            "period",
            "period_start",
            "period_end",
            "status",
            "interest_total",
            "premium_total",
            "total_amount",
            "entitlements_count",
            "chunks_total",
            "chunks_done",
            "chunks_requeued",
            "parameters",
            "started_by",
            "approved_by",
            "approved_at",
            "paid_on",
            "payment_reference",
            "error",
            "created_at",
            "finished_at",
        ]

    def get_total_amount(self, run: SubsidyRun) -> str:
        return format_money(run.interest_total + run.premium_total)


class SubsidyRunInSerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    period = serializers.CharField(max_length=16)


class SubsidyRunListCreateApi(FlatListMixin, generics.ListAPIView):
    serializer_class = SubsidyRunOutSerializer
    rows = FlatRows(
        SubsidyRunOutSerializer,
        computed={
            "total_amount": Computed(
                ("interest_total", "premium_total"),
                lambda row, context: format_money(row["interest_total"] + row["premium_total"]),
            )
        },
    )
    filterset_fields = ["status", "period", "program"]

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema is built without a user
            return SubsidyRun.objects.none()
        return selectors.subsidy_runs_visible_to(request_user(self.request)).order_by("-id")

    @extend_schema(request=SubsidyRunInSerializer, responses={202: SubsidyRunOutSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = SubsidyRunInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.subsidy_run_start(
            actor=request_user(request),
            program_id=data.validated_data["program"],
            period=data.validated_data["period"],
        )
        run.refresh_from_db()  # in-process runs (no broker) are already computed
        return Response(SubsidyRunOutSerializer(run).data, status=status.HTTP_202_ACCEPTED)


class SubsidyPreviewOutSerializer(serializers.Serializer):
    program = serializers.IntegerField(source="program.pk")
    period = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    ended = serializers.BooleanField(help_text="False: the period has not ended; a run is refused.")
    interest_total = MoneyField()
    premium_total = MoneyField()
    total_amount = MoneyField()
    entitlements_count = serializers.IntegerField()
    capped_count = serializers.IntegerField()


class SubsidyRunPreviewApi(APIView):
    """A dry run: what a run of the period would compute now; nothing is written."""

    @extend_schema(
        parameters=[
            OpenApiParameter("program", OpenApiTypes.INT, required=True),
            OpenApiParameter("period", OpenApiTypes.STR, required=True, description="2025Q3 or 2025-07"),
        ],
        responses=SubsidyPreviewOutSerializer,
    )
    def get(self, request: Request) -> Response:
        data = SubsidyRunInSerializer(data=request.query_params)
        data.is_valid(raise_exception=True)
        preview = services.subsidy_run_preview(
            actor=request_user(request),
            program_id=data.validated_data["program"],
            period=data.validated_data["period"],
        )
        return Response(SubsidyPreviewOutSerializer(preview).data)


class SubsidyRunDetailApi(APIView):
    @extend_schema(responses=SubsidyRunOutSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SubsidyRunOutSerializer(selectors.subsidy_run_for(request_user(request), pk)).data)


class SubsidyRunApproveApi(APIView):
    @extend_schema(request=None, responses=SubsidyRunOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        run = services.subsidy_run_approve(actor=request_user(request), run_id=pk)
        return Response(SubsidyRunOutSerializer(run).data)


class SubsidyPaymentInSerializer(serializers.Serializer):
    paid_on = serializers.DateField()
    reference = serializers.CharField(max_length=100)


class SubsidyRunPaymentApi(APIView):
    @extend_schema(request=SubsidyPaymentInSerializer, responses=SubsidyRunOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        data = SubsidyPaymentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        run = services.subsidy_run_pay(actor=request_user(request), run_id=pk, **data.validated_data)
        return Response(SubsidyRunOutSerializer(run).data)


# --- entitlements --------------------------------------------------------------------------------


class EntitlementOutSerializer(serializers.ModelSerializer):
    run = serializers.IntegerField(source="run_id")
    program = serializers.IntegerField(source="program_id")
    loan = serializers.IntegerField(source="loan_id")
    installment = serializers.SerializerMethodField()
    enterprise = serializers.IntegerField(source="sme_id")
    amount = MoneyField()
    computed_amount = MoneyField()

    class Meta:
        model = SubsidyEntitlement
        fields = [
            "id",
            "run",
            "program",
            "loan",
            "installment",
            "kind",
            "period",
            "year",
            "amount",
            "computed_amount",
            "capped",
            "status",
            "enterprise",
            "created_at",
        ]

    def get_installment(self, entitlement: SubsidyEntitlement) -> int | None:
        """The installment's number on the loan's schedule (null for a premium subsidy)."""
        return entitlement.installment.seq if entitlement.installment is not None else None


class EntitlementQuerySerializer(serializers.Serializer):
    period = serializers.CharField(required=False, allow_blank=True)
    enterprise = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    kind = serializers.ChoiceField(choices=SubsidyKind.choices, required=False)
    status = serializers.ChoiceField(choices=EntitlementStatus.choices, required=False)


class SubsidyListApi(FlatListMixin, generics.ListAPIView):
    serializer_class = EntitlementOutSerializer
    # The installment's number on the loan's schedule (null for a premium subsidy).
    rows = FlatRows(
        EntitlementOutSerializer,
        computed={
            "installment": Computed(("installment__seq",), lambda row, context: row["installment__seq"])
        },
    )
    filter_backends: list[Any] = []

    @extend_schema(parameters=[EntitlementQuerySerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema is built without a user
            return SubsidyEntitlement.objects.none()
        query = EntitlementQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        q = query.validated_data
        return selectors.entitlement_list(
            request_user(self.request),
            period=selectors.period_filter(q.get("period")),
            enterprise=q.get("enterprise"),
            kind=q.get("kind"),
            status=q.get("status"),
        )


# --- the report ----------------------------------------------------------------------------------

FORMATS = ("json", "csv", "xlsx")


class JsonOnlyNegotiation(BaseContentNegotiation):
    """`?format=csv|xlsx` names the report's file format here, not a DRF renderer; errors and the
    JSON report are always rendered as JSON."""

    def select_parser(self, request: Request, parsers: Any) -> Any:
        return parsers[0] if parsers else None

    def select_renderer(self, request: Request, renderers: Any, format_suffix: str | None = None) -> Any:
        renderer: BaseRenderer = JSONRenderer()
        return renderer, renderer.media_type


def _report_rows(report: Any) -> Iterator[list[Any]]:
    columns = selectors.REPORT_COLUMNS
    for row in selectors.report_rows(report):
        yield [row[column] for column in columns]


def _json_cell(row: dict[str, Any], column: str) -> Any:
    value = row[column]
    return format_money(value) if column in selectors.MONEY_COLUMNS else value


class SubsidyReportApi(APIView):
    content_negotiation_class = JsonOnlyNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("period", OpenApiTypes.STR, description="2025Q3 or 2025-07"),
            OpenApiParameter("group_by", OpenApiTypes.STR, enum=list(selectors.REPORT_GROUPS), required=True),
            OpenApiParameter("status", OpenApiTypes.STR, enum=EntitlementStatus.values),
            OpenApiParameter("program", OpenApiTypes.INT, description="only this programme"),
            OpenApiParameter("region", OpenApiTypes.STR, description="only SMEs of this region (420100)"),
            OpenApiParameter("bank", OpenApiTypes.INT, description="only loans of this bank"),
            OpenApiParameter("insurer", OpenApiTypes.INT, description="only loans insured by this insurer"),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(FORMATS)),
        ],
        responses=inline_serializer(
            "SubsidyReportRow",
            {
                "group_id": serializers.CharField(),
                "group": serializers.CharField(),
                "interest_amount": serializers.CharField(),
                "premium_amount": serializers.CharField(),
                "total_amount": serializers.CharField(),
                "clawback_amount": serializers.CharField(),
                "net_amount": serializers.CharField(),
                "loans": serializers.IntegerField(),
                "enterprises": serializers.IntegerField(),
            },
            many=True,
        ),
    )
    def get(self, request: Request) -> Any:
        user = request_user(request)
        fmt = request.query_params.get("format") or "json"
        if fmt not in FORMATS:
            raise InvalidInput.on(
                "format", _("Format is one of %(choices)s.") % {"choices": ", ".join(FORMATS)}
            )
        query = selectors.report_query(request.query_params)
        report = selectors.subsidy_report(user, query)
        name = f"subsidies-{query.period.label if query.period else 'all'}-{query.group_by}"
        if fmt in exports.FILE_FORMATS:
            return exports.file_response(
                fmt, name, "subsidies", selectors.REPORT_COLUMNS, _report_rows(report)
            )
        return Response([{c: _json_cell(row, c) for c in selectors.REPORT_COLUMNS} for row in report])


urlpatterns: list[URLPattern] = [
    path("subsidy-runs/", SubsidyRunListCreateApi.as_view(), name="subsidy-run-list"),
    path("subsidy-runs/preview/", SubsidyRunPreviewApi.as_view(), name="subsidy-run-preview"),
    path("subsidy-runs/<int:pk>/", SubsidyRunDetailApi.as_view(), name="subsidy-run-detail"),
    path("subsidy-runs/<int:pk>/approve/", SubsidyRunApproveApi.as_view(), name="subsidy-run-approve"),
    path("subsidy-runs/<int:pk>/payments/", SubsidyRunPaymentApi.as_view(), name="subsidy-run-payments"),
    path("subsidies/", SubsidyListApi.as_view(), name="subsidy-list"),
    path("reports/subsidies/", SubsidyReportApi.as_view(), name="subsidy-report"),
]
