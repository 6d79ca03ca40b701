"""Reads of parties and programmes (who sees what is fintech.access)."""

from __future__ import annotations

from django.db.models import QuerySet

from fintech.models import Organization, OrganizationKind, Program

PUBLIC_DIRECTORY_KINDS = (OrganizationKind.BANK, OrganizationKind.INSURER, OrganizationKind.APPRAISER)


def organization_directory(*, kind: str | None = None) -> QuerySet[Organization]:
    """The public directory: active banks, insurers and appraisal firms."""
    qs = Organization.objects.filter(kind__in=PUBLIC_DIRECTORY_KINDS, is_active=True).select_related("region")
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("kind", "name", "id")


def program_list() -> QuerySet[Program]:
    return Program.objects.prefetch_related("regions").order_by("id")
