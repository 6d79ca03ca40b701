"""The transactional outbox and the webhooks that carry it to the parties' core systems.

An `Event` is written by services.events in the same transaction as the audit row of the change it
announces; `EventRecipient` names the organisations entitled to it (decided by access.py when it is
written); `EventStream` numbers the events of one aggregate (a financing: the application and all
that hangs on it) so that they are delivered in order. A `WebhookEndpoint` is an organisation's
receiver; a `WebhookDelivery` is one event owed to one endpoint, with its `WebhookAttempt` log.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Event(models.Model):
    type = models.CharField(_("type"), max_length=48, db_index=True)
    type_version = models.PositiveSmallIntegerField(_("schema version"), default=1)
    aggregate_type = models.CharField(_("aggregate type"), max_length=32)
    aggregate_id = models.BigIntegerField(_("aggregate id"))
    aggregate_version = models.PositiveIntegerField(_("aggregate version"))
    subject_type = models.CharField(_("subject type"), max_length=32)
    subject_id = models.BigIntegerField(_("subject id"))
    data = models.JSONField(_("data"), default=dict)
    occurred_at = models.DateTimeField(_("occurred at"), db_index=True)
    # PostgreSQL: the writing transaction's id. The feed lists (txid, id) in order and only below
    # the oldest transaction still open, so an event committed late is never skipped by a reader
    # already past its id. SQLite (one writer at a time): 0.
    txid = models.BigIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["txid", "id"], name="event_feed_idx")]
        verbose_name = _("event")
        verbose_name_plural = _("events")
        constraints = [
            models.UniqueConstraint(
                fields=["aggregate_type", "aggregate_id", "aggregate_version"],
                name="event_aggregate_version_uniq",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk} ({self.aggregate_type} {self.aggregate_id} v{self.aggregate_version})"


class EventRecipient(models.Model):
    """An organisation entitled to an event (the feed and the webhooks read only through this)."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="recipients")
    organization = models.ForeignKey("fintech.Organization", on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "event"], name="event_recipient_uniq")]

    def __str__(self) -> str:
        return f"event {self.event_id} -> organisation {self.organization_id}"


class EventStream(models.Model):
    """The last version given out for one aggregate; its row lock orders concurrent writers."""

    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.BigIntegerField()
    version = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["aggregate_type", "aggregate_id"], name="event_stream_uniq")
        ]

    def __str__(self) -> str:
        return f"{self.aggregate_type} {self.aggregate_id} v{self.version}"


class EndpointStatus(models.TextChoices):
    ACTIVE = "active", _("active")
    DISABLED = "disabled", _("disabled")


class WebhookEndpoint(models.Model):
    organization = models.ForeignKey(
        "fintech.Organization",
        on_delete=models.PROTECT,
        related_name="webhook_endpoints",
        verbose_name=_("organisation"),
    )
    url = models.URLField(_("URL"), max_length=500)
    description = models.CharField(_("description"), max_length=200, blank=True, default="")
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=12, choices=EndpointStatus.choices, default=EndpointStatus.ACTIVE
    )
    secret = models.CharField(_("secret"), max_length=80)
    # The secret before the last rotation: signed with too until `previous_secret_until`.
    previous_secret = models.CharField(max_length=80, blank=True, default="")
    previous_secret_until = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(_("failing since"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=200, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")

    def __str__(self) -> str:
        return self.url


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("pending")
    DELIVERED = "delivered", _("delivered")
    DEAD = "dead", _("dead-lettered")


class WebhookDelivery(models.Model):
    """One event owed to one endpoint. The aggregate fields are copied from the event: the relay
    delivers a delivery only when none of a lower version of its aggregate is pending for the endpoint."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    aggregate_type = models.CharField(max_length=32)
    aggregate_id = models.BigIntegerField()
    aggregate_version = models.PositiveIntegerField()
    status = models.CharField(
        _("status"), max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"))
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_response_code = models.PositiveSmallIntegerField(_("last response code"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [models.UniqueConstraint(fields=["endpoint", "event"], name="webhook_delivery_uniq")]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(status="pending"),
            ),
            models.Index(
                fields=["endpoint", "aggregate_type", "aggregate_id", "aggregate_version"],
                name="webhook_delivery_lane_idx",
                condition=models.Q(status="pending"),
            ),
        ]

    def __str__(self) -> str:
        return f"event {self.event_id} -> endpoint {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """The delivery log: one row per POST."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField(_("attempt"))
    at = models.DateTimeField(_("at"))
    response_code = models.PositiveSmallIntegerField(_("response code"), null=True, blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))
    error = models.CharField(_("error"), max_length=200, blank=True, default="")

    class Meta:
        ordering = ["id"]
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")

    def __str__(self) -> str:
        return f"delivery {self.delivery_id} attempt {self.number}: {self.response_code or self.error}"
