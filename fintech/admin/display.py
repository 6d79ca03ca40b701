"""The admin's display helpers, shared by every screen: money (grouped, two places), rates (as a
percentage), days (ISO) and moments (local time), text with a dash for "none", labels for the codes
that have no choices (audit actions, valuation methods, run parameters), fact tables and lists,
links to a record's page, and a record's audit trail.

`FormattedFieldsMixin` (on every screen through fintech.admin.scoping) shows the money, rate, date
and JSON fields of lists and pages through these helpers, so no screen shows a raw value."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.apps import apps as django_apps
from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.db.models import Model, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import get_language, gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from fintech.models import AuditLog
from fintech.money import MONEY_PLACES, RATE_PLACES, format_money, format_rate

DASH = "—"


def money(value: Decimal | None) -> str:
    return DASH if value is None else format_money(value, grouped=True)


def rate(value: Decimal | None) -> str:
    """A fraction shown as a percentage without trailing zeros: 0.01500000 -> 1.5 %."""
    return DASH if value is None else format_rate(value)


def day(value: date | None) -> str:
    return DASH if value is None else value.isoformat()


def term_left(until: date | None, today: date) -> Any:
    """Whole years and months from today to `until` ("7 years 3 months"), or "expired"."""
    if until is None:
        return DASH
    if until <= today:
        return _("expired")
    months = (until.year - today.year) * 12 + until.month - today.month - (until.day < today.day)
    years, months = divmod(months, 12)
    return gettext("%(years)s years %(months)s months") % {"years": years, "months": months}


def moment(value: datetime | None) -> str:
    """A timestamp in the platform's time zone, to the minute: 2025-06-30 17:05."""
    return DASH if value is None else timezone.localtime(value).strftime("%Y-%m-%d %H:%M")


# --- labels of codes that have no choices --------------------------------------------------------

# Audit actions: "<record>.<what happened>", written by the services (fintech/services/audit.py).
AUDIT_ACTIONS: dict[str, Any] = {
    "application.create": _("application created"),
    "application.submit": _("application submitted for valuation"),
    "application.withdraw": _("application withdrawn"),
    "application.valuation_reported": _("valuation reported: application to the insurer"),
    "application.decline": _("application declined"),
    "application.policy_issued": _("policy issued: application to the bank"),
    "application.approve": _("application approved"),
    "application.disburse": _("loan disbursed: application active"),
    "application.settle": _("application settled"),
    "application.default": _("application defaulted"),
    "loan.approve": _("loan approved"),
    "loan.disburse": _("loan disbursed"),
    "loan.settle": _("loan settled"),
    "loan.default": _("loan defaulted"),
    "policy.issue": _("policy issued"),
    "policy.premium_paid": _("premium paid"),
    "policy.expire": _("policy expired"),
    "policy.settle": _("policy settled"),
    "policy.claim": _("policy claimed"),
    "policy.cancel": _("policy cancelled"),
    "valuation.report": _("valuation report filed"),
    "valuation.cancel": _("valuation cancelled"),
    "pledge.register": _("pledge registered"),
    "pledge.release": _("pledge released"),
    "patent.register": _("patent registered"),
    "patent.status": _("patent legal status changed"),
    "patent.expire": _("patent expired"),
    "patent.expiry": _("patent expired"),
    "patentee.consent": _("patentee's consent recorded"),
    "patent.lapse": _("patent lapsed (annual fee unpaid)"),
    "patent.invalidation": _("patent invalidated"),
    "patent.restoration": _("patent restored"),
    "patent.fee_paid": _("annual fee paid"),
    "prepayment.partial": _("partial prepayment recorded"),
    "prepayment.settle": _("loan settled early"),
    "finding.prepayment": _("partial prepayment recorded as a finding's cure"),
    "pledge.add_patent": _("patent added to the pledge"),
    "revaluation.request": _("revaluation requested"),
    "revaluation.report": _("revaluation reported"),
    "repayment.record": _("repayment recorded"),
    "repayment.reverse": _("repayment reversed"),
    "repayment_file.upload": _("repayment file uploaded"),
    "repayment_file.done": _("repayment file processed"),
    "repayment_file.failed": _("repayment file failed"),
    "loss.record": _("loss recorded at default"),
    "recovery.record": _("recovery recorded"),
    "settlement.record": _("settlement recorded"),
    "settlement.approve": _("settlement approved"),
    "fund.draw": _("risk fund drawn"),
    "fund.top_up": _("risk fund topped up"),
    "subsidy_run.start": _("subsidy run started"),
    "subsidy_run.adopt": _("subsidy run took over a failed run's entitlements"),
    "subsidy_run.running": _("subsidy run running"),
    "subsidy_run.compute": _("subsidy run computed"),
    "subsidy_run.approve": _("subsidy run approved"),
    "subsidy_run.pay": _("subsidies paid"),
    "subsidy_run.resume": _("subsidy run queued again"),
    "subsidy_run.fail": _("subsidy run failed"),
    "subsidy_run.chunk_stall": _("subsidy run: a chunk stalled"),
    "subsidy_run.chunk_requeue": _("subsidy run: a chunk queued again"),
    "close_run.fail": _("daily close failed"),
    "close_run.chunk_stall": _("daily close: a chunk stalled"),
    "close_run.chunk_requeue": _("daily close: a chunk queued again"),
    "scenario.start": _("scenario started"),
    "scenario.running": _("scenario running"),
    "scenario.computed": _("scenario computed"),
    "scenario.failed": _("scenario failed"),
    "program.change": _("programme changed"),
    "program.suspend": _("programme suspended"),
    "organization.create": _("organisation created"),
    "organization.change": _("organisation changed"),
    "user.create": _("user created"),
    "user.change": _("user changed"),
    "sme.register": _("SME registered"),
    "lockout.release": _("login lockout released"),
    "benchmark_rate.create": _("benchmark rate added"),
    "benchmark_rate.change": _("benchmark rate corrected"),
}


