"""API: the event feed and webhook endpoints (docs/api.md "Events and webhooks").

- `GET /events/?after=<cursor>&type=&limit=` -> `{results, next_cursor}`: the caller's events in order.
- `POST /webhook-endpoints/` {url, event_types, description} -> 201 with the secret (shown here and on
  rotation only); `GET /webhook-endpoints/`, `GET/PATCH/DELETE /webhook-endpoints/{id}/`;
  `POST /webhook-endpoints/{id}/rotate-secret/` -> {secret};
  `GET /webhook-endpoints/{id}/deliveries/` (paginated, with the attempt log);
  `POST /webhook-deliveries/{id}/replay/` -> 202.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiWebhook, extend_schema, inline_serializer
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fintech.errors import InvalidInput, NotFound
from fintech.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from fintech.selectors import events as selectors
from fintech.services import webhooks as services
from fintech.services.events import CATALOGUE, data_schema, event_body

from .fields import MAX_ID
from .permissions import request_user

# --- the feed ------------------------------------------------------------------------------------


# The envelope of docs/events.md (built by services.events.event_body); here for the schema only.
EventSerializer = inline_serializer(
    "Event",
    {
        "id": serializers.IntegerField(),
        "type": serializers.ChoiceField(choices=sorted(CATALOGUE)),
        "version": serializers.IntegerField(),
        "occurred_at": serializers.DateTimeField(),
        "aggregate": inline_serializer(
            "EventAggregate",
            {
                "type": serializers.CharField(),
                "id": serializers.IntegerField(),
                "version": serializers.IntegerField(),
            },
        ),
        "data": serializers.JSONField(),
    },
    many=True,
)


class EventFeedApi(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("after", OpenApiTypes.STR, description="next_cursor of the previous page"),
            OpenApiParameter("type", OpenApiTypes.STR, many=True, description="event types (repeat)"),
            OpenApiParameter("limit", OpenApiTypes.INT, description="at most 200, default 50"),
        ],
        responses=inline_serializer(
            "EventFeed",
            {"results": EventSerializer, "next_cursor": serializers.CharField(allow_null=True)},
        ),
    )
    def get(self, request: Request) -> Response:
        types = request.query_params.getlist("type")
        unknown = sorted(set(types) - set(CATALOGUE))
        if unknown:
            raise InvalidInput.on(
                "type", _("Unknown event types: %(types)s.") % {"types": ", ".join(unknown)}
            )
        raw = request.query_params.get("limit") or "50"
        if not raw.isdigit() or not 1 <= int(raw) <= settings.EVENT_FEED_MAX_PAGE:
            raise InvalidInput.on(
                "limit",
                _("Give a limit from 1 to %(EVENT_FEED_MAX_PAGE)s.")
                % {"EVENT_FEED_MAX_PAGE": settings.EVENT_FEED_MAX_PAGE},
            )
        events, cursor = selectors.event_feed(
            request_user(request), after=request.query_params.get("after"), types=types, limit=int(raw)
        )
        return Response({"results": [event_body(e) for e in events], "next_cursor": cursor})


# --- endpoints -----------------------------------------------------------------------------------


class EndpointSerializer(serializers.ModelSerializer):
    event_types = serializers.ListField(child=serializers.CharField())

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "url",
            "description",
            "event_types",
            "status",
            "failing_since",
            "disabled_reason",
            "created_at",
        ]


class EndpointCreatedSerializer(EndpointSerializer):
    class Meta(EndpointSerializer.Meta):
        fields = [*EndpointSerializer.Meta.fields, "secret"]


class EndpointInSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=48), max_length=64, default=list
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class EndpointPatchSerializer(serializers.Serializer):
    url = serializers.CharField(max_length=500, required=False)
    event_types = serializers.ListField(
        child=serializers.CharField(max_length=48), max_length=64, required=False
    )
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    status = serializers.ChoiceField(choices=["active", "disabled"], required=False)


class EndpointListCreateApi(generics.ListAPIView):
    serializer_class = EndpointSerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return selectors.endpoints_of(request_user(self.request))

    @extend_schema(request=EndpointInSerializer, responses={201: EndpointCreatedSerializer})
    def post(self, request: Request) -> Response:
        data = EndpointInSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_create(actor=request_user(request), **data.validated_data)
        return Response(EndpointCreatedSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class EndpointDetailApi(APIView):
    @extend_schema(responses=EndpointSerializer)
    def get(self, request: Request, pk: int) -> Response:
        endpoint = selectors.endpoints_of(request_user(request)).filter(pk=pk).first()
        if endpoint is None:
            raise NotFound(_("Webhook endpoint not found."))
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(request=EndpointPatchSerializer, responses=EndpointSerializer)
    def patch(self, request: Request, pk: int) -> Response:
        data = EndpointPatchSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        endpoint = services.endpoint_update(
            actor=request_user(request), endpoint_id=pk, changes=data.validated_data
        )
        return Response(EndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.endpoint_delete(actor=request_user(request), endpoint_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class EndpointRotateSecretApi(APIView):
    @extend_schema(
        request=None, responses=inline_serializer("WebhookSecret", {"secret": serializers.CharField()})
    )
    def post(self, request: Request, pk: int) -> Response:
        endpoint = services.endpoint_rotate_secret(actor=request_user(request), endpoint_id=pk)
        return Response({"secret": endpoint.secret})


class AttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = WebhookAttempt
        fields = ["number", "at", "response_code", "duration_ms", "error"]


class DeliverySerializer(serializers.ModelSerializer):
    type = serializers.CharField(source="event.type")
    attempt_log = AttemptSerializer(many=True)

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "event",
            "type",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "last_response_code",
            "delivered_at",
            "attempt_log",
        ]


class EndpointDeliveriesApi(generics.ListAPIView):
    serializer_class = DeliverySerializer

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return WebhookDelivery.objects.none()
        return selectors.endpoint_deliveries(request_user(self.request), self.kwargs["pk"])


class DeliveryReplayApi(APIView):
    @extend_schema(request=None, responses={202: DeliverySerializer})
    def post(self, request: Request, pk: int) -> Response:
        if pk > MAX_ID:
            raise NotFound(_("Webhook delivery not found."))
        delivery = services.delivery_replay(actor=request_user(request), delivery_id=pk)
        delivery = (
            WebhookDelivery.objects.select_related("event")
            .prefetch_related("attempt_log")
            .get(pk=delivery.pk)
        )
        return Response(DeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


urlpatterns: list[URLPattern] = [
    path("events/", EventFeedApi.as_view(), name="event-feed"),
    path("webhook-endpoints/", EndpointListCreateApi.as_view(), name="webhook-endpoint-list"),
    path("webhook-endpoints/<int:pk>/", EndpointDetailApi.as_view(), name="webhook-endpoint-detail"),
    path(
        "webhook-endpoints/<int:pk>/rotate-secret/",
        EndpointRotateSecretApi.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<int:pk>/deliveries/",
        EndpointDeliveriesApi.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path("webhook-deliveries/<int:pk>/replay/", DeliveryReplayApi.as_view(), name="webhook-delivery-replay"),
]


def _webhook(name: str) -> OpenApiWebhook:
    """The POST a subscriber receives for one event type (docs/events.md)."""
    event_type = CATALOGUE[name]
    summary = event_type.summary + (" (reserved)" if event_type.reserved else "")
    return OpenApiWebhook(
        name=name,
        decorator={
            "post": {
                "summary": summary,
                "description": (
                    "Signed per Standard Webhooks: headers webhook-id (the event id, same on each retry), "
                    "webhook-timestamp, webhook-signature (v1,<base64 HMAC-SHA256>)."
                ),
                "requestBody": {"content": {"application/json": {"schema": data_schema(event_type)}}},
                "responses": {"2XX": {"description": "Received; any other answer is retried."}},
            }
        },
    )


# SPECTACULAR_SETTINGS["WEBHOOKS"] names this list: the OpenAPI `webhooks` section.
WEBHOOKS = [_webhook(name) for name in CATALOGUE]
