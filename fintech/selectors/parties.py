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


def program_region_codes(program_ids: list[int]) -> dict[int, list[str]]:
    """{programme id: the codes of the regions it serves, in code order}, in one query for a page."""
    out: dict[int, list[str]] = {}
    links = Program.regions.through.objects.filter(program_id__in=program_ids).order_by("region_id")
    for program_id, code in links.values_list("program_id", "region_id"):  # a region's key is its code
        out.setdefault(program_id, []).append(code)
    return out