def audit_action(code: str) -> Any:
    """The label of an audit action; an unknown code is shown as words, never dropped."""
    return AUDIT_ACTIONS.get(code) or code.replace(".", ": ").replace("_", " ")


_PLAIN_STATES: dict[str, Any] = {
    "active": pgettext_lazy("record state", "active"),
    "inactive": pgettext_lazy("record state", "inactive"),
    "suspended": pgettext_lazy("record state", "suspended"),
}


def state_label(object_type: str, code: str) -> Any:
    """The label of a state an audit row records, from the status choices of the record's model
    ("fintech.application", "bank_review" -> "Bank review"); a dash for none."""
    if not code:
        return DASH
    try:
        field = django_apps.get_model(object_type)._meta.get_field("status")
    except (LookupError, ValueError, FieldDoesNotExist):
        return _PLAIN_STATES.get(code, code)
    return dict(field.flatchoices).get(code, _PLAIN_STATES.get(code, code))  # type: ignore[union-attr]


VALUATION_METHODS: dict[str, Any] = {
    "relief_from_royalty": _("relief from royalty"),
    "market": pgettext_lazy("valuation method", "market"),
    "cost": pgettext_lazy("valuation method", "cost"),
}


def valuation_method(code: str) -> Any:
    return VALUATION_METHODS.get(code, code)


_MONEY_TEXT = re.compile(r"^-?\d+\.\d{2}$")


@functools.cache
def _choice_labels() -> dict[str, Any]:
    """Every code of the fintech models' choices with its label (a code two fields label
    differently is left out: a payload value does not say which field it came from)."""
    labels: dict[str, Any] = {}
    clashes: set[str] = set()
    for model in django_apps.get_app_config("fintech").get_models():
        for field in model._meta.get_fields():
            for code, label in getattr(field, "flatchoices", None) or ():
                if isinstance(code, str) and "_" in code:
                    if code in labels and str(labels[code]) != str(label):
                        clashes.add(code)
                    labels[code] = label
    return {code: label for code, label in labels.items() if code not in clashes}


