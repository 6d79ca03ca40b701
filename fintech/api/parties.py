"""Parties: registration, tokens, /me/, the organisation directory and programmes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.conf import settings
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, ScopedRateThrottle, SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from config.middleware import account_locked_body
from fintech.models import Organization, OrganizationKind, Program, Region, User
from fintech.rules.sme_size import INDUSTRY_CHOICES
from fintech.selectors.parties import organization_directory, program_list, program_region_codes
from fintech.services.parties import sme_register

from .fields import MoneyField, RateField
from .rows import Computed, Context, FlatListMixin, FlatRows, Row


class AuthRateThrottle(ScopedRateThrottle):
    """The "auth" rate (AUTH_THROTTLE_RATE) per client address, as the settings say when the request comes.

    DRF binds SimpleRateThrottle.THROTTLE_RATES to the rates dict at import, so a later change
    of settings.REST_FRAMEWORK (a deployment's reload, a test's override) would be ignored.
    """

    def get_rate(self) -> str | None:
        self.THROTTLE_RATES = cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
        return super().get_rate()

    def get_ident(self, request: Request) -> str:
        # Without NUM_PROXIES, DRF keys on X-Forwarded-For as the client wrote it, so a client
        # that sends a new value each time is never throttled (password guessing, mass sign-ups).
        # Trust the header only when the deployment says how many proxies append to it.
        if api_settings.NUM_PROXIES is None:
            return str(request.META.get("REMOTE_ADDR", ""))
        return super().get_ident(request)


class AuthThrottled:
    throttle_classes: Sequence[type[BaseThrottle]] = [AuthRateThrottle]
    throttle_scope = "auth"


class FailedSignInThrottle(AuthRateThrottle):
    """The "auth" rate counted in failed sign-ins per client address.

    A successful sign-in does not use up the allowance, so colleagues behind one address are not
    throttled by each other. Once an address is throttled, every sign-in from it is refused, the
    right password included: otherwise the guess that happens to be right would be the one let
    through, and the throttle would slow nothing. The per-account lockout (django-axes) is separate.
    """

    def throttle_success(self) -> bool:
        return True  # counted by record_failure, not here

    def record_failure(self, request: Request, view: Any) -> None:
        self.scope = getattr(view, self.scope_attr)
        self.rate = self.get_rate()
        if self.rate is None:
            return
        self.num_requests, duration = self.parse_rate(self.rate)
        self.key = self.get_cache_key(request, view)
        if self.key is None or duration is None:
            return
        self.history = [t for t in self.cache.get(self.key, []) if t > self.timer() - duration]
        self.history.insert(0, self.timer())
        self.cache.set(self.key, self.history, duration)


class AccountLocked(exceptions.Throttled):
    """423 Locked (API.md "Auth"), with Retry-After: the cool-off of the lock."""

    status_code = status.HTTP_423_LOCKED
    default_code = "account_locked"

    def __init__(self) -> None:
        wait = settings.AXES_COOLOFF_TIME.total_seconds()
        super().__init__(wait=wait, detail=account_locked_body()["message"], code="account_locked")


class TokenApi(TokenObtainPairView):
    throttle_classes: Sequence[type[BaseThrottle]] = [FailedSignInThrottle]
    throttle_scope = "auth"

    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:
            FailedSignInThrottle().record_failure(request, self)
            if getattr(request, "axes_locked_out", False):  # set by django-axes' backend
                raise AccountLocked() from None
            raise


class RefreshRateThrottle(AuthRateThrottle):
    """Refreshing needs a signed refresh token, which cannot be guessed: its own, wider rate
    (REFRESH_THROTTLE_RATE), so a client throttled for sign-ins keeps its session."""

    scope_attr = "throttle_scope"

    def get_rate(self) -> str | None:
        rates = cast("dict[str, str | None]", api_settings.DEFAULT_THROTTLE_RATES)
        self.THROTTLE_RATES = {**rates, "refresh": rates.get("refresh", "120/min")}
        return SimpleRateThrottle.get_rate(self)


class TokenRefreshApi(TokenRefreshView):
    throttle_classes: Sequence[type[BaseThrottle]] = [RefreshRateThrottle]
    throttle_scope = "refresh"


class EnterpriseInSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    uscc = serializers.CharField(max_length=40)
    region_code = serializers.CharField(max_length=6)
    industry = serializers.ChoiceField(choices=INDUSTRY_CHOICES)
    employees = serializers.IntegerField(min_value=0, max_value=10_000_000)
    annual_revenue = MoneyField()
    total_assets = MoneyField()


class RegisterInSerializer(serializers.Serializer):
    username = serializers.RegexField(r"^[\w.@+-]+\Z", max_length=150)
    password = serializers.CharField(max_length=128, write_only=True)
    enterprise = EnterpriseInSerializer()


class OrganizationOutSerializer(serializers.ModelSerializer):
    region_code = serializers.CharField(source="region_id")

    class Meta:
        model = Organization
        fields = ["id", "name", "kind", "uscc", "region_code", "external_id"]


class RegisterApi(AuthThrottled, APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=RegisterInSerializer,
        responses={
            201: inline_serializer(
                "Registered",
                {
                    "id": serializers.IntegerField(),
                    "username": serializers.CharField(),
                    "organization": OrganizationOutSerializer(),
                },
            )
        },
    )
    def post(self, request: Request) -> Response:
        data = RegisterInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        user = sme_register(username=v["username"], password=v["password"], **v["enterprise"])
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "organization": OrganizationOutSerializer(user.organization).data,
            },
            status=status.HTTP_201_CREATED,
        )


class MeOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    username = serializers.CharField()
    role = serializers.CharField()
    organization = OrganizationOutSerializer(allow_null=True)


class MeApi(APIView):
    @extend_schema(responses=MeOutSerializer)
    def get(self, request: Request) -> Response:
        user = cast(User, request.user)  # IsAuthenticated: never anonymous here
        return Response(
            MeOutSerializer(
                {
                    "id": user.pk,
                    "username": user.username,
                    "role": user.role,
                    "organization": user.organization,
                }
            ).data
        )


class OrganizationListApi(FlatListMixin, generics.ListAPIView):
    serializer_class = OrganizationOutSerializer
    rows = FlatRows(OrganizationOutSerializer)

    class Filter(serializers.Serializer):
        kind = serializers.ChoiceField(
            choices=[OrganizationKind.BANK, OrganizationKind.INSURER, OrganizationKind.APPRAISER],
            required=False,
        )

    def get_queryset(self) -> Any:
        f = self.Filter(data=self.request.query_params)
        f.is_valid(raise_exception=True)
        return organization_directory(kind=f.validated_data.get("kind"))


class ProgramOutSerializer(serializers.ModelSerializer):
    insurer_share = RateField()
    government_share = RateField()
    bank_share = RateField()
    interest_subsidy_rate = RateField()
    premium_subsidy_rate = RateField()
    premium_rate_min = RateField()
    premium_rate_max = RateField()
    pledge_rate_a = RateField()
    pledge_rate_b = RateField()
    pledge_rate_c = RateField()
    loan_cap = MoneyField()
    annual_subsidy_cap = MoneyField()
    loss_threshold_amount = MoneyField(allow_null=True)
    regions: serializers.SlugRelatedField[Region] = serializers.SlugRelatedField(
        many=True, read_only=True, slug_field="code"
    )

    class Meta:
        model = Program
        fields = [
            "id",
            "code",
            "name",
            "is_active",
            "regions",
            "insurer_share",
            "government_share",
            "bank_share",
            "loss_threshold_amount",
            "interest_subsidy_rate",
            "premium_subsidy_rate",
            "subsidy_period",
            "benchmark_mode",
            "forfeit_after_late",
            "annual_subsidy_cap",
            "loan_cap",
            "min_term_months",
            "max_term_months",
            "premium_rate_min",
            "premium_rate_max",
            "min_remaining_patent_months",
            "valuation_validity_months",
            "pledge_rate_a",
            "pledge_rate_b",
            "pledge_rate_c",
            "grace_days",
            "default_days_past_due",
        ]


class ProgramListApi(FlatListMixin, generics.ListAPIView):
    serializer_class = ProgramOutSerializer
    rows = FlatRows(
        ProgramOutSerializer,
        computed={"regions": Computed(("id",), lambda row, context: context["regions"].get(row["id"], []))},
    )

    def page_context(self, rows: list[Row], request: Request) -> Context:
        return {"regions": program_region_codes([row["id"] for row in rows])}

    def get_queryset(self) -> Any:
        return program_list()


class ProgramDetailApi(generics.RetrieveAPIView):
    serializer_class = ProgramOutSerializer

    def get_queryset(self) -> Any:
        return program_list()
