"""Admin: an organisation's webhook endpoints and their delivery log.

- Endpoints: member staff register, change and disable their organisation's receivers (the same
  services as the API); the signing secret is shown once, in the message after registering, never
  on the endpoint's page (as the API shows it only on creation and rotation).
- Deliveries: read-only, scoped to the organisation's endpoints, with the attempt log inline and a
  "Replay" button (actions.py) that sends the event again with the same webhook-id.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech import access
from fintech.models import User, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from fintech.services import webhooks as services
from fintech.services.events import CATALOGUE

from .actions import ActionsMixin, AdminAction, Buttons
from .display import name_column
from .scoping import ReviewAdmin, ReviewInline, ScopedAdmin


class EndpointForm(forms.ModelForm):  # type: ignore[type-arg]
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    event_types = forms.MultipleChoiceField(
        label=_("event types"),
        choices=[(name, name) for name in CATALOGUE],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every type."),
    )

    class Meta:
        model = WebhookEndpoint
        fields = ["url", "description", "event_types", "status"]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedAdmin):
    form = EndpointForm
    # The organisation by name in the user's language (a 1,366 px screen).
    list_display = ["id", "url", "organization_name", "status", "failing_since", "created_at"]
    list_select_related = ["organization"]
    list_filter = ["status"]
    readonly_fields = ["organization", "failing_since", "disabled_reason", "created_at"]  # never the secret

    organization_name = name_column("organization", _("organisation"))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return access.may_review(request.user) and getattr(request.user, "organization_id", None) is not None

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may_view(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.may_view(request)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["url", "description", "event_types"]
        return ["url", "description", "event_types", "status", *self.readonly_fields]

    def save_model(self, request: HttpRequest, obj: WebhookEndpoint, form: Any, change: bool) -> None:
        # The services check and audit; the form only collects the fields.
        actor: User = request.user  # type: ignore[assignment]
        data = form.cleaned_data
        if change:
            saved = services.endpoint_update(
                actor=actor, endpoint_id=obj.pk, changes={k: data[k] for k in form.changed_data if k in data}
            )
        else:
            saved = services.endpoint_create(
                actor=actor, url=data["url"], event_types=data["event_types"], description=data["description"]
            )
            self.message_user(
                request,
                gettext("The endpoint's signing secret, shown this once (keep it): %(secret)s")
                % {"secret": saved.secret},
                messages.WARNING,
            )
        obj.pk = saved.pk

    def delete_model(self, request: HttpRequest, obj: WebhookEndpoint) -> None:
        services.endpoint_delete(actor=request.user, endpoint_id=obj.pk)  # type: ignore[arg-type]


class AttemptInline(ReviewInline):
    model = WebhookAttempt
    fields = ["number", "at", "response_code", "duration_ms", "error"]

    def get_queryset(self, request: HttpRequest) -> Any:
        # Scoped through the delivery of the page (itself scoped).
        return WebhookAttempt.objects.all()


class ReplayForm(forms.Form):
    """Nothing to enter: the button confirms."""


def _replay(actor: User, delivery: WebhookDelivery, data: dict[str, Any]) -> str:
    services.delivery_replay(actor=actor, delivery_id=delivery.pk)
    return gettext("Delivery %(id)s queued again.") % {"id": delivery.pk}


DELIVERY_ACTIONS = Buttons(
    record=(
        AdminAction(
            key="replay",
            label=_("Replay the delivery"),
            form_class=ReplayForm,
            may=lambda user, delivery: access.may_review(user),
            run=_replay,
        ),
    )
)


DELIVERY_FIELDS = (
    "endpoint",
    "event",
    "status",
    "attempts",
    "next_attempt_at",
    "last_attempt_at",
    "last_response_code",
    "delivered_at",
)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ActionsMixin, ReviewAdmin):
    admin_actions = DELIVERY_ACTIONS
    action_name = "webhook_action"
    list_display = ["id", "endpoint", "event", "status", "attempts", "last_response_code", "next_attempt_at"]
    list_filter = ["status"]
    fields = DELIVERY_FIELDS
    readonly_fields = DELIVERY_FIELDS
    inlines = [AttemptInline]
