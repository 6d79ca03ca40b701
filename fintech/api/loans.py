"""Bank side after approval: pledge, disbursement, the loan and its schedule."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.errors import NotFound
from fintech.models import Installment, Loan, LoanExtension, OrganizationKind, Pledge
from fintech.selectors.loans import extension_for, loan_for, loan_schedule, loans_visible_to
from fintech.services.extensions import loan_extension_endorse, loan_extension_request
from fintech.services.loans import loan_disburse, pledge_register
from fintech.services.prepayments import schedule_version_rows

from .fields import MoneyField, RateField
from .idempotency import idempotent
from .permissions import request_user
from .rows import FlatListMixin, FlatRows

K = OrganizationKind


class LoanOutSerializer(serializers.ModelSerializer):
    application = serializers.IntegerField(source="application_id")
    sme = serializers.IntegerField(source="sme_id")
    bank = serializers.IntegerField(source="bank_id")
    policy = serializers.IntegerField(source="policy_id")
    program = serializers.IntegerField(source="program_id")
    principal = MoneyField()
    annual_rate = RateField()

    class Meta:
        model = Loan
        fields = [
            "id",
            "application",
            "program",
            "sme",
            "bank",
            "policy",
            "principal",
            "annual_rate",
            "term_months",
            "repayment_method",
            "status",
            "approved_on",
            "disbursed_on",
            "maturity_on",
            "settled_on",
            "schedule_version",
            "grace_days",
            "default_days_past_due",
            "external_id",
        ]


class InstallmentOutSerializer(serializers.ModelSerializer):
    principal_due = MoneyField()
    interest_due = MoneyField()
    principal_paid = MoneyField()
    interest_paid = MoneyField()
    opening_principal = MoneyField()

    class Meta:
        model = Installment
        fields = [
            "seq",
            "start_on",
            "due_on",
            "days",
            "opening_principal",
            "principal_due",
            "interest_due",
            "principal_paid",
            "interest_paid",
            "paid_on",
            "status",
        ]


class PledgeOutSerializer(serializers.ModelSerializer):
    loan = serializers.IntegerField(source="loan_id")
    secured_amount = MoneyField()
    patents = serializers.SerializerMethodField()

    class Meta:
        model = Pledge
        fields = [
            "id",
            "loan",
            "registration_number",
            "registered_on",
            "secured_amount",
            "debt_start_on",
            "debt_end_on",
            "released_on",
            "patents",
        ]

    def get_patents(self, pledge: Pledge) -> list[int]:
        return [item.patent_id for item in pledge.items.order_by("patent_id")]


class LoanListApi(FlatListMixin, generics.ListAPIView):
    serializer_class = LoanOutSerializer
    rows = FlatRows(LoanOutSerializer)
    filterset_fields = ["status"]

    queryset = Loan.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return loans_visible_to(request_user(self.request)).order_by("-id")


class LoanDetailApi(generics.RetrieveAPIView):
    serializer_class = LoanOutSerializer

    queryset = Loan.objects.none()  # names the model for the OpenAPI schema; get_queryset scopes

    def get_queryset(self) -> Any:
        return loans_visible_to(request_user(self.request))


SCHEDULE_ROWS = FlatRows(InstallmentOutSerializer)


class ScheduleQuerySerializer(serializers.Serializer):
    version = serializers.IntegerField(min_value=1, max_value=32767, required=False)


class LoanScheduleApi(APIView):
    @extend_schema(parameters=[ScheduleQuerySerializer], responses=InstallmentOutSerializer(many=True))
    def get(self, request: Request, pk: int) -> Response:
        """The schedule in force, or with `?version=N` an earlier one (a prepayment, a settlement or an
        extension keeps the schedule it replaced as a version)."""
        loan = loan_for(request_user(request), pk, K.SME, K.BANK, K.INSURER, K.REGULATOR)
        query = ScheduleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        version = query.validated_data.get("version", loan.schedule_version)
        if version != loan.schedule_version:
            rows = schedule_version_rows(loan, version)
            if rows is None:
                raise NotFound(_("The loan has no schedule version %(version)s.") % {"version": version})
            return Response(rows)
        return Response(SCHEDULE_ROWS.write_all(SCHEDULE_ROWS.values(loan_schedule(loan)), {}))


class PledgeInSerializer(serializers.Serializer):
    registration_number = serializers.CharField(max_length=64)
    registered_on = serializers.DateField()


class PledgeApi(APIView):
    @extend_schema(request=PledgeInSerializer, responses={201: PledgeOutSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for(request_user(request), pk, K.BANK)
        data = PledgeInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        pledge = pledge_register(actor=request_user(request), loan_id=loan.pk, **data.validated_data)
        return Response(PledgeOutSerializer(pledge).data, status=status.HTTP_201_CREATED)


class DisburseInSerializer(serializers.Serializer):
    disbursed_on = serializers.DateField()


class DisburseApi(APIView):
    @extend_schema(request=DisburseInSerializer, responses=LoanOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for(request_user(request), pk, K.BANK)
        data = DisburseInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        loan = loan_disburse(actor=request_user(request), loan_id=loan.pk, **data.validated_data)
        return Response(LoanOutSerializer(loan).data)


# --- extensions (DOMAIN.md 8a) -------------------------------------------------------------------


class ExtensionInSerializer(serializers.Serializer):
    new_maturity_on = serializers.DateField()
    agreed_on = serializers.DateField()


class EndorseInSerializer(serializers.Serializer):
    premium_rate = RateField()
    endorsed_on = serializers.DateField(required=False)


class ExtensionOutSerializer(serializers.ModelSerializer):
    loan = serializers.IntegerField(source="loan_id")
    policy = serializers.IntegerField(source="loan.policy_id")
    premium_rate = RateField(allow_null=True, read_only=True)  # set by the endorsement
    premium = MoneyField(allow_null=True, read_only=True)
    premium_paid_amount = MoneyField(read_only=True)

    class Meta:
        model = LoanExtension
        fields = [
            "id",
            "loan",
            "policy",
            "status",
            "agreed_on",
            "old_maturity_on",
            "new_maturity_on",
            "extra_months",
            "premium_rate",
            "premium",
            "premium_paid_amount",
            "endorsed_on",
            "effective_on",
            "schedule_version",
        ]


class LoanExtensionApi(APIView):
    @extend_schema(request=ExtensionInSerializer, responses={201: ExtensionOutSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for(request_user(request), pk, K.BANK)
        data = ExtensionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        extension = loan_extension_request(
            actor=request_user(request), loan_id=loan.pk, **data.validated_data
        )
        return Response(ExtensionOutSerializer(extension).data, status=status.HTTP_201_CREATED)


class ExtensionDetailApi(APIView):
    @extend_schema(responses=ExtensionOutSerializer)
    def get(self, request: Request, pk: int) -> Response:
        extension = extension_for(request_user(request), pk, K.BANK, K.INSURER, K.SME, K.REGULATOR)
        return Response(ExtensionOutSerializer(extension).data)


class ExtensionEndorseApi(APIView):
    @extend_schema(request=EndorseInSerializer, responses=ExtensionOutSerializer)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        extension = extension_for(request_user(request), pk, K.INSURER)
        data = EndorseInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        extension = loan_extension_endorse(
            actor=request_user(request), extension_id=extension.pk, **data.validated_data
        )
        return Response(ExtensionOutSerializer(extension).data)
