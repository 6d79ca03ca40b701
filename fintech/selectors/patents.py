"""Reads of patents, scoped to what the caller may see."""

from __future__ import annotations

from django.db.models import QuerySet

from fintech.models import OrganizationKind, Patent, Patentee, User


def patents_visible_to(user: User) -> QuerySet[Patent]:
    """SMEs see their own patents; regulators those of SMEs in their region; the platform all.

    Banks, insurers and appraisers see a patent through the applications that name them.
    """
    qs = Patent.objects.select_related("owner").prefetch_related("patentees").order_by("id")
    if user.is_platform:
        return qs
    org = user.organization
    if org is None:
        return qs.none()
    if org.kind == OrganizationKind.SME:
        return qs.filter(owner=org)
    if org.kind == OrganizationKind.REGULATOR:
        return qs.filter(owner__region_id=org.region_id)
    # Banks, insurers and appraisers: through applications (added with origination).
    return qs.none()


def patentees_of(patent_ids: list[int]) -> QuerySet[Patentee]:
    """The patentees of a page of patents, in the patents' order of patentees (one query)."""
    return Patentee.objects.filter(patent_id__in=patent_ids).order_by("patent_id", "position")
