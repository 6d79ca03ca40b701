"""Bank: repayments of a loan and their reversal."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import loans_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import EntryKind, JournalEntry, OrganizationKind, RepaymentReversal
from fintech.models.repayments import Repayment
from fintech.money import format_money
from fintech.selectors.loans import loan_for
from fintech.services.repayments import repayment_record, repayment_reverse

from .fields import MoneyField
from .idempotency import idempotent
from .permissions import request_user


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


K = OrganizationKind


class ReversalInSerializer(serializers.Serializer):
    reversed_on = serializers.DateField()
    reason = serializers.CharField(max_length=500)


def reversal_out(reversal: RepaymentReversal) -> dict[str, Any]:
    repayment = reversal.repayment
    entry = (
        JournalEntry.objects.filter(
            kind=EntryKind.REVERSAL, source_type=reversal._meta.label_lower, source_id=str(reversal.pk)
        )
        .values_list("pk", flat=True)
        .first()
    )
    return {
        "id": reversal.pk,
        "repayment": repayment.pk,
        "loan": repayment.loan_id,
        "amount": format_money(repayment.amount),
        "reversed_on": reversal.reversed_on.isoformat(),
        "reason": reversal.reason,
        "journal_entry": entry,
        "allocations": [
            {
                "seq": a.installment.seq,
                "principal": format_money(a.principal),
                "interest": format_money(a.interest),
            }
            for a in repayment.allocations.select_related("installment").order_by("installment__seq")
        ],
    }


class RepaymentReversalApi(APIView):
    @extend_schema(
        request=ReversalInSerializer,
        responses={
            201: inline_serializer(
                "RepaymentReversalOut",
                {
                    "id": serializers.IntegerField(),
                    "repayment": serializers.IntegerField(),
                    "loan": serializers.IntegerField(),
                    "amount": MoneyField(),
                    "reversed_on": serializers.DateField(),
                    "reason": serializers.CharField(),
                    "journal_entry": serializers.IntegerField(allow_null=True),
                    "allocations": inline_serializer(
                        "ReversedAllocationOut",
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
        description="Take back a wrong repayment (the loan's most recent one that stands): its "
        "allocations are undone and a reversing journal entry is booked. Nothing is deleted.",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        caller = request_user(request)
        repayment = Repayment.objects.filter(pk=pk, loan__in=loans_visible_to(caller).values("pk")).first()
        if repayment is None:
            raise NotFound("Repayment not found.")
        require_role(caller, K.BANK)
        data = ReversalInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reversal = repayment_reverse(actor=caller, repayment_id=repayment.pk, **data.validated_data)
        return Response(reversal_out(reversal), status=status.HTTP_201_CREATED)


urlpatterns: list[URLPattern] = [
    path("repayments/<int:pk>/reversal/", RepaymentReversalApi.as_view(), name="repayment-reversal"),
]
