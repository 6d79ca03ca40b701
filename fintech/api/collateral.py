"""API: collateral watch. Annual fees and their payments, legal-status event files, a loan's
coverage, the watch findings, their cure steps and the notifications (DOMAIN.md section 10a)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, cast

import django_filters
from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.access import (
    findings_visible_to,
    notifications_visible_to,
    patent_event_files_visible_to,
    patents_visible_to,
    programs_served_for,
    require_role,
)
from fintech.errors import InvalidInput, NotFound
from fintech.models import (
    CureKind,
    Finding,
    FindingKind,
    FindingStatus,
    OrganizationKind,
    PatentEventFile,
    Program,
    Recast,
    Severity,
)
from fintech.money import format_money
from fintech.selectors.collateral import (
    findings_counts,
    findings_queue,
    loan_cover,
    patent_fee_lines,
    program_totals,
)
from fintech.selectors.loans import loan_for
from fintech.services import collateral as services
from fintech.services.common import business_today

from .fields import MoneyField
from .idempotency import idempotent
from .permissions import request_user

K = OrganizationKind
_SIX = Decimal("0.000001")
AS_OF = OpenApiParameter("as_of", OpenApiTypes.DATE, description="Business date (default today).")


def _as_of(request: Request) -> date:
    raw = request.query_params.get("as_of")
    if not raw:
        return business_today()
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput.on("as_of", _("A date YYYY-MM-DD.")) from exc


# --- annual fees ---------------------------------------------------------------------------------

FeeLineOut = inline_serializer(
    "FeeLineOut",
    {
        "fee_year": serializers.IntegerField(),
        "due_on": serializers.DateField(),
        "amount": serializers.CharField(),
        "grace_ends_on": serializers.DateField(),
        "surcharge": serializers.CharField(),
        "paid_amount": serializers.CharField(allow_null=True),
        "paid_on": serializers.DateField(allow_null=True),
        "status": serializers.ChoiceField(choices=["due", "paid", "in_grace", "lapsed"]),
    },
    many=True,
)


class PatentFeesApi(APIView):
    @extend_schema(
        parameters=[AS_OF],
        responses={200: FeeLineOut},
        description="The patent's annual fees from its grant's fee year to the end of its term.",
    )
    def get(self, request: Request, pk: int) -> Response:
        patent = patents_visible_to(request_user(request)).filter(pk=pk).first()
        if patent is None:
            raise NotFound(_("Patent not found."))
        return Response(
            [
                {
                    "fee_year": x.fee_year,
                    "due_on": x.due_on.isoformat(),
                    "amount": format_money(x.amount),
                    "grace_ends_on": x.grace_ends_on.isoformat(),
                    "surcharge": format_money(x.surcharge),
                    "paid_amount": format_money(x.paid_amount) if x.paid_amount is not None else None,
                    "paid_on": x.paid_on.isoformat() if x.paid_on else None,
                    "status": x.status,
                }
                for x in patent_fee_lines(patent, _as_of(request))
            ]
        )


class FeePaymentInSerializer(serializers.Serializer):
    fee_year = serializers.IntegerField(min_value=1, max_value=30)
    amount = MoneyField()
    paid_on = serializers.DateField()


class PatentFeePaymentApi(APIView):
    @extend_schema(
        request=FeePaymentInSerializer,
        responses={
            201: inline_serializer(
                "FeePaymentOut",
                {
                    "id": serializers.IntegerField(),
                    "patent": serializers.IntegerField(),
                    "fee_year": serializers.IntegerField(),
                    "amount": serializers.CharField(),
                    "paid_on": serializers.DateField(),
                },
            )
        },
        description="The patent's SME records an annual fee paid (fee plus the late surcharge, if any).",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        caller = request_user(request)
        require_role(caller, K.SME)
        if not patents_visible_to(caller).filter(pk=pk).exists():
            raise NotFound(_("Patent not found."))
        data = FeePaymentInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        payment = services.fee_payment_record(actor=caller, patent_id=pk, **data.validated_data)
        return Response(
            {
                "id": payment.pk,
                "patent": pk,
                "fee_year": payment.fee_year,
                "amount": format_money(payment.amount),
                "paid_on": payment.paid_on.isoformat(),
            },
            status=status.HTTP_201_CREATED,
        )


# --- legal-status event files ---------------------------------------------------------------------

EventFileOut = inline_serializer(
    "PatentEventFileOut",
    {
        "id": serializers.IntegerField(),
        "filename": serializers.CharField(),
        "status": serializers.CharField(help_text="pending, processing, done or failed"),
        "lines_total": serializers.IntegerField(),
        "lines_applied": serializers.IntegerField(),
        "lines_skipped": serializers.IntegerField(help_text="Lines whose event was already recorded."),
        "lines_rejected": serializers.IntegerField(),
        "errors": inline_serializer(
            "PatentEventFileError",
            {"line": serializers.IntegerField(), "reason": serializers.CharField()},
            many=True,
        ),
    },
)


def event_file_out(file: PatentEventFile) -> dict[str, Any]:
    return {
        "id": file.pk,
        "filename": file.filename,
        "status": file.status,
        "lines_total": file.lines_total,
        "lines_applied": file.lines_applied,
        "lines_skipped": file.lines_skipped,
        "lines_rejected": file.lines_rejected,
        "errors": file.errors,
    }


class EventFileInSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="CSV, UTF-8, header `patent_number,event_date,event_code,description`."
    )


class PatentEventFileCreateApi(generics.GenericAPIView):
    parser_classes = [MultiPartParser]
    queryset = PatentEventFile.objects.none()

    @extend_schema(
        request={"multipart/form-data": EventFileInSerializer},
        responses={202: EventFileOut},
        description="Upload legal-status events and fee payments (platform or bank); processed by "
        "a worker, one transaction per line; a line already applied is skipped.",
    )
    @idempotent
    def post(self, request: Request) -> Response:
        caller = request_user(request)
        data = EventFileInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        upload = cast(UploadedFile, data.validated_data["file"])
        file = services.patent_event_file_upload(
            actor=caller, filename=upload.name or "", content=upload.read()
        )
        file = patent_event_files_visible_to(caller).get(pk=file.pk)
        return Response(event_file_out(file), status=status.HTTP_202_ACCEPTED)


class PatentEventFileDetailApi(APIView):
    @extend_schema(responses={200: EventFileOut})
    def get(self, request: Request, pk: int) -> Response:
        file = patent_event_files_visible_to(request_user(request)).filter(pk=pk).first()
        if file is None:
            raise NotFound(_("Patent event file not found."))
        return Response(event_file_out(file))


# --- coverage ------------------------------------------------------------------------------------

CollateralOut = inline_serializer(
    "LoanCollateralOut",
    {
        "collateral_value": serializers.CharField(),
        "outstanding_principal": serializers.CharField(),
        "coverage": serializers.CharField(allow_null=True),
        "level": serializers.ChoiceField(choices=["ok", "warning", "shortfall"]),
        "patents": inline_serializer(
            "CollateralPatentOut",
            {
                "patent": serializers.IntegerField(),
                "application_number": serializers.CharField(),
                "state": serializers.CharField(),
                "appraised_value": serializers.CharField(),
                "haircut": serializers.CharField(),
                "term_factor": serializers.CharField(),
                "value": serializers.CharField(),
            },
            many=True,
        ),
    },
)


class LoanCollateralApi(APIView):
    @extend_schema(
        parameters=[AS_OF],
        responses={200: CollateralOut},
        description="Collateral value and coverage of the loan on a date (DOMAIN rules in docs/rules.md).",
    )
    def get(self, request: Request, pk: int) -> Response:
        loan = loan_for(request_user(request), pk, K.SME, K.BANK, K.INSURER, K.REGULATOR)
        cover = loan_cover(loan, _as_of(request))
        return Response(
            {
                "collateral_value": format_money(cover.collateral_value),
                "outstanding_principal": format_money(cover.outstanding_principal),
                "coverage": str(cover.coverage) if cover.coverage is not None else None,
                "level": cover.level,
                "patents": [
                    {
                        "patent": p.patent,
                        "application_number": p.application_number,
                        "state": p.state,
                        "appraised_value": format_money(p.appraised_value),
                        "haircut": str(p.haircut.normalize()),
                        "term_factor": str(p.term_factor.quantize(_SIX)),
                        "value": format_money(p.value),
                    }
                    for p in cover.patents
                ],
            }
        )


# --- findings ------------------------------------------------------------------------------------


def finding_out(f: Finding) -> dict[str, Any]:
    return {
        "id": f.pk,
        "loan": f.loan_id,
        "patent": f.patent_id,
        "kind": f.kind,
        "label": str(f.get_kind_display()),
        "severity": f.severity,
        "status": f.status,
        "first_seen_on": f.first_seen_on.isoformat(),
        "last_seen_on": f.last_seen_on.isoformat(),
        "resolved_on": f.resolved_on.isoformat() if f.resolved_on else None,
        "amount": format_money(f.amount) if f.amount is not None else None,
        "deadline_on": f.deadline_on.isoformat() if f.deadline_on else None,
        "detail": f.detail,
    }


FindingOut = inline_serializer(
    "FindingOut",
    {
        "id": serializers.IntegerField(),
        "loan": serializers.IntegerField(),
        "patent": serializers.IntegerField(allow_null=True),
        "kind": serializers.CharField(),
        "label": serializers.CharField(),
        "severity": serializers.ChoiceField(choices=Severity.values),
        "status": serializers.ChoiceField(choices=FindingStatus.values),
        "first_seen_on": serializers.DateField(),
        "last_seen_on": serializers.DateField(),
        "resolved_on": serializers.DateField(allow_null=True),
        "amount": serializers.CharField(allow_null=True),
        "deadline_on": serializers.DateField(allow_null=True),
        "detail": serializers.JSONField(),
    },
)


@extend_schema_field(OpenApiTypes.INT)
class IdFilter(django_filters.NumberFilter):
    """A record id: whole numbers only (NumberFilter's decimal field reads ?loan=1.5 or 1e0 as 1)."""

    field_class = forms.IntegerField


class FindingFilter(django_filters.FilterSet):
    """The queue's filters (API.md: `?severity=&status=&loan=`; `kind` and `patent` as well). A bad
    value is a 400 naming the filter, in the one error shape."""

    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    status = django_filters.ChoiceFilter(choices=FindingStatus.choices)
    loan = IdFilter(field_name="loan_id")
    patent = IdFilter(field_name="patent_id")
    kind = django_filters.ChoiceFilter(choices=FindingKind.choices)

    class Meta:
        model = Finding
        fields = ["severity", "status", "loan", "patent", "kind"]


class FindingQueueMixin:
    """The caller's findings (access.findings_visible_to), filtered by FindingFilter."""

    filterset_class = FindingFilter

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):  # the OpenAPI schema is built without a user
            return Finding.objects.none()
        return findings_visible_to(request_user(self.request))  # type: ignore[attr-defined]


