"""API: the bank's daily repayment files (upload, list, detail with the rejected lines)."""

from __future__ import annotations

from typing import Any, cast

from django.core.files.uploadedfile import UploadedFile
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import repayment_files_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import OrganizationKind, RepaymentFile
from fintech.services.repayment_files import repayment_file_errors, repayment_file_upload

from .idempotency import idempotent
from .permissions import request_user

K = OrganizationKind


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
            raise NotFound(_("Repayment file not found."))
        return Response(repayment_file_out(file))


urlpatterns: list[URLPattern] = [
    path("repayment-files/", RepaymentFileListCreateApi.as_view(), name="repayment-file-list"),
    path("repayment-files/<int:pk>/", RepaymentFileDetailApi.as_view(), name="repayment-file-detail"),
]
