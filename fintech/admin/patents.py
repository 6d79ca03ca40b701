"""Admin: patents. The platform marks a patent's legal status from the register with the buttons of
the patent's page (the one action framework, actions.py): each button is an explicit transition of
the patent (django-fsm-2) run by services.patents.patent_status_set under the patent's row lock and
audited; a lapse, an invalidation and a restoration are legal-status events (their event row and, on
a pledged patent, the loan's finding at once)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from fintech.access import is_platform
from fintech.models import Patent, Patentee, PatentStatus, User
from fintech.services.common import business_today
from fintech.services.patents import patent_status_set, patent_status_transition

from .actions import ActionsMixin, AdminAction, Buttons
from .display import name_column
from .forms import BusinessDateField, ReasonField
from .scoping import ScopedAdmin, ScopedInline


class LegalStatusForm(forms.Form):
    on = BusinessDateField(
        label=_("date"), help_text=_("The date in the register (a lapse: the fee's due date).")
    )
    reason = ReasonField()


def _mark(status: PatentStatus, key: str, label: Any, *, danger: bool = False) -> AdminAction:
    """The button that marks a patent `status` (offered while a transition leads there)."""

    def run(actor: User, patent: Patent, data: dict[str, Any]) -> str:
        done = patent_status_set(
            actor=actor, patent=patent, status=status, reason=data["reason"], on=data["on"]
        )
        return gettext("Patent %(number)s is now %(status)s.") % {
            "number": done.application_number,
            "status": done.get_status_display(),
        }

    return AdminAction(
        key=key,
        label=label,
        form_class=LegalStatusForm,
        may=lambda user, patent: is_platform(user),
        offered=lambda user, patent: patent_status_transition(patent, status) is not None,
        initial=lambda user, patent: {"on": business_today()},
        run=run,
        danger=danger,
    )


PATENT_ACTIONS = Buttons(
    record=(
        _mark(PatentStatus.LAPSED, "lapse", _("Mark as lapsed"), danger=True),
        _mark(PatentStatus.INVALIDATED, "invalidate", _("Mark as invalidated"), danger=True),
        _mark(PatentStatus.TERMINATED, "terminate", _("Mark as terminated"), danger=True),
        _mark(PatentStatus.WAIVED, "waive", _("Mark as waived"), danger=True),
        _mark(PatentStatus.PRESERVED, "preserve", _("Mark as under preservation")),
        _mark(PatentStatus.DISPUTED, "dispute", _("Mark as under ownership dispute")),
        _mark(PatentStatus.IN_FORCE, "in-force", _("Mark as in force (restored, measure lifted)")),
    )
)


class PatenteeInline(ScopedInline):
    model = Patentee
    extra = 0
    readonly_fields = ["position", "name", "uscc", "pledge_consent_on"]
    can_delete = False


@admin.register(Patent)
class PatentAdmin(ActionsMixin, ScopedAdmin):
    # A 1,366 px screen: the type is a filter, the owner by name in the user's language.
    list_display = ["application_number", "title", "status", "expires_on", "owner_name"]
    list_select_related = ["owner"]
    list_filter = ["patent_type", "status"]
    search_fields = ["application_number", "title", "owner__name"]
    inlines = [PatenteeInline]

    owner_name = name_column("owner", _("registered by"))
    # Legal status changes only through the buttons of the patent's page (PATENT_ACTIONS).
    admin_actions = PATENT_ACTIONS
    action_name = "patent_action"
    actions = None
    readonly_fields = [
        "application_number",
        "title",
        "patent_type",
        "filing_date",
        "grant_date",
        "claims_count",
        "term_adjustment_days",
        "expires_on",
        "status",
        "lapsed_on",
        # Fees are recorded through services.collateral (the API or the CSV import): audited, dated.
        "fees_paid_through_year",
        "owner",
        "created_by",
        "external_id",
    ]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # SMEs register patents through the API (ownership and number checks)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