def _plain(value: Any) -> Any:
    """A value of a JSON payload: yes/no, money grouped, a choice's code as its label."""
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    if isinstance(value, str) and _MONEY_TEXT.match(value):
        return money(Decimal(value))
    if isinstance(value, str) and "_" in value:
        return _choice_labels().get(value, value)
    return text(value)


# The parameters a subsidy run copies from its programme, and how each is shown.
RUN_PARAMETERS: tuple[tuple[str, Any, Callable[[Any], Any]], ...] = (
    ("interest_subsidy_rate", _("interest subsidy rate"), lambda v: rate(Decimal(v))),
    ("premium_subsidy_rate", _("premium subsidy rate"), lambda v: rate(Decimal(v))),
    (
        "subsidy_period",
        _("subsidy period"),
        lambda v: {"quarter": _("quarter"), "month": _("month")}.get(v, v),
    ),
    (
        "benchmark_mode",
        _("benchmark"),
        lambda v: {
            "daily": _("the benchmark of each day"),
            "fixed_at_disbursement": _("fixed at disbursement"),
        }.get(v, v),
    ),
    ("forfeit_after_late", _("a late installment forfeits the later ones"), _plain),
    ("annual_subsidy_cap", _("annual cap per SME"), lambda v: money(Decimal(v))),
)


# Keys of the scorecards and indicators a valuation stores (valuation.public).
JSON_KEYS: dict[str, Any] = {
    "legal": _("legal"),
    "technical": _("technical"),
    "economic": _("economic"),
    "operating": _("operating"),
    "economic_benefit": _("economic benefit"),
}


def _json_value(value: Any) -> Any:
    if isinstance(value, dict):
        return parameters(value)  # nested: a table in the table
    if isinstance(value, list):
        return ", ".join(str(_json_value(item)) for item in value) or DASH
    return _plain(value)


def record_label(object_type: str, object_id: Any) -> str:
    """ "fintech.policy", 7 -> "insurance policy #7" (the model's name in the user's language)."""
    try:
        name = str(django_apps.get_model(object_type)._meta.verbose_name)
    except (LookupError, ValueError):
        name = object_type.rsplit(".", 1)[-1]
    return f"{name} #{object_id}"


def parameters(values: dict[str, Any] | None, hidden: Sequence[str] = ()) -> SafeString:
    """A JSON object as a fact table (not raw JSON): a run's parameters with their labels, rates
    as percentages and money grouped; other keys as words. Keys in `hidden` are left out (e.g. the
    chunk size, an engine detail)."""
    values = {k: v for k, v in (values or {}).items() if k not in hidden}
    known = {key for key, _label, _show in RUN_PARAMETERS}
    rows: list[tuple[Any, Any]] = [
        (label, show(values[key])) for key, label, show in RUN_PARAMETERS if key in values
    ]
    rows += [(key.replace("_", " "), _json_value(value)) for key, value in values.items() if key not in known]
    return facts(rows) if rows else format_html("{}", DASH)


_HAN = "\u3400-\u9fff\uf900-\ufaff"
_LATIN_THEN_HAN = re.compile(rf"^(?P<latin>[^{_HAN}]*[A-Za-z][^{_HAN}]*?)\s+(?P<han>[{_HAN}].*)$")
_HAN_THEN_LATIN = re.compile(rf"^(?P<han>[{_HAN}][^A-Za-z]*?)\s+(?P<latin>[A-Za-z][^{_HAN}]*)$")


def local_name(name: str) -> str:
    """A bilingual name ("Hankou Bank Optics Valley Branch 汉口银行光谷支行") in the user's
    language: the Chinese part in Chinese, the other part otherwise; a one-language name as is."""
    found = _LATIN_THEN_HAN.match(name) or _HAN_THEN_LATIN.match(name)
    if found is None:
        return name
    chinese = (get_language() or "").lower().startswith("zh")
    return found.group("han" if chinese else "latin").strip()


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
                audit_action(e.action),
                state_label(e.object_type, e.from_state),
                state_label(e.object_type, e.to_state),
                text(e.actor),
                text(e.actor_organization and local_name(e.actor_organization.name)),
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
            if party is None:
                return DASH
        return local_name(str(party.name))

    return column


