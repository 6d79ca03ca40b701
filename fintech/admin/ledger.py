"""Admin: regulators and platform staff read the ledger (journal entries with their postings, the
chart of accounts). Nothing here edits a record."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from fintech.models import (
    Account,
    JournalEntry,
    OrganizationKind,
    Posting,
)
from fintech.money import ZERO

from .display import admin_link, money
from .scoping import ReadOnlyAdminMixin, ReviewAdmin, ReviewInline, ScreenMixin

K = OrganizationKind


class PostingInline(ReviewInline):
    model = Posting
    view_roles = (K.REGULATOR,)
    fields = ("debit_account", "credit_account", "amount", "organization")


@admin.register(JournalEntry)
class JournalEntryAdmin(ReviewAdmin):
    """Regulators read the entries of their region's loans and programmes (fintech.access)."""

    view_roles = (K.REGULATOR,)
    list_display = ["id", "booked_on", "kind", "loan_link", "amount_total", "memo", "reverses"]
    list_filter = ["kind"]
    date_hierarchy = "booked_on"
    search_fields = ["=id", "=loan__id", "memo"]
    fields = [
        ("booked_on", "kind"),
        "memo",
        ("loan_link", "program"),
        ("source_type", "source_id"),
        ("reverses", "created_by", "created_at"),
    ]
    readonly_fields = [
        "booked_on",
        "kind",
        "memo",
        "loan_link",
        "program",
        "source_type",
        "source_id",
        "reverses",
        "created_by",
        "created_at",
    ]
    inlines = [PostingInline]
    list_per_page = 100
    show_full_result_count = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).prefetch_related("postings")

    @admin.display(description=_("loan"), ordering="loan_id")
    def loan_link(self, obj: JournalEntry) -> Any:
        return admin_link(obj.loan, f"#{obj.loan_id}") if obj.loan_id else "—"

    @admin.display(description=_("amount"))
    def amount_total(self, obj: JournalEntry) -> str:
        return money(sum((p.amount for p in obj.postings.all()), ZERO))


@admin.register(Account)
class AccountAdmin(ReadOnlyAdminMixin, ScreenMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    """The chart of accounts (loaded by a migration): a list to read, for regulators and platform."""

    list_display = ["code", "name", "name_zh", "kind"]
    list_filter = ["kind"]
    search_fields = ["code", "name", "name_zh"]
    ordering = ["code"]
    view_roles = (K.REGULATOR,)
