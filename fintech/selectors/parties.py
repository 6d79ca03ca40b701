"""Reads of parties and programmes, and the organisation scoping every other selector builds on."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from fintech.errors import RoleNotAllowed
from fintech.models import Organization, OrganizationKind, Program, User

PUBLIC_DIRECTORY_KINDS = (OrganizationKind.BANK, OrganizationKind.INSURER, OrganizationKind.APPRAISER)


def is_active_member(user: Any) -> bool:
    """An active user of an active organisation (a superuser without one counts as platform).

    Deactivating an organisation locks out all its staff, in the API and the admin alike.
    """
    if not getattr(user, "is_active", False):
        return False
    org = getattr(user, "organization", None)
    if org is None:
        return bool(getattr(user, "is_superuser", False))
    return bool(org.is_active)


def require_role(user: User, *kinds: str) -> None:
    """Raise 403 unless the user's organisation is of one of these kinds (platform staff pass)."""
    if user.is_platform or user.role in kinds:
        return
    raise RoleNotAllowed(f"This needs the role {' or '.join(kinds)}; you are '{user.role or 'none'}'.")


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
