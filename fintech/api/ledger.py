"""API: the ledger's reads (the trial balance, a loan's statement)."""

from __future__ import annotations

import re
from datetime import date

from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import postings_visible_to
from fintech.errors import InvalidInput
from fintech.models import OrganizationKind
from fintech.money import ZERO, format_money
from fintech.selectors.ledger import loan_statement, trial_balance
from fintech.selectors.loans import loan_for
from fintech.services.common import business_today, ensure_not_future

from .fields import MoneyField
from .permissions import request_user

K = OrganizationKind
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


def _as_of(request: Request) -> date:
    raw = request.query_params.get("as_of")
    if not raw:
        return business_today()
    try:
        if not _ISO_DATE.match(raw):
            raise ValueError(raw)
        as_of = date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput.on("as_of", _("Enter a date as YYYY-MM-DD.")) from exc
    ensure_not_future(as_of, "as_of")  # a report date lies in the programme's window too
    return as_of


class TrialBalanceApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("as_of", OpenApiTypes.DATE, description="Business date (default: today).")
        ],
        responses={
            200: inline_serializer(
                "TrialBalanceOut",
                {
                    "as_of": serializers.DateField(),
                    "accounts": inline_serializer(
                        "TrialBalanceAccountOut",
                        {
                            "code": serializers.CharField(),
                            "name": serializers.CharField(),
                            "name_zh": serializers.CharField(),
                            "kind": serializers.CharField(),
                            "debit": MoneyField(),
                            "credit": MoneyField(),
                        },
                        many=True,
                    ),
                    "total_debit": MoneyField(),
                    "total_credit": MoneyField(),
                },
            )
        },
        description="Per account with postings booked on or before `as_of`: total debits and total "
        "credits. Regulators see the postings of their region; platform staff the whole ledger.",
    )
    def get(self, request: Request) -> Response:
        caller = request_user(request)
        postings = postings_visible_to(caller)
        report = trial_balance(postings, as_of=_as_of(request))
        return Response(
            {
                "as_of": report.as_of.isoformat(),
                "accounts": [
                    {
                        "code": a.code,
                        "name": a.name,
                        "name_zh": a.name_zh,
                        "kind": a.kind,
                        "debit": format_money(a.debit),
                        "credit": format_money(a.credit),
                    }
                    for a in report.accounts
                ],
                "total_debit": format_money(report.total_debit),
                "total_credit": format_money(report.total_credit),
            }
        )


class LoanStatementApi(APIView):
    @extend_schema(
        responses={
            200: inline_serializer(
                "LoanStatementOut",
                {
                    "loan": serializers.IntegerField(),
                    "account": serializers.CharField(),
                    "lines": inline_serializer(
                        "LoanStatementLineOut",
                        {
                            "entry": serializers.IntegerField(),
                            "booked_on": serializers.DateField(),
                            "kind": serializers.CharField(),
                            "memo": serializers.CharField(),
                            "debit_account": serializers.CharField(),
                            "credit_account": serializers.CharField(),
                            "amount": MoneyField(),
                            "organization": serializers.IntegerField(allow_null=True),
                            "balance": MoneyField(),
                        },
                        many=True,
                    ),
                    "balance": MoneyField(),
                },
            )
        },
        description="The loan's journal lines in booking order, with the running balance of its loan "
        "receivable (account 1101).",
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = loan_for(request_user(request), pk, K.BANK, K.SME, K.REGULATOR)
        lines = loan_statement(loan)
        return Response(
            {
                "loan": loan.pk,
                "account": "1101",
                "lines": [
                    {
                        "entry": line.entry_id,
                        "booked_on": line.booked_on.isoformat(),
                        "kind": line.kind,
                        "memo": line.memo,
                        "debit_account": line.debit_account,
                        "credit_account": line.credit_account,
                        "amount": format_money(line.amount),
                        "organization": line.organization_id,
                        "balance": format_money(line.balance),
                    }
                    for line in lines
                ],
                "balance": format_money(lines[-1].balance if lines else ZERO),
            }
        )


urlpatterns: list[URLPattern] = [
    path("reports/trial-balance/", TrialBalanceApi.as_view(), name="report-trial-balance"),
    path("loans/<int:pk>/statement/", LoanStatementApi.as_view(), name="loan-statement"),
]
