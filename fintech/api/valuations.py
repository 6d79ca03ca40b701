"""Appraiser: engagements and valuation reports."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from config.api import DecimalJSONParser
from fintech.models import Valuation
from fintech.money import format_money
from fintech.selectors.applications import application_patent_ids
from fintech.selectors.valuations import valuation_for, valuation_line_values, valuations_visible_to
from fintech.services.audit import json_safe
from fintech.services.valuations import PatentReport, method_inputs, valuation_report
from valuation import public as val

from .fields import MAX_ID, MoneyField, RateField
from .idempotency import idempotent
from .permissions import request_user
from .rows import Computed, Context, FlatListMixin, FlatRows, Row


def score(**kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, **kwargs)


class IndicatorsSerializer(serializers.Serializer):
    legal = score(required=False)
    technical = score(required=False)
    economic = score(required=False)


class ComparableSerializer(serializers.Serializer):
    price = MoneyField()
    technology_factor = serializers.DecimalField(max_digits=6, decimal_places=4)
    time_factor = serializers.DecimalField(max_digits=6, decimal_places=4)
    remaining_term_factor = serializers.DecimalField(max_digits=6, decimal_places=4)
    market_factor = serializers.DecimalField(max_digits=6, decimal_places=4)


class PatentReportSerializer(serializers.Serializer):
    patent = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    method = serializers.ChoiceField(choices=list(val.METHODS), default=val.RELIEF_FROM_ROYALTY)
    # relief from royalty
    revenue_forecast = serializers.ListField(
        child=MoneyField(), required=False, max_length=val.MAX_FORECAST_YEARS
    )
    royalty_rate = RateField(required=False)
    tax_rate = RateField(required=False)
    discount_rate = RateField(required=False, max_value=Decimal(10))
    # market
    comparables = ComparableSerializer(many=True, required=False)
    # cost
    replacement_cost = MoneyField(required=False)
    functional_obsolescence_rate = RateField(required=False)
    economic_obsolescence_rate = RateField(required=False)
    economic_life_years = serializers.DecimalField(max_digits=6, decimal_places=2, required=False)
    remaining_economic_life_years = serializers.DecimalField(max_digits=6, decimal_places=2, required=False)
    indicators = IndicatorsSerializer()
    sub_indicators = serializers.DictField(
        child=serializers.DictField(child=score()), required=False, default=dict
    )

    REQUIRED = {
        val.RELIEF_FROM_ROYALTY: ("revenue_forecast", "royalty_rate", "tax_rate", "discount_rate"),
        val.MARKET: ("comparables",),
        val.COST: (
            "replacement_cost",
            "functional_obsolescence_rate",
            "economic_obsolescence_rate",
            "economic_life_years",
            "remaining_economic_life_years",
        ),
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = [f for f in self.REQUIRED[attrs["method"]] if f not in attrs]
        if missing:
            raise serializers.ValidationError(
                {f: [f"Required by the {attrs['method']} method."] for f in missing}
            )
        return attrs


class EnterpriseScoresSerializer(serializers.Serializer):
    operating = score()
    economic_benefit = score()


class ReportInSerializer(serializers.Serializer):
    report_number = serializers.CharField(max_length=64)
    valuation_date = serializers.DateField()
    patents = PatentReportSerializer(many=True, allow_empty=False)
    enterprise = EnterpriseScoresSerializer()


class ValuationOutSerializer(serializers.ModelSerializer):
    application = serializers.IntegerField(source="application_id")
    patents = serializers.SerializerMethodField()
    appraised_value = MoneyField(allow_null=True)
    pledge_rate = RateField(allow_null=True)
    credit_ceiling = MoneyField(allow_null=True)

    class Meta:
        model = Valuation
        fields = [
            "id",
            "application",
            "patents",
            "status",
            "report_number",
            "valuation_date",
            "valid_until",
            "appraised_value",
            "composite_score",
            "risk_grade",
            "pledge_rate",
            "credit_ceiling",
            "scorecard_version",
        ]

    def get_patents(self, v: Valuation) -> list[dict[str, Any]]:
        values = {line.patent_id: format_money(line.value) for line in v.lines.all()}
        return [{"patent": p.pk, "value": values.get(p.pk)} for p in v.application.patents.all()]


def _valuation_patents(row: Row, context: Context) -> list[dict[str, Any]]:
    values = context["values"].get(row["id"], {})
    return [{"patent": p, "value": values.get(p)} for p in context["patents"].get(row["application_id"], [])]


class ValuationListApi(FlatListMixin, generics.ListAPIView):
    serializer_class = ValuationOutSerializer
    rows = FlatRows(
        ValuationOutSerializer, computed={"patents": Computed(("id", "application_id"), _valuation_patents)}
    )

    def page_context(self, rows: list[Row], request: Request) -> Context:
        return {
            "patents": application_patent_ids([row["application_id"] for row in rows]),
            "values": {
                valuation: {patent: format_money(value) for patent, value in lines.items()}
                for valuation, lines in valuation_line_values([row["id"] for row in rows]).items()
            },
        }

    filterset_fields = ["status"]

    queryset = Valuation.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return valuations_visible_to(request_user(self.request))


class ValuationDetailApi(generics.RetrieveAPIView):
    serializer_class = ValuationOutSerializer

    queryset = Valuation.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return valuations_visible_to(request_user(self.request))


class ValuationReportApi(APIView):
    # Nested lists of per-patent inputs: JSON only (a multipart form cannot carry them faithfully).
    parser_classes = [DecimalJSONParser]

    @extend_schema(request=ReportInSerializer, responses={201: ValuationOutSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        engagement = valuation_for(request_user(request), pk)
        data = ReportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        reports = [
            PatentReport(
                patent=p["patent"],
                method=p["method"],
                inputs=method_inputs(p["method"], p),
                indicators=val.PatentIndicators(**p["indicators"]),
                sub_indicators=p["sub_indicators"],
                raw=json_safe(cast(dict[str, Any], request.data)["patents"][i]),
            )
            for i, p in enumerate(v["patents"])
        ]
        result = valuation_report(
            actor=request_user(request),
            valuation_id=engagement.pk,
            report_number=v["report_number"],
            valuation_date=v["valuation_date"],
            patents=reports,
            operating=v["enterprise"]["operating"],
            economic_benefit=v["enterprise"]["economic_benefit"],
        )
        result = valuations_visible_to(request_user(request)).get(pk=result.pk)
        return Response(ValuationOutSerializer(result).data, status=status.HTTP_201_CREATED)
