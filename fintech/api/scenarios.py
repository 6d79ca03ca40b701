"""API: scenarios (API.md "Scenarios (regulator)", DOMAIN.md section 10b).

- `POST /scenarios/` {program, horizon_months, paths, seed, pd_by_grade: {A, B, C},
  pd_by_industry, recovery_rate, correlation, shares: {insurer, government, bank},
  what_if_shares: [...], benchmark: {mode, path}} -> 202 {id, status, ...}; computed by Celery
  (in process without a broker). Every parameter but `program` has a default.
- `GET /scenarios/`, `GET /scenarios/{id}/` -> status, progress, parameters, results, forecast.
- `GET /scenarios/{id}/download/?table=results|forecast|histogram&format=csv|xlsx` -> the figures
  as a file.

Regulators (their region's programmes) and platform staff only; other roles 403.
"""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech import exports
from fintech.errors import InvalidInput
from fintech.models import Scenario
from fintech.selectors import scenarios as selectors
from fintech.services import scenarios as services

from .idempotency import idempotent
from .permissions import request_user
from .subsidies import JsonOnlyNegotiation


class ScenarioOutSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    started_by = serializers.IntegerField(source="started_by_id")

    class Meta:
        model = Scenario
        fields = [
            "id",
            "program",
            "name",
            "status",
            "as_of",
            "paths_total",
            "paths_done",
            "parameters",
            "book",
            "results",
            "forecast",
            "error",
            "started_by",
            "created_at",
            "started_at",
            "finished_at",
        ]


class ScenarioListCreateApi(generics.ListAPIView):
    serializer_class = ScenarioOutSerializer
    filter_backends: list[Any] = []

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema is built without a user
            return Scenario.objects.none()
        return selectors.scenarios_visible_to(request_user(self.request)).order_by("-id")

    @extend_schema(request=OpenApiTypes.OBJECT, responses={202: ScenarioOutSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        if not isinstance(request.data, dict):
            raise InvalidInput(_("Send the scenario's parameters as a JSON object."))
        scenario = services.scenario_start(
            actor=request_user(request), program_id=request.data.get("program"), raw=request.data
        )
        scenario.refresh_from_db()  # in-process runs (no broker) are already computed
        return Response(ScenarioOutSerializer(scenario).data, status=status.HTTP_202_ACCEPTED)


class ScenarioDetailApi(APIView):
    @extend_schema(responses=ScenarioOutSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(ScenarioOutSerializer(selectors.scenario_for(request_user(request), pk)).data)


# --- downloads ------------------------------------------------------------------------------------


class ScenarioDownloadApi(APIView):
    content_negotiation_class = JsonOnlyNegotiation

    @extend_schema(
        parameters=[
            OpenApiParameter("table", OpenApiTypes.STR, enum=list(selectors.TABLES), required=True),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(exports.FILE_FORMATS), required=True),
        ],
        responses={(200, "text/csv"): OpenApiTypes.BINARY},
    )
    def get(self, request: Request, pk: int) -> Any:
        scenario = selectors.scenario_for(request_user(request), pk)
        table = request.query_params.get("table", "")
        columns, rows = selectors.download_table(scenario, table)
        fmt = request.query_params.get("format", "")
        return exports.file_response(fmt, f"scenario-{scenario.pk}-{table}", table, columns, rows)


urlpatterns: list[URLPattern] = [
    path("scenarios/", ScenarioListCreateApi.as_view(), name="scenario-list"),
    path("scenarios/<int:pk>/", ScenarioDetailApi.as_view(), name="scenario-detail"),
    path("scenarios/<int:pk>/download/", ScenarioDownloadApi.as_view(), name="scenario-download"),
]
