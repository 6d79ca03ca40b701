"""Bank: repayments of a loan."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.models import OrganizationKind
from fintech.models.repayments import Repayment
from fintech.money import format_money
from fintech.selectors.applications import loan_for
from fintech.services.repayments import repayment_record

from .fields import MoneyField
from .idempotency import idempotent


class RepaymentInSerializer(serializers.Serializer):
    amount = MoneyField()
    paid_on = serializers.DateField()
    transaction_id = serializers.CharField(max_length=100, required=False, default="", allow_blank=True)


def repayment_out(repayment: Repayment) -> dict[str, object]:
    return {
        "id": repayment.pk,
        "loan": repayment.loan_id,
        "amount": format_money(repayment.amount),
        "paid_on": repayment.paid_on.isoformat(),
        "transaction_id": repayment.transaction_id,
        "allocations": [
            {
                "seq": a.installment.seq,
                "principal": format_money(a.principal),
                "interest": format_money(a.interest),
            }
            for a in repayment.allocations.select_related("installment").order_by("installment__seq")
        ],
    }


class LoanRepaymentApi(APIView):
    @extend_schema(
        request=RepaymentInSerializer,
        responses={
            201: inline_serializer(
                "RepaymentOut",
                {
                    "id": serializers.IntegerField(),
                    "loan": serializers.IntegerField(),
                    "amount": serializers.CharField(),
                    "paid_on": serializers.DateField(),
                    "transaction_id": serializers.CharField(),
                    "allocations": inline_serializer(
                        "AllocationOut",
                        {
                            "seq": serializers.IntegerField(),
                            "principal": serializers.CharField(),
                            "interest": serializers.CharField(),
                        },
                        many=True,
                    ),
                },
            )
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for(request.user, pk, OrganizationKind.BANK)  # type: ignore[arg-type]
        data = RepaymentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        repayment = repayment_record(actor=request.user, loan_id=loan.pk, **data.validated_data)  # type: ignore[arg-type]
        return Response(repayment_out(repayment), status=status.HTTP_201_CREATED)