class FindingListApi(FindingQueueMixin, generics.GenericAPIView):
    @extend_schema(
        responses={200: type(FindingOut)(many=True)},
        operation_id="findings_list",
        description="The caller's loans' findings, open before resolved, then critical, warning, info, "
        "the latest seen first; paginated `{count, next, previous, results}`.",
    )
    def get(self, request: Request) -> Response:
        qs = findings_queue(self.filter_queryset(self.get_queryset()))
        page = self.paginate_queryset(qs)
        rows = page if page is not None else list(qs)
        return self.get_paginated_response([finding_out(f) for f in rows])


SEVERITY_COUNTS: dict[str, serializers.Field] = {str(s): serializers.IntegerField() for s in Severity.values}


class FindingCountsApi(FindingQueueMixin, generics.GenericAPIView):
    pagination_class = None

    @extend_schema(
        filters=True,
        responses={200: inline_serializer("FindingCounts", SEVERITY_COUNTS)},
        description="The findings of the queue by severity (same filters): the open ones, or those of "
        "`status` when it is given.",
    )
    def get(self, request: Request) -> Response:
        qs = self.filter_queryset(self.get_queryset())
        return Response(findings_counts(qs, status=request.query_params.get("status") or None))


class FindingTotalsApi(generics.GenericAPIView):
    queryset = Program.objects.none()
    filter_backends: list[Any] = []

    @extend_schema(
        responses={
            200: inline_serializer(
                "FindingProgramTotal",
                {
                    "program": serializers.IntegerField(),
                    "program_code": serializers.CharField(),
                    "program_name": serializers.CharField(),
                    **SEVERITY_COUNTS,
                    "findings": serializers.IntegerField(help_text="Open findings."),
                    "loans": serializers.IntegerField(help_text="Loans with an open finding."),
                    "resolved": serializers.IntegerField(help_text="Findings resolved."),
                },
                many=True,
            )
        },
        description="Per programme serving the caller's region (platform: every programme), paginated: "
        "its open findings by severity, all open findings, the loans they touch and the findings "
        "resolved, over the loans of the region's SMEs.",
    )
    def get(self, request: Request) -> Response:
        caller = request_user(request)
        require_role(caller, K.REGULATOR)
        programs = self.paginate_queryset(programs_served_for(caller).order_by("pk"))
        assert programs is not None
        totals = program_totals(findings_visible_to(caller), [p.pk for p in programs])
        return self.get_paginated_response(
            [
                {"program": p.pk, "program_code": p.code, "program_name": p.name, **totals[p.pk]}
                for p in programs
            ]
        )


class FindingActionInSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=[CureKind.NOTE, CureKind.REVALUATION, CureKind.ADDED_PATENT, CureKind.PREPAYMENT]
    )
    note = serializers.CharField(max_length=2000, required=False, default="", allow_blank=True)
    patent = serializers.IntegerField(required=False, min_value=1, help_text="added_patent: the patent.")
    value = MoneyField(required=False, help_text="added_patent: its appraised value.")
    valued_on = serializers.DateField(required=False, help_text="added_patent: the valuation date.")
    amount = MoneyField(required=False, help_text="prepayment: the principal prepaid.")
    value_date = serializers.DateField(required=False, help_text="prepayment: its value date.")
    recast = serializers.ChoiceField(
        choices=Recast.values,
        required=False,
        default=Recast.KEEP_TERM,
        help_text="prepayment: keep_term (lower installments) or shorten_term.",
    )

    # the fields each kind needs besides `kind`
    NEEDS = {
        CureKind.NOTE: (),
        CureKind.REVALUATION: (),
        CureKind.ADDED_PATENT: ("patent", "value", "valued_on"),
        CureKind.PREPAYMENT: ("amount", "value_date"),
    }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        missing = [f for f in self.NEEDS[CureKind(attrs["kind"])] if attrs.get(f) is None]
        if missing:
            raise serializers.ValidationError({f: [_("This field is required.")] for f in missing})
        return attrs


