"""API: the insurer issues the loan-guarantee policy and records its premium payments."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.models import OrganizationKind, Policy
from fintech.money import format_money
from fintech.selectors.applications import application_for
from fintech.selectors.policies import policy_for
from fintech.services.policies import policy_issue, premium_payment_record

from .fields import MoneyField, RateField
from .idempotency import idempotent
from .permissions import request_user

K = OrganizationKind


class PolicyOutSerializer(serializers.ModelSerializer):
    insured_amount = MoneyField()
    premium_rate = RateField()
    premium = MoneyField()
    premium_paid_amount = MoneyField()
    application = serializers.IntegerField(source="application_id")

    class Meta:
        model = Policy
        fields = [
            "id",
            "application",
            "policy_number",
            "insured_amount",
            "premium_rate",
            "term_months",
            "premium",
            "premium_paid_amount",
            "premium_paid_on",
            "status",
            "external_id",
        ]


class PolicyInSerializer(serializers.Serializer):
    premium_rate = RateField()
    insured_amount = MoneyField(required=False)


class PolicyIssueApi(APIView):
    @extend_schema(request=PolicyInSerializer, responses={201: PolicyOutSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        app = application_for(request_user(request), pk, K.INSURER)
        data = PolicyInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        policy = policy_issue(actor=request_user(request), application_id=app.pk, **data.validated_data)
        return Response(PolicyOutSerializer(policy).data, status=status.HTTP_201_CREATED)


class PremiumPaymentInSerializer(serializers.Serializer):
    amount = MoneyField()
    paid_on = serializers.DateField()


class PremiumPaymentApi(APIView):
    @extend_schema(
        request=PremiumPaymentInSerializer,
        responses={
            201: inline_serializer(
                "PremiumPaymentOut",
                {
                    "id": serializers.IntegerField(),
                    "amount": serializers.CharField(),
                    "paid_on": serializers.DateField(),
                    "policy": PolicyOutSerializer(),
                },
            )
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        policy = policy_for(request_user(request), pk, K.INSURER)
        data = PremiumPaymentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = premium_payment_record(
            actor=request_user(request), policy_id=policy.pk, **data.validated_data
        )
        policy.refresh_from_db()
        return Response(
            {
                "id": payment.pk,
                "amount": format_money(payment.amount),
                "paid_on": payment.paid_on.isoformat(),
                "policy": PolicyOutSerializer(policy).data,
            },
            status=status.HTTP_201_CREATED,
        )
