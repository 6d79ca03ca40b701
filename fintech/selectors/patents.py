"""Reads of patents (who may see which patents is decided in fintech.access)."""

from __future__ import annotations

from django.db.models import QuerySet

from fintech.models import Patentee


def patentees_of(patent_ids: list[int]) -> QuerySet[Patentee]:
    """The patentees of a page of patents, in the patents' order of patentees (one query)."""
    return Patentee.objects.filter(patent_id__in=patent_ids).order_by("patent_id", "position")
