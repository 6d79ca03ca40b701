"""Notify a party's users when an application reaches its queue: queued after commit, sent by a
Celery task through Django's mail backend (console by default)."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mass_mail

from fintech.models import Application, Organization, User

from .enqueue import enqueue_on_commit

QUEUE_MESSAGES = {
    "valuation": "Application #{id} of {sme} awaits your valuation report.",
    "underwriting": "Application #{id} of {sme} awaits your underwriting (valuation reported).",
    "bank_review": "Application #{id} of {sme} awaits your review (policy issued).",
    "declined": "Application #{id} was declined: {reason}",
}


def notify_on_commit(application: Application, organization: Organization, what: str) -> None:
    """Queue the notification once the current transaction commits (never for rolled-back work)."""
    enqueue_on_commit("notify_organization", application.pk, organization.pk, what)


def notification_send(*, application_id: int, organization_id: int, what: str) -> int:
    """Email every active user of the organisation who has an address; returns how many."""
    app = Application.objects.select_related("sme").get(pk=application_id)
    recipients = list(
        User.objects.filter(organization_id=organization_id, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    if not recipients:
        return 0
    text = QUEUE_MESSAGES[what].format(id=app.pk, sme=app.sme.name, reason=app.decline_reason)
    subject = f"[Patent pledge] Application #{app.pk}: {what.replace('_', ' ')}"
    return send_mass_mail([(subject, text, settings.DEFAULT_FROM_EMAIL, [r]) for r in recipients])
