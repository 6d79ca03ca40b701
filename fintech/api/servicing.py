"""API: servicing. Bank repayment files, repayment reversals, and the ledger's reads (the trial
balance, a loan's statement)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any, cast

from django.core.files.uploadedfile import UploadedFile
from django.urls import URLPattern, path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import postings_visible_to, repayment_files_visible_to, require_role
from fintech.errors import InvalidInput, NotFound
from fintech.models import EntryKind, JournalEntry, OrganizationKind, RepaymentFile, RepaymentReversal
from fintech.models.repayments import Repayment
from fintech.money import ZERO, format_money
from fintech.selectors.applications import loan_for, loans_visible_to
from fintech.selectors.ledger import loan_statement, trial_balance
from fintech.services.common import business_today, ensure_not_future
from fintech.services.repayment_files import repayment_file_errors, repayment_file_upload
from fintech.services.repayments import repayment_reverse

from .fields import MoneyField
from .idempotency import idempotent
from .permissions import request_user

K = OrganizationKind
_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")


# --- repayment files ------------------------------------------------------------------------------


ErrorOut = inline_serializer(
    "RepaymentFileErrorOut",
    {
        "line": serializers.IntegerField(
            allow_null=True,
            help_text="Line in the file, the header being line 1; null for the file as a whole.",
        ),
        "reason": serializers.CharField(),
    },
    many=True,
)

RepaymentFileOut = inline_serializer(
    "RepaymentFileOut",
    {
        "id": serializers.IntegerField(),
        "bank": serializers.IntegerField(),
        "filename": serializers.CharField(),
        "status": serializers.ChoiceField(choices=["pending", "processing", "done", "failed"]),
        "lines_total": serializers.IntegerField(help_text="Data lines (not the header, not blank lines)."),
        "lines_done": serializers.IntegerField(),
        "lines_applied": serializers.IntegerField(),
        "lines_rejected": serializers.IntegerField(),
        "errors": ErrorOut,
        "created_at": serializers.DateTimeField(),
        "finished_at": serializers.DateTimeField(allow_null=True),
    },
)


_DATETIME = serializers.DateTimeField()  # built once, not per row


def repayment_file_out(file: RepaymentFile, *, with_errors: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": file.pk,
        "bank": file.bank_id,
        "filename": file.filename,
        "status": file.status,
        "lines_total": file.lines_total,
        "lines_done": file.lines_done,
        "lines_applied": file.lines_applied,
        "lines_rejected": file.lines_rejected,
    }
    if with_errors:
        body["errors"] = repayment_file_errors(file)
    body["created_at"] = _DATETIME.to_representation(file.created_at)
    body["finished_at"] = _DATETIME.to_representation(file.finished_at) if file.finished_at else None
    return body


class RepaymentFileInSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV, UTF-8, header `loan,amount,value_date,transaction_id`; `loan` is the loan id or "
        "its external_id; amounts in plain notation; value dates YYYY-MM-DD."
    )


class RepaymentFileListCreateApi(generics.GenericAPIView):
    parser_classes = [MultiPartParser]
    queryset = RepaymentFile.objects.none()  # names the model for the OpenAPI schema

    @extend_schema(
        request={"multipart/form-data": RepaymentFileInSerializer},
        responses={202: RepaymentFileOut},
        description="Upload a daily repayment file; it is processed by a worker. Poll "
        "`GET /repayment-files/{id}/` for progress. Error lines count the header as line 1.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        caller = request_user(request)
        require_role(caller, K.BANK)
        data = RepaymentFileInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = cast(UploadedFile, data.validated_data["file"])
        file = repayment_file_upload(actor=caller, filename=upload.name or "", content=upload.read())
        # Reloaded: without a broker the task has already run in process, once the upload committed.
        file = repayment_files_visible_to(caller).get(pk=file.pk)
        return Response(repayment_file_out(file), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="repayment_files_list",
        responses={
            200: inline_serializer(
                "RepaymentFilePage",
                {
                    "count": serializers.IntegerField(),
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": inline_serializer(
                        "RepaymentFileListOut",
                        {
                            "id": serializers.IntegerField(),
                            "bank": serializers.IntegerField(),
                            "filename": serializers.CharField(),
                            "status": serializers.CharField(),
                            "lines_total": serializers.IntegerField(),
                            "lines_done": serializers.IntegerField(),
                            "lines_applied": serializers.IntegerField(),
                            "lines_rejected": serializers.IntegerField(),
                            "created_at": serializers.DateTimeField(),
                            "finished_at": serializers.DateTimeField(allow_null=True),
                        },
                        many=True,
                    ),
                },
            )
        },
        description="The caller's bank's files, newest first (without their errors: see each file).",
    )
    def get(self, request: Request) -> Response:
        # The list shows progress, not the files: their content (up to megabytes each) stays unread.
        files = repayment_files_visible_to(request_user(request)).defer("content").order_by("-id")
        page = self.paginate_queryset(files)
        rows = page if page is not None else list(files)
        return self.get_paginated_response([repayment_file_out(f, with_errors=False) for f in rows])


class RepaymentFileDetailApi(APIView):
    @extend_schema(
        responses={200: RepaymentFileOut},
        description="Progress and result of an uploaded file; `errors` lists rejected lines with their "
        "line number (the header is line 1) and reason.",
    )
    def get(self, request: Request, pk: int) -> Response:
        file = repayment_files_visible_to(request_user(request)).filter(pk=pk).first()
        if file is None:
            raise NotFound("Repayment file not found.")
        return Response(repayment_file_out(file))


# --- reversals ------------------------------------------------------------------------------------


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


# --- the ledger's reads ---------------------------------------------------------------------------


def _as_of(request: Request) -> date:
    raw = request.query_params.get("as_of")
    if not raw:
        return business_today()
    try:
        if not _ISO_DATE.match(raw):
            raise ValueError(raw)
        as_of = date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput.on("as_of", "Enter a date as YYYY-MM-DD.") from exc
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
    path("repayment-files/", RepaymentFileListCreateApi.as_view(), name="repayment-file-list"),
    path("repayment-files/<int:pk>/", RepaymentFileDetailApi.as_view(), name="repayment-file-detail"),
    path("repayments/<int:pk>/reversal/", RepaymentReversalApi.as_view(), name="repayment-reversal"),
    path("reports/trial-balance/", TrialBalanceApi.as_view(), name="report-trial-balance"),
    path("loans/<int:pk>/statement/", LoanStatementApi.as_view(), name="loan-statement"),
]
