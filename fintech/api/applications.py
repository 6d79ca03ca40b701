"""Applications (SME side), the insurer's decline, the bank's approval; the policy is in api.policies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import sees_policy_and_loan
from fintech.models import Application, OrganizationKind, Patent, RepaymentMethod
from fintech.selectors.applications import (
    application_for,
    application_patent_ids,
    applications_visible_to,
)
from fintech.services.applications import (
    application_create,
    application_decline,
    application_submit,
    application_withdraw,
)
from fintech.services.loans import loan_approve

from .fields import MAX_ID, MoneyField, RateField
from .idempotency import idempotent
from .loans import LoanOutSerializer
from .permissions import request_user
from .policies import PolicyOutSerializer
from .rows import Computed, Context, FlatListMixin, FlatRows, Row

K = OrganizationKind


class ApplicationInSerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    patents = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_ID), min_length=1, max_length=50
    )
    requested_amount = MoneyField()
    term_months = serializers.IntegerField(min_value=1, max_value=360)
    repayment_method = serializers.ChoiceField(choices=RepaymentMethod.choices)
    bank = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    insurer = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    appraiser = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    purpose = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)
    external_id = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)


class ApplicationOutSerializer(serializers.ModelSerializer):
    program = serializers.IntegerField(source="program_id")
    sme = serializers.IntegerField(source="sme_id")
    bank = serializers.IntegerField(source="bank_id")
    insurer = serializers.IntegerField(source="insurer_id")
    appraiser = serializers.IntegerField(source="appraiser_id")
    patents: serializers.PrimaryKeyRelatedField[Patent] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    requested_amount = MoneyField()
    appraised_value = MoneyField(allow_null=True)
    pledge_rate = RateField(allow_null=True)
    credit_ceiling = MoneyField(allow_null=True)
    policy = serializers.SerializerMethodField()
    loan = serializers.SerializerMethodField()
    valuation = serializers.SerializerMethodField()

    class Meta:
        model = Application
        fields = [
            "id",
            "status",
            "sme",
            "program",
            "patents",
            "requested_amount",
            "term_months",
            "repayment_method",
            "bank",
            "insurer",
            "appraiser",
            "purpose",
            "submitted_on",
            "appraised_value",
            "risk_grade",
            "pledge_rate",
            "credit_ceiling",
            "decline_reason",
            "valuation",
            "policy",
            "loan",
            "external_id",
            "created_at",
        ]

    def _sees_policy_and_loan(self) -> bool:
        request = self.context.get("request")
        return sees_policy_and_loan(getattr(request, "user", None) or self.context.get("user"))

    def get_policy(self, app: Application) -> dict[str, Any] | None:
        policy = getattr(app, "policy", None)
        return PolicyOutSerializer(policy).data if policy and self._sees_policy_and_loan() else None

    def get_loan(self, app: Application) -> dict[str, Any] | None:
        loan = getattr(app, "loan", None)
        return LoanOutSerializer(loan).data if loan and self._sees_policy_and_loan() else None

    def get_valuation(self, app: Application) -> int | None:
        valuation = getattr(app, "valuation", None)
        return valuation.pk if valuation else None


def _app_out(pk: int, user: Any, code: int = status.HTTP_200_OK) -> Response:
    app = applications_visible_to(user).get(pk=pk)
    return Response(ApplicationOutSerializer(app, context={"user": user}).data, status=code)


POLICY_ROWS = FlatRows(PolicyOutSerializer, prefix="policy__")
LOAN_ROWS = FlatRows(LoanOutSerializer, prefix="loan__")
APPLICATION_ROWS = FlatRows(
    ApplicationOutSerializer,
    computed={
        "patents": Computed(("id",), lambda row, context: context["patents"].get(row["id"], [])),
        "valuation": Computed(("valuation__id",), lambda row, context: row["valuation__id"]),
        "policy": Computed(
            POLICY_ROWS.columns,
            lambda row, context: (
                POLICY_ROWS.write(row, context)
                if row["policy__id"] is not None and context["sees_policy_and_loan"]
                else None
            ),
        ),
        "loan": Computed(
            LOAN_ROWS.columns,
            lambda row, context: (
                LOAN_ROWS.write(row, context)
                if row["loan__id"] is not None and context["sees_policy_and_loan"]
                else None
            ),
        ),
    },
)


class ApplicationListCreateApi(FlatListMixin, generics.ListAPIView):
    serializer_class = ApplicationOutSerializer
    rows = APPLICATION_ROWS
    filterset_fields = ["status"]

    queryset = Application.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return applications_visible_to(request_user(self.request)).order_by("-id")

    def page_context(self, rows: list[Row], request: Request) -> Context:
        return {
            "patents": application_patent_ids([row["id"] for row in rows]),
            # An appraisal firm sees its valuation, not the policy or the loan (DOMAIN.md section 11).
            "sees_policy_and_loan": request_user(request).role != OrganizationKind.APPRAISER,
        }

    @extend_schema(request=ApplicationInSerializer, responses={201: ApplicationOutSerializer})
    @idempotent
    def post(self, request: Request) -> Response:
        data = ApplicationInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        app = application_create(
            user=request_user(request),
            program_id=v["program"],
            patent_ids=v["patents"],
            requested_amount=v["requested_amount"],
            term_months=v["term_months"],
            repayment_method=v["repayment_method"],
            bank_id=v["bank"],
            insurer_id=v["insurer"],
            appraiser_id=v["appraiser"],
            purpose=v["purpose"],
            external_id=v["external_id"],
        )
        return _app_out(app.pk, request_user(request), status.HTTP_201_CREATED)


class ApplicationDetailApi(generics.RetrieveAPIView):
    serializer_class = ApplicationOutSerializer

    queryset = Application.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return applications_visible_to(request_user(self.request))


class SubmitInSerializer(serializers.Serializer):
    submitted_on = serializers.DateField(required=False, help_text="Business date; today if absent.")


class ApplicationSubmitApi(APIView):
    @extend_schema(request=SubmitInSerializer, responses=ApplicationOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        app = application_for(request_user(request), pk, K.SME)
        data = SubmitInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application_submit(actor=request_user(request), application_id=app.pk, **data.validated_data)
        return _app_out(pk, request_user(request))


class ReasonSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)


class ApplicationWithdrawApi(APIView):
    @extend_schema(request=ReasonSerializer, responses=ApplicationOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        app = application_for(request_user(request), pk, K.SME)
        data = ReasonSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application_withdraw(
            actor=request_user(request), application_id=app.pk, reason=data.validated_data["reason"]
        )
        return _app_out(pk, request_user(request))


class DeclineSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class ApplicationDeclineApi(APIView):
    @extend_schema(request=DeclineSerializer, responses=ApplicationOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        app = application_for(request_user(request), pk, K.INSURER, K.BANK)
        data = DeclineSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        application_decline(
            actor=request_user(request), application_id=app.pk, reason=data.validated_data["reason"]
        )
        return _app_out(pk, request_user(request))


class ApproveInSerializer(serializers.Serializer):
    principal = MoneyField()
    annual_rate = RateField()
    term_months = serializers.IntegerField(min_value=1, max_value=360)
    repayment_method = serializers.ChoiceField(choices=RepaymentMethod.choices)
    external_id = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)
    approved_on = serializers.DateField(required=False, help_text="Business date; today if absent.")


class ApplicationApproveApi(APIView):
    @extend_schema(
        request=ApproveInSerializer,
        responses={201: inline_serializer("Approved", {"loan": LoanOutSerializer()})},
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        app = application_for(request_user(request), pk, K.BANK)
        data = ApproveInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan = loan_approve(actor=request_user(request), application_id=app.pk, **data.validated_data)
        return Response({"loan": LoanOutSerializer(loan).data}, status=status.HTTP_201_CREATED)