class FindingActionApi(APIView):
    @extend_schema(
        request=FindingActionInSerializer,
        responses={
            201: inline_serializer(
                "FindingActionOut",
                {
                    "finding": serializers.IntegerField(),
                    "kind": serializers.CharField(),
                    "revaluation": serializers.IntegerField(allow_null=True),
                    "prepayment": serializers.IntegerField(allow_null=True),
                    "schedule_version": serializers.IntegerField(allow_null=True),
                },
            )
        },
        description="A cure step on a finding (the loan's bank or insurer): a note, a revaluation request "
        "to the appraisal firm, or (bank) a further patent pledged with its appraised value, or (bank) a "
        "partial prepayment of principal (the loan's prepayment rules; the schedule is rebuilt).",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        caller = request_user(request)
        require_role(caller, K.BANK, K.INSURER)
        data = FindingActionInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        revaluation = prepayment = None
        if v["kind"] == CureKind.NOTE:
            services.finding_note(actor=caller, finding_id=pk, note=v["note"])
        elif v["kind"] == CureKind.REVALUATION:
            revaluation = services.finding_revaluation_request(actor=caller, finding_id=pk, note=v["note"]).pk
        elif v["kind"] == CureKind.ADDED_PATENT:
            services.finding_patent_add(
                actor=caller,
                finding_id=pk,
                patent_id=v["patent"],
                value=v["value"],
                valued_on=v["valued_on"],
                note=v["note"],
            )
        else:
            prepayment = services.finding_prepay_partial(
                actor=caller,
                finding_id=pk,
                amount=v["amount"],
                value_date=v["value_date"],
                recast=v["recast"],
                note=v["note"],
            ).prepayment
        return Response(
            {
                "finding": pk,
                "kind": v["kind"],
                "revaluation": revaluation,
                "prepayment": prepayment.pk if prepayment else None,
                "schedule_version": prepayment.schedule_version if prepayment else None,
            },
            status=status.HTTP_201_CREATED,
        )


class NotificationListApi(generics.GenericAPIView):
    queryset = Finding.objects.none()

    @extend_schema(
        operation_id="notifications_list",
        responses={
            200: inline_serializer(
                "NotificationOut",
                {
                    "id": serializers.IntegerField(),
                    "event": serializers.CharField(),
                    "finding": FindingOut,
                    "created_at": serializers.DateTimeField(),
                },
                many=True,
            )
        },
        description="Notifications to the caller's organisation, newest first (paginated).",
    )
    def get(self, request: Request) -> Response:
        qs = notifications_visible_to(request_user(request)).order_by("-id")
        page = self.paginate_queryset(qs)
        rows = page if page is not None else list(qs)
        return self.get_paginated_response(
            [
                {
                    "id": n.pk,
                    "event": n.event,
                    "finding": finding_out(n.finding),
                    "created_at": serializers.DateTimeField().to_representation(n.created_at),
                }
                for n in rows
            ]
        )


class RevaluationValueIn(serializers.Serializer):
    patent = serializers.IntegerField(min_value=1)
    value = MoneyField()


class RevaluationReportInSerializer(serializers.Serializer):
    valuation_date = serializers.DateField()
    values = RevaluationValueIn(many=True)


class RevaluationReportApi(APIView):
    @extend_schema(
        request=RevaluationReportInSerializer,
        responses={
            200: inline_serializer(
                "RevaluationOut",
                {
                    "id": serializers.IntegerField(),
                    "status": serializers.CharField(),
                    "valid_until": serializers.DateField(),
                },
            )
        },
        description="The appraisal firm reports the new values of the loan's pledged patents.",
    )
    @idempotent
    def post(self, request: Request, pk: int) -> Response:
        caller = request_user(request)
        require_role(caller, K.APPRAISER)
        data = RevaluationReportInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = {row["patent"]: row["value"] for row in data.validated_data["values"]}
        r = services.revaluation_report(
            actor=caller,
            revaluation_id=pk,
            valuation_date=data.validated_data["valuation_date"],
            values=values,
        )
        return Response(
            {
                "id": r.pk,
                "status": r.status,
                "valid_until": r.valid_until.isoformat() if r.valid_until else None,
            }
        )


urlpatterns: list[URLPattern] = [
    path("patents/<int:pk>/fees/", PatentFeesApi.as_view(), name="patent-fees"),
    path("patents/<int:pk>/fee-payments/", PatentFeePaymentApi.as_view(), name="patent-fee-payments"),
    path("patent-events/", PatentEventFileCreateApi.as_view(), name="patent-event-files"),
    path("patent-events/<int:pk>/", PatentEventFileDetailApi.as_view(), name="patent-event-file-detail"),
    path("loans/<int:pk>/collateral/", LoanCollateralApi.as_view(), name="loan-collateral"),
    path("findings/", FindingListApi.as_view(), name="finding-list"),
    path("findings/counts/", FindingCountsApi.as_view(), name="finding-counts"),
    path("findings/totals/", FindingTotalsApi.as_view(), name="finding-totals"),
    path("findings/<int:pk>/actions/", FindingActionApi.as_view(), name="finding-actions"),
    path("notifications/", NotificationListApi.as_view(), name="notification-list"),
    path("revaluations/<int:pk>/report/", RevaluationReportApi.as_view(), name="revaluation-report"),
]
