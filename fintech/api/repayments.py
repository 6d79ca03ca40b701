"""Bank: repayments of a loan, their reversal, the payoff quote and the prepayments."""

from __future__ import annotations

from typing import Any

from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import loans_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import (
    EntryKind,
    JournalEntry,
    OrganizationKind,
    Prepayment,
    PrepaymentKind,
    Recast,
    RepaymentReversal,
)
from fintech.models.repayments import Repayment
from fintech.money import format_money
from fintech.selectors.loans import loan_for
from fintech.services.prepayments import loan_prepay_partial, loan_settle_early, payoff_quote
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


# --- payoff and prepayments (DOMAIN.md 8a) --------------------------------------------------------


class PayoffQuerySerializer(serializers.Serializer):
    on = serializers.DateField()


PAYOFF_OUT = inline_serializer(
    "PayoffOut",
    {
        "on": serializers.DateField(),
        "overdue": serializers.CharField(),
        "principal": serializers.CharField(),
        "accrued_interest": serializers.CharField(),
        "prepayment_fee": serializers.CharField(),
        "total": serializers.CharField(),
    },
)


class LoanPayoffApi(APIView):
    @extend_schema(parameters=[PayoffQuerySerializer], responses={200: PAYOFF_OUT})
    def get(self, request: Request, pk: int) -> Response:
        loan = loan_for(request.user, pk, OrganizationKind.BANK, OrganizationKind.SME)  # type: ignore[arg-type]
        query = PayoffQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        quote = payoff_quote(actor=request.user, loan_id=loan.pk, on=query.validated_data["on"])  # type: ignore[arg-type]
        return Response(quote.as_dict())


class PrepaymentInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=PrepaymentKind.choices)
    amount = MoneyField()
    value_date = serializers.DateField()
    recast = serializers.ChoiceField(choices=Recast.choices, required=False, default=Recast.KEEP_TERM)


def prepayment_out(prepayment: Prepayment) -> dict[str, object]:
    return {
        "id": prepayment.pk,
        "loan": prepayment.loan_id,
        "kind": prepayment.kind,
        "recast": prepayment.recast,
        "value_date": prepayment.value_date.isoformat(),
        "amount": format_money(prepayment.amount),
        "principal": format_money(prepayment.principal),
        "fee": format_money(prepayment.fee),
        "repayment": prepayment.repayment_id,
        "schedule_version": prepayment.schedule_version,
    }


class LoanPrepaymentApi(APIView):
    @extend_schema(
        request=PrepaymentInSerializer,
        responses={
            201: inline_serializer(
                "PrepaymentOut",
                {
                    "id": serializers.IntegerField(),
                    "loan": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "recast": serializers.CharField(),
                    "value_date": serializers.DateField(),
                    "amount": serializers.CharField(),
                    "principal": serializers.CharField(),
                    "fee": serializers.CharField(),
                    "repayment": serializers.IntegerField(allow_null=True),
                    "schedule_version": serializers.IntegerField(),
                },
            )
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for(request.user, pk, OrganizationKind.BANK)  # type: ignore[arg-type]
        data = PrepaymentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        if values["kind"] == PrepaymentKind.SETTLE:
            prepayment = loan_settle_early(
                actor=request.user,  # type: ignore[arg-type]
                loan_id=loan.pk,
                amount=values["amount"],
                value_date=values["value_date"],
            )
        else:
            prepayment = loan_prepay_partial(
                actor=request.user,  # type: ignore[arg-type]
                loan_id=loan.pk,
                amount=values["amount"],
                value_date=values["value_date"],
                recast=values["recast"],
            )
        return Response(prepayment_out(prepayment), status=status.HTTP_201_CREATED)


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
            raise NotFound(_("Repayment not found."))
        require_role(caller, K.BANK)
        data = ReversalInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        reversal = repayment_reverse(actor=caller, repayment_id=repayment.pk, **data.validated_data)
        return Response(reversal_out(reversal), status=status.HTTP_201_CREATED)


urlpatterns: list[URLPattern] = [
    path("repayments/<int:pk>/reversal/", RepaymentReversalApi.as_view(), name="repayment-reversal"),
]
