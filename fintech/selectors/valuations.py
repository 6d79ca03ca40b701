"""Reads of valuations, each one the caller may see (fintech.access): 404 when it is not theirs to
see, 403 when their role does not do this."""

from __future__ import annotations

from decimal import Decimal

from django.utils.translation import gettext as _

from fintech.access import require_role, valuations_visible_to
from fintech.errors import NotFound
from fintech.models import OrganizationKind, PatentValuation, User, Valuation

__all__ = ["valuation_for", "valuation_line_values", "valuations_visible_to"]


def valuation_line_values(valuation_ids: list[int]) -> dict[int, dict[int, Decimal]]:
    """{valuation id: {patent id: its appraised value}}, in one query for a page of valuations."""
    out: dict[int, dict[int, Decimal]] = {}
    lines = PatentValuation.objects.filter(valuation_id__in=valuation_ids)
    for valuation_id, patent_id, value in lines.values_list("valuation_id", "patent_id", "value"):
        out.setdefault(valuation_id, {})[patent_id] = value
    return out


def valuation_for(user: User, pk: int) -> Valuation:
    require_role(user, OrganizationKind.APPRAISER)
    valuation = valuations_visible_to(user).filter(pk=pk).first()
    if valuation is None:
        raise NotFound(_("Valuation not found."))
    return valuation
