"""API: the risk pool after default: recoveries, settlements, the risk fund top-ups, the report."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech import exports
from fintech.errors import InvalidInput
from fintech.models import FundMovement, LossEvent, OrganizationKind, Recovery, Settlement
from fintech.money import format_money
from fintech.selectors.loans import loan_for
from fintech.selectors.risk_pool import RiskPoolReport, fund_balance, risk_pool_report, settlement_for
from fintech.services.risk_pool import (
    fund_top_up_record,
    recovery_record,
    settlement_approve,
    settlement_record,
)

from .fields import MoneyField
from .idempotency import idempotent
from .permissions import request_user


def _fen(value: Decimal) -> str:
    return format_money(value)


class RecoveryInSerializer(serializers.Serializer):
    amount = MoneyField()
    received_on = serializers.DateField()
    source = serializers.CharField(max_length=200)  # type: ignore[assignment]  # a field, not Field.source


def recovery_out(recovery: Recovery) -> dict[str, Any]:
    return {
        "id": recovery.pk,
        "loan": recovery.loss_event.loan_id,
        "amount": _fen(recovery.amount),
        "received_on": recovery.received_on.isoformat(),
        "source": recovery.source,
        "insurer_part": _fen(recovery.insurer_part),
        "government_part": _fen(recovery.government_part),
        "bank_part": _fen(recovery.bank_part),
    }


class LoanRecoveryApi(APIView):
    @extend_schema(
        request=RecoveryInSerializer,
        responses={
            201: inline_serializer(
                "RecoveryOut",
                {
                    "id": serializers.IntegerField(),
                    "loan": serializers.IntegerField(),
                    "amount": serializers.CharField(),
                    "received_on": serializers.DateField(),
                    "source": serializers.CharField(),
                    "insurer_part": serializers.CharField(),
                    "government_part": serializers.CharField(),
                    "bank_part": serializers.CharField(),
                },
            )
        },
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        loan = loan_for(request_user(request), pk, OrganizationKind.BANK)
        data = RecoveryInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        recovery = recovery_record(actor=request_user(request), loan_id=loan.pk, **data.validated_data)
        return Response(recovery_out(recovery), status=status.HTTP_201_CREATED)


class SettlementInSerializer(serializers.Serializer):
    party = serializers.ChoiceField(choices=["insurer", "government"])
    amount = MoneyField()
    paid_on = serializers.DateField()
    reference = serializers.CharField(max_length=100)


SettlementOut = inline_serializer(
    "SettlementOut",
    {
        "id": serializers.IntegerField(),
        "loan": serializers.IntegerField(),
        "party": serializers.CharField(),
        "payer": serializers.IntegerField(),
        "amount": serializers.CharField(),
        "paid_on": serializers.DateField(),
        "reference": serializers.CharField(),
        "status": serializers.CharField(),
        "created_by": serializers.IntegerField(),
        "approved_by": serializers.IntegerField(allow_null=True),
        "approved_at": serializers.DateTimeField(allow_null=True),
    },
)


def settlement_out(settlement: Settlement) -> dict[str, Any]:
    return {
        "id": settlement.pk,
        "loan": settlement.loss_event.loan_id,
        "party": settlement.party,
        "payer": settlement.payer_id,
        "amount": _fen(settlement.amount),
        "paid_on": settlement.paid_on.isoformat(),
        "reference": settlement.reference,
        "status": settlement.status,
        "created_by": settlement.created_by_id,
        "approved_by": settlement.approved_by_id,
        "approved_at": serializers.DateTimeField().to_representation(settlement.approved_at)
        if settlement.approved_at
        else None,
    }


class LoanSettlementApi(APIView):
    @extend_schema(request=SettlementInSerializer, responses={201: SettlementOut})
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        loan = loan_for(user, pk, OrganizationKind.INSURER, OrganizationKind.REGULATOR)
        data = SettlementInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        settlement = settlement_record(actor=user, loan_id=loan.pk, **data.validated_data)
        return Response(settlement_out(settlement), status=status.HTTP_201_CREATED)


class SettlementApproveApi(APIView):
    @extend_schema(request=None, responses=SettlementOut)
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        user = request_user(request)
        settlement = settlement_for(user, pk)
        settlement = settlement_approve(actor=user, settlement_id=settlement.pk)
        return Response(settlement_out(settlement))


class FundTopUpInSerializer(serializers.Serializer):
    program = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    amount = MoneyField()
    received_on = serializers.DateField()


def top_up_out(movement: FundMovement) -> dict[str, Any]:
    return {
        "id": movement.pk,
        "program": movement.program_id,
        "kind": movement.kind,
        "amount": _fen(movement.amount),
        "received_on": movement.on.isoformat(),
        "balance": _fen(fund_balance(movement.program_id)),
    }


class FundTopUpApi(APIView):
    @extend_schema(
        request=FundTopUpInSerializer,
        responses={
            201: inline_serializer(
                "FundTopUpOut",
                {
                    "id": serializers.IntegerField(),
                    "program": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "amount": serializers.CharField(),
                    "received_on": serializers.DateField(),
                    "balance": serializers.CharField(),
                },
            )
        },
    )
    @idempotent
    def post(self, request: Request) -> Response:
        data = FundTopUpInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        movement = fund_top_up_record(
            actor=request_user(request),
            program_id=data.validated_data["program"],
            amount=data.validated_data["amount"],
            received_on=data.validated_data["received_on"],
        )
        return Response(top_up_out(movement), status=status.HTTP_201_CREATED)


# The report: one row per loss event, then the totals; the files carry the same figures.

REPORT_COLUMNS = (
    "loan",
    "sme",
    "sme_name",
    "bank",
    "bank_name",
    "insurer",
    "insurer_name",
    "default_on",
    "loss_amount",
    "insurer_share",
    "government_share",
    "bank_share",
    "recovered_insurer",
    "recovered_government",
    "recovered_bank",
    "net_insurer",
    "net_government",
    "net_bank",
    "settled_insurer",
    "settled_government",
    "unfunded_amount",
)
_MONEY_COLUMNS = REPORT_COLUMNS[REPORT_COLUMNS.index("loss_amount") :]
REPORT_FORMATS = ("json", "csv", "xlsx")


def _parties(
    source: Any, prefix: str, parties: tuple[str, ...] = ("insurer", "government", "bank")
) -> dict[str, str]:
    """{party: amount} from a report row's or the totals' `<prefix>_<party>` figures."""
    if isinstance(source, dict):
        return {p: _fen(source[f"{prefix}_{p}"]) for p in parties}
    return {p: _fen(getattr(source, f"{prefix}_{p}")) for p in parties}


def report_row_json(event: Any) -> dict[str, Any]:
    loan = event.loan
    recovered = _parties(event, "recovered")
    return {
        "loan": loan.pk,
        "program": event.program_id,
        "sme": loan.sme_id,
        "sme_name": loan.sme.name,
        "bank": loan.bank_id,
        "bank_name": loan.bank.name,
        "insurer": loan.policy.insurer_id,
        "insurer_name": loan.policy.insurer.name,
        "default_on": event.default_on.isoformat(),
        "loss_amount": _fen(event.loss_amount),
        "insurer_share": _fen(event.insurer_share),
        "government_share": _fen(event.government_share),
        "bank_share": _fen(event.bank_share),
        "recovered": {**recovered, "total": _fen(sum(map(Decimal, recovered.values()), Decimal("0.00")))},
        "net": _parties(event, "net"),
        "settled": _parties(event, "settled", ("insurer", "government")),
        "unfunded_amount": _fen(event.unfunded_amount),
    }


def report_json(report: RiskPoolReport) -> dict[str, Any]:
    totals = report.totals
    recovered = _parties(totals, "recovered")
    fund = report.fund
    return {
        "period": report.period.label if report.period else None,
        "program": report.program_id,
        "loss_events": [report_row_json(event) for event in report.rows],
        "totals": {
            "loss_events": totals["loss_events"],
            "loss_amount": _fen(totals["loss_amount"]),
            "insurer_share": _fen(totals["insurer_share"]),
            "government_share": _fen(totals["government_share"]),
            "bank_share": _fen(totals["bank_share"]),
            "recovered": {**recovered, "total": _fen(sum(map(Decimal, recovered.values()), Decimal("0.00")))},
            "net": _parties(totals, "net"),
            "settled": _parties(totals, "settled", ("insurer", "government")),
            "unfunded_amount": _fen(totals["unfunded_amount"]),
        },
        "fund": {
            "balance": _fen(fund.balance),
            "top_ups": _fen(fund.top_ups),
            "draws": _fen(fund.draws),
            "recoveries": _fen(fund.recoveries),
            "unfunded": _fen(fund.unfunded),
        },
    }


def _report_cells(event: LossEvent) -> list[Any]:
    loan = event.loan
    head = [
        loan.pk,
        loan.sme_id,
        loan.sme.name,
        loan.bank_id,
        loan.bank.name,
        loan.policy.insurer_id,
        loan.policy.insurer.name,
        event.default_on.isoformat(),
    ]
    return head + [getattr(event, name) for name in _MONEY_COLUMNS]


def _totals_cells(report: RiskPoolReport) -> list[Any]:
    return ["TOTAL", *([""] * 7), *(report.totals[name] for name in _MONEY_COLUMNS)]


def _file_name(report: RiskPoolReport) -> str:
    return f"risk-pool-{report.period.label if report.period else 'all'}"


def _file_rows(report: RiskPoolReport) -> Iterator[list[Any]]:
    """One row per loss event, then the totals (names neutralised by fintech.exports)."""
    for event in report.rows.iterator(chunk_size=2000):
        yield _report_cells(event)
    yield _totals_cells(report)


class RiskPoolReportApi(APIView):
    """Regulators (their region) and the platform: loss events, shares, recoveries, fund."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        # `?format=csv|xlsx` names the file to return, not a DRF renderer: never a 404 for it.
        return super().perform_content_negotiation(request, force=True)  # type: ignore[no-any-return]

    @extend_schema(
        parameters=[
            OpenApiParameter("period", OpenApiTypes.STR, description="2025Q3 or 2025-07; all time if absent"),
            OpenApiParameter("program", OpenApiTypes.INT),
            OpenApiParameter("format", OpenApiTypes.STR, enum=list(REPORT_FORMATS)),
        ],
        responses={200: OpenApiTypes.OBJECT},
    )
    def get(self, request: Request) -> FileResponse | StreamingHttpResponse | Response:
        fmt = request.query_params.get("format", "json")
        if fmt not in REPORT_FORMATS:
            raise InvalidInput.on("format", _("The format is json, csv or xlsx."))
        report = risk_pool_report(
            request_user(request),
            period=request.query_params.get("period") or None,
            program=request.query_params.get("program"),
        )
        if fmt in exports.FILE_FORMATS:
            return exports.file_response(
                fmt, _file_name(report), "risk pool", REPORT_COLUMNS, _file_rows(report)
            )
        return Response(report_json(report))


urlpatterns: list[URLPattern] = [
    path("loans/<int:pk>/recoveries/", LoanRecoveryApi.as_view(), name="loan-recoveries"),
    path("loans/<int:pk>/settlements/", LoanSettlementApi.as_view(), name="loan-settlements"),
    path("settlements/<int:pk>/approve/", SettlementApproveApi.as_view(), name="settlement-approve"),
    path("risk-fund/top-ups/", FundTopUpApi.as_view(), name="risk-fund-top-ups"),
    path("reports/risk-pool/", RiskPoolReportApi.as_view(), name="report-risk-pool"),
]
