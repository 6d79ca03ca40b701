"""URLs, messages and "nothing changed" snapshots for the review-screen tests."""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages
from django.http import HttpResponse
from django.urls import reverse

from fintech.models import Application, AuditLog, Installment, Loan, Pledge, Policy, PremiumPayment


def changelist_url(model: str = "application") -> str:
    return reverse(f"admin:fintech_{model}_changelist")


def change_url(app_or_pk: Any, model: str = "application") -> str:
    return reverse(f"admin:fintech_{model}_change", args=[getattr(app_or_pk, "pk", app_or_pk)])


def action_url(app: Application, action: str) -> str:
    return reverse("admin:fintech_application_review", args=[app.pk, action])


def listed(response: HttpResponse) -> list[int]:
    """The primary keys on the changelist page, in display order."""
    return [obj.pk for obj in response.context["cl"].result_list]  # type: ignore[attr-defined]


def missing(pk: int) -> str:
    """Django admin's warning for an object outside the user's queryset (typographic quotes)."""
    return f"application with ID \u201c{pk}\u201d doesn\u2019t exist. Perhaps it was deleted?"


def flashed(response: HttpResponse) -> list[tuple[str, str]]:
    """The admin messages a response set (or, for a followed redirect, those its page showed)."""
    if getattr(response, "redirect_chain", None):
        shown = response.context["messages"]  # type: ignore[attr-defined]
    else:
        shown = get_messages(response.wsgi_request)  # type: ignore[attr-defined]
    return [(m.level_tag, str(m)) for m in shown]


def snapshot(app: Application) -> dict[str, Any]:
    """What an action may change: equal before and after a refused one."""
    fresh = Application.objects.get(pk=app.pk)
    return {
        "status": fresh.status,
        "decline_reason": fresh.decline_reason,
        "policies": list(
            Policy.objects.filter(application=fresh).values_list("status", "premium_paid_amount")
        ),
        "premium_payments": PremiumPayment.objects.filter(policy__application=fresh).count(),
        "loans": list(Loan.objects.filter(application=fresh).values_list("status", "principal")),
        "pledges": Pledge.objects.filter(loan__application=fresh).count(),
        "installments": Installment.objects.filter(loan__application=fresh).count(),
        "audit_rows": AuditLog.objects.count(),
    }
