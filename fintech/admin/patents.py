from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fintech.access import is_platform
from fintech.errors import Conflict, InvalidInput, NotFound
from fintech.models import Patent, Patentee, PatentEventCode, PatentStatus, User
from fintech.services.collateral import patent_event_record
from fintech.services.common import business_today
from fintech.services.patents import patent_status_set

from .display import name_column
from .scoping import ScopedAdmin, ScopedInline

# The legal-status changes the platform records (DOMAIN.md section 3); "expired" is set by the
# daily task from the term, not by hand.
MARKABLE_STATUSES = [
    PatentStatus.LAPSED,
    PatentStatus.INVALIDATED,
    PatentStatus.TERMINATED,
    PatentStatus.WAIVED,
    PatentStatus.PRESERVED,
    PatentStatus.DISPUTED,
    PatentStatus.IN_FORCE,
]


# A lapse, an invalidation and a restoration are legal-status events: marked here they run the same
# transition as the event file (services.collateral.patent_event_record), dated today, with their
# event row, audit row and, on a pledged patent, the finding at once.
EVENT_OF = {
    PatentStatus.LAPSED: PatentEventCode.LAPSE,
    PatentStatus.INVALIDATED: PatentEventCode.INVALIDATION,
    PatentStatus.IN_FORCE: PatentEventCode.RESTORATION,
}


def _status_action(status: PatentStatus) -> Callable[[Any, HttpRequest, QuerySet[Patent]], None]:
    def action(modeladmin: Any, request: HttpRequest, queryset: QuerySet[Patent]) -> None:
        changed = refused = 0
        actor = cast(User, request.user)
        reason = f"marked {status.label} in the admin"
        for patent in queryset.order_by("pk"):
            if patent.status == status:
                continue
            if status in EVENT_OF:
                try:
                    patent_event_record(
                        actor=actor,
                        patent_id=patent.pk,
                        code=EVENT_OF[status],
                        event_on=business_today(),
                        description=reason,
                    )
                except (Conflict, InvalidInput, NotFound):
                    refused += 1
                    continue
            else:
                patent_status_set(actor=actor, patent=patent, status=status, reason=reason)
            changed += 1
        message = f"{changed} patent(s) marked {status.label}."
        if refused:
            message += f" {refused} refused: not in a state this change applies to."
        modeladmin.message_user(request, message)

    action.__name__ = f"mark_{status.value}"
    return admin.action(description=f"Mark as {status.label}", permissions=["legal_status"])(action)


class PatenteeInline(ScopedInline):
    model = Patentee
    extra = 0
    readonly_fields = ["position", "name", "uscc", "pledge_consent_on"]
    can_delete = False


@admin.register(Patent)
class PatentAdmin(ScopedAdmin):
    # A 1,366 px screen: the type is a filter, the owner by name in the user's language.
    list_display = ["application_number", "title", "status", "expires_on", "owner_name"]
    list_select_related = ["owner"]
    list_filter = ["patent_type", "status"]
    search_fields = ["application_number", "title", "owner__name"]
    inlines = [PatenteeInline]

    owner_name = name_column("owner", _("registered by"))
    # Legal status changes go through the audited services (EVENT_OF above): see the actions.
    actions = [_status_action(status) for status in MARKABLE_STATUSES]
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
        "owner",
        "created_by",
        "external_id",
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # SMEs register patents through the API (ownership and number checks)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_legal_status_permission(self, request: HttpRequest) -> bool:
        return is_platform(request.user)
