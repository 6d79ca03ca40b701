"""API: the bank declares a default; the loss of a defaulted loan as its parties see it."""

from __future__ import annotations

from datetime import date

from django.urls import URLPattern, path
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.money import format_money
from fintech.selectors.defaults import LoanLoss, PartyAmounts, loan_for_default, loan_loss_for
from fintech.services.defaults import loan_default_declare

from .idempotency import idempotent
from .loans import LoanOutSerializer


class LoanDefaultInSerializer(serializers.Serializer):
    declared_on = serializers.DateField()
    reason = serializers.CharField(max_length=500, required=False, default="", allow_blank=True)


class LoanDefaultApi(APIView):
    """The loan's bank declares a default on a business date: 200 with the loan, now "defaulted"."""

    @extend_schema(request=LoanDefaultInSerializer, responses={200: LoanOutSerializer})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for_default(request.user, pk)  # type: ignore[arg-type]  # IsAuthenticated
        data = LoanDefaultInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        event = loan_default_declare(
            actor=request.user,  # type: ignore[arg-type]
            loan_id=loan.pk,
            default_on=data.validated_data["declared_on"],
            reason=data.validated_data["reason"],
        )
        loan.refresh_from_db()
        body = {**LoanOutSerializer(loan).data, "defaulted_on": _iso(loan.defaulted_on)}
        return Response({**body, "loss_amount": format_money(event.loss_amount)})


def _iso(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _by_party(amounts: PartyAmounts) -> dict[str, str]:
    return {
        "insurer": format_money(amounts.insurer),
        "government": format_money(amounts.government),
        "bank": format_money(amounts.bank),
    }


def loss_out(loss: LoanLoss) -> dict[str, object]:
    return {
        "default_on": loss.default_on.isoformat(),
        "loss_amount": format_money(loss.loss_amount),
        "shares": _by_party(loss.shares),
        "recovered": _by_party(loss.recovered),
        "net": _by_party(loss.net),
    }


def _parties_out(name: str) -> serializers.Serializer:
    fields: dict[str, serializers.Field] = {
        p: serializers.CharField() for p in ("insurer", "government", "bank")
    }
    return inline_serializer(name, fields)  # type: ignore[no-any-return]


class LoanLossApi(APIView):
    """The loss, each party's share, what recoveries gave back and the net: the loan's bank,
    insurer, SME, regulators of its region, the platform."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "LoanLossOut",
                {
                    "default_on": serializers.DateField(),
                    "loss_amount": serializers.CharField(),
                    "shares": _parties_out("LossShares"),
                    "recovered": _parties_out("LossRecovered"),
                    "net": _parties_out("LossNet"),
                },
            )
        }
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(loss_out(loan_loss_for(request.user, pk)))  # type: ignore[arg-type]


urlpatterns: list[URLPattern] = [
    path("loans/<int:pk>/default/", LoanDefaultApi.as_view(), name="loan-default"),
    path("loans/<int:pk>/loss/", LoanLossApi.as_view(), name="loan-loss"),
]