def link_column(field: str, description: Any) -> Callable[[Any, Model], Any]:
    """A column linking to the record of a foreign key ("application" -> #12), without loading it."""

    @admin.display(description=description, ordering=f"{field}_id")
    def column(model_admin: Any, obj: Model) -> Any:
        return link_to(field, getattr(obj, f"{field}_id"))

    return column


# --- every screen: money, rates, dates and JSON through the helpers ------------------------------


def _shown(field: models.Field) -> Callable[[Any], Any] | None:  # type: ignore[type-arg]
    if isinstance(field, models.DecimalField):
        if field.decimal_places == MONEY_PLACES:
            return money
        if field.decimal_places == RATE_PLACES:
            return rate
        return None
    if isinstance(field, models.DateTimeField):
        return moment
    if isinstance(field, models.DateField):
        return day
    if isinstance(field, models.JSONField):
        return lambda value: parameters(value) if isinstance(value, dict) else text(value)
    return None


_COLUMNS: dict[tuple[type[Model], str], Callable[[Model], Any]] = {}


def formatted_column(model: type[Model], name: str) -> Any:
    """The field `name` of `model` as a callable showing it through the helpers (same label and
    ordering), or the name itself for every other field."""
    try:
        field = model._meta.get_field(name)
    except FieldDoesNotExist:
        return name
    if not isinstance(field, models.Field) or field.choices:
        return name  # relations and choices: the admin shows the record or the label already
    show = _shown(field)
    if show is None:
        return name
    key = (model, name)
    if key not in _COLUMNS:

        def column(obj: Model, name: str = name, show: Callable[[Any], Any] = show) -> Any:
            value = getattr(obj, name)
            return DASH if value is None else show(value)

        column.short_description = field.verbose_name  # type: ignore[attr-defined]  # the admin's label
        column.admin_order_field = name  # type: ignore[attr-defined]
        column.__name__ = name  # the field-<name> CSS class of the admin's page
        _COLUMNS[key] = column
    return _COLUMNS[key]


def formatted(model: type[Model], names: Any) -> Any:
    """`formatted_column` of each name (in lists and tuples of names too)."""
    if isinstance(names, (list, tuple)):
        return type(names)(formatted(model, name) for name in names)
    return formatted_column(model, names) if isinstance(names, str) else names


class FormattedFieldsMixin:
    """Every list column and read-only field of a screen that is a money, rate, date or JSON field
    is shown through the helpers: 1,216,115.08, 4.35 %, 2025-06-30, a labelled table."""

    model: type[Model]

    def get_list_display(self, request: Any) -> Any:
        return formatted(self.model, list(super().get_list_display(request)))  # type: ignore[misc]

    def get_list_display_links(self, request: Any, list_display: Any) -> Any:
        links = super().get_list_display_links(request, list_display)  # type: ignore[misc]
        return links if links is None else formatted(self.model, list(links))

    def get_readonly_fields(self, request: Any, obj: Any = None) -> Any:
        return formatted(self.model, list(super().get_readonly_fields(request, obj)))  # type: ignore[misc]

    def get_fieldsets(self, request: Any, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)  # type: ignore[misc]
        everything = not self.has_change_permission(request, obj)  # type: ignore[attr-defined]
        readonly = {getattr(f, "__name__", f) for f in self.get_readonly_fields(request, obj)}
        return [
            (title, {**options, "fields": self._shown_fields(options["fields"], readonly, everything)})
            for title, options in fieldsets
        ]

    def _shown_fields(self, names: Any, readonly: set[Any], everything: bool) -> Any:
        if isinstance(names, (list, tuple)):
            return type(names)(self._shown_fields(name, readonly, everything) for name in names)
        if isinstance(names, str) and (everything or names in readonly):
            return formatted_column(self.model, names)
        return names
