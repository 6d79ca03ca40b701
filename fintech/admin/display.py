"""The admin's display helpers, shared by every screen: money, rates, days and text with a dash for
"none", fact tables and lists, links to a record's page, and a record's audit trail."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.contrib import admin
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from fintech.models import AuditLog
from fintech.money import format_money

DASH = "—"


def money(value: Decimal | None) -> str:
    return DASH if value is None else format_money(value, grouped=True)


def rate(value: Decimal | None) -> str:
    """A fraction shown as a percentage without trailing zeros: 0.01500000 -> 1.5 %."""
    if value is None:
        return DASH
    return f"{(value * 100).normalize():f} %"


def day(value: date | None) -> str:
    return DASH if value is None else value.isoformat()


def text(value: Any) -> Any:
    return DASH if value in (None, "") else value


def readonly_copy(fields: Any) -> list[str]:
    """Every field of an inline shown read-only (the same names as `fields`)."""
    return [str(name) for name in fields]


def one(obj: Model | None, name: str) -> Any:
    """A reverse one-to-one (application.policy, loan.pledge ...) or None while it is missing."""
    if obj is None:
        return None
    try:
        return getattr(obj, name)
    except ObjectDoesNotExist:
        return None


def facts(pairs: Iterable[tuple[Any, Any]]) -> SafeString:
    rows = format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", pairs)
    return format_html('<table class="fintech-facts">{}</table>', rows)


def table(headers: Sequence[Any], rows: Iterable[Sequence[Any]], empty: Any) -> SafeString:
    rows = list(rows)
    if not rows:
        return format_html("<p>{}</p>", empty)
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in row)),) for row in rows)
    )
    return format_html(
        '<table class="fintech-review"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


def admin_link(obj: Model | None, label: Any = None) -> Any:
    """A link to the record's admin page (a dash for none)."""
    if obj is None:
        return DASH
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else obj)


def link_to(model: str, pk: Any, label: Any = None) -> Any:
    """A link to the admin page of fintech.<model> #pk, without loading the record."""
    url = reverse(f"admin:fintech_{model}_change", args=[pk])
    return format_html('<a href="{}">{}</a>', url, label if label is not None else f"#{pk}")


def audit_panel(*records: Model | None) -> SafeString:
    """The audit rows of these records, oldest first (records that do not exist yet are skipped)."""
    wanted = Q(pk__in=[])
    for record in records:
        if record is not None:
            wanted |= Q(object_type=record._meta.label_lower, object_id=str(record.pk))
    entries = (
        AuditLog.objects.filter(wanted).select_related("actor", "actor_organization").order_by("at", "id")
    )
    return table(
        [
            _("at"),
            _("action"),
            _("from state"),
            _("to state"),
            _("actor"),
            _("organisation"),
            _("amount"),
            _("reason"),
        ],
        (
            (
                timezone.localtime(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                e.action,
                text(e.from_state),
                text(e.to_state),
                text(e.actor),
                text(e.actor_organization and e.actor_organization.name),
                money(e.amount),
                text(e.reason),
            )
            for e in entries
        ),
        _("No audit entries."),
    )


def name_column(path: str, description: Any) -> Callable[[Any, Model], str]:
    """A list column showing the name of the party at `path` ("loan__sme"), sortable by it."""

    @admin.display(description=description, ordering=f"{path}__name")
    def column(model_admin: Any, obj: Model) -> str:
        party: Any = obj
        for name in path.split("__"):
            party = getattr(party, name)
        return str(party.name)

    return column


def link_column(field: str, description: Any) -> Callable[[Any, Model], Any]:
    """A column linking to the record of a foreign key ("application" -> #12), without loading it."""

    @admin.display(description=description, ordering=f"{field}_id")
    def column(model_admin: Any, obj: Model) -> Any:
        return link_to(field, getattr(obj, f"{field}_id"))

    return column
