"""SME side: patents."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from fintech.access import patents_visible_to
from fintech.models import Patent, Patentee, PatentType
from fintech.selectors.patents import patentees_of
from fintech.services.patents import PatenteeInput, patent_register

from .permissions import request_user
from .rows import Computed, Context, FlatListMixin, FlatRows, Row


class PatenteeSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patentee
        fields = ["name", "uscc", "pledge_consent_on"]
        read_only_fields = ["pledge_consent_on"]


class PatentInSerializer(serializers.Serializer):
    application_number = serializers.CharField(max_length=40)
    title = serializers.CharField(max_length=300)
    patent_type = serializers.ChoiceField(choices=PatentType.choices)
    filing_date = serializers.DateField()
    grant_date = serializers.DateField()
    patentees = serializers.ListField(
        child=serializers.DictField(child=serializers.CharField(max_length=200)), min_length=1, max_length=20
    )
    claims_count = serializers.IntegerField(min_value=1, max_value=10_000, default=1)
    term_adjustment_days = serializers.IntegerField(min_value=0, max_value=5 * 366, default=0)
    external_id = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)

    def validate_patentees(self, value: list[dict[str, str]]) -> list[PatenteeInput]:
        out: list[PatenteeInput] = []
        errors: dict[str, Any] = {}
        for i, p in enumerate(value):
            missing = [k for k in ("name", "uscc") if not p.get(k)]
            if missing:
                errors[str(i)] = {k: ["This field is required."] for k in missing}
                continue
            out.append(PatenteeInput(name=p["name"], uscc=p["uscc"]))
        if errors:
            raise serializers.ValidationError(errors)
        return out


class PatentOutSerializer(serializers.ModelSerializer):
    patentees = PatenteeSerializer(many=True, read_only=True)
    owner = serializers.IntegerField(source="owner_id")

    class Meta:
        model = Patent
        fields = [
            "id",
            "application_number",
            "title",
            "patent_type",
            "filing_date",
            "grant_date",
            "claims_count",
            "term_adjustment_days",
            "expires_on",
            "status",
            "owner",
            "patentees",
            "external_id",
            "created_at",
        ]


PATENTEE_ROWS = FlatRows(PatenteeSerializer)


class PatentListCreateApi(FlatListMixin, generics.ListAPIView):
    serializer_class = PatentOutSerializer
    rows = FlatRows(
        PatentOutSerializer,
        computed={
            "patentees": Computed(("id",), lambda row, context: context["patentees"].get(row["id"], []))
        },
    )

    def page_context(self, rows: list[Row], request: Request) -> Context:
        by_patent: dict[int, list[dict[str, Any]]] = {}
        lines = patentees_of([row["id"] for row in rows]).values("patent_id", *PATENTEE_ROWS.columns)
        for line in lines:
            by_patent.setdefault(line["patent_id"], []).append(PATENTEE_ROWS.write(line, {}))
        return {"patentees": by_patent}

    queryset = Patent.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return patents_visible_to(request_user(self.request))

    @extend_schema(request=PatentInSerializer, responses={201: PatentOutSerializer})
    def post(self, request: Request) -> Response:
        data = PatentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patent = patent_register(user=request_user(request), **data.validated_data)
        return Response(PatentOutSerializer(patent).data, status=status.HTTP_201_CREATED)


class PatentDetailApi(generics.RetrieveAPIView):
    serializer_class = PatentOutSerializer
    queryset = Patent.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return patents_visible_to(request_user(self.request))
