"""Reads of applications, valuations, policies and loans, each one the caller may see (fintech.access):
404 when it is not theirs to see, 403 when their role does not do this."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from fintech.access import (
    applications_visible_to,
    extensions_visible_to,
    loans_visible_to,
    policies_visible_to,
    require_role,
    valuations_visible_to,
)
from fintech.errors import NotFound
from fintech.models import (
    Application,
    ApplicationPatent,
    Installment,
    Loan,
    LoanExtension,
    OrganizationKind,
    PatentValuation,
    Policy,
    User,
    Valuation,
)

__all__ = [
    "application_for",
    "application_patent_ids",
    "applications_visible_to",
    "loan_for",
    "loan_schedule",
    "loans_visible_to",
    "policy_for",
    "valuation_for",
    "valuation_line_values",
    "valuations_visible_to",
]


def application_patent_ids(application_ids: list[int]) -> dict[int, list[int]]:
    """{application id: its patents' ids in patent order}, in one query for a page of applications."""
    out: dict[int, list[int]] = {}
    links = ApplicationPatent.objects.filter(application_id__in=application_ids).order_by("patent_id")
    for application_id, patent_id in links.values_list("application_id", "patent_id"):
        out.setdefault(application_id, []).append(patent_id)
    return out


def valuation_line_values(valuation_ids: list[int]) -> dict[int, dict[int, Decimal]]:
    """{valuation id: {patent id: its appraised value}}, in one query for a page of valuations."""
    out: dict[int, dict[int, Decimal]] = {}
    lines = PatentValuation.objects.filter(valuation_id__in=valuation_ids)
    for valuation_id, patent_id, value in lines.values_list("valuation_id", "patent_id", "value"):
        out.setdefault(valuation_id, {})[patent_id] = value
    return out


def application_for(user: User, pk: int, *roles: str) -> Application:
    """The application, if the caller may see it (404 otherwise) and has one of the roles (403)."""
    require_role(user, *roles)
    app = applications_visible_to(user).filter(pk=pk).first()
    if app is None:
        raise NotFound("Application not found.")
    return app


def loan_for(user: User, pk: int, *roles: str) -> Loan:
    require_role(user, *roles)
    loan = loans_visible_to(user).filter(pk=pk).first()
    if loan is None:
        raise NotFound("Loan not found.")
    return loan


def extension_for(user: User, pk: int, *roles: str) -> LoanExtension:
    require_role(user, *roles)
    found = extensions_visible_to(user).filter(pk=pk).first()
    if found is None:
        raise NotFound("Extension not found.")
    return found


def loan_schedule(loan: Loan) -> QuerySet[Installment]:
    return loan.installments.order_by("seq")


def valuation_for(user: User, pk: int) -> Valuation:
    require_role(user, OrganizationKind.APPRAISER)
    valuation = valuations_visible_to(user).filter(pk=pk).first()
    if valuation is None:
        raise NotFound("Valuation not found.")
    return valuation


def policy_for(user: User, pk: int, *roles: str) -> Policy:
    require_role(user, *roles)
    policy = policies_visible_to(user).filter(pk=pk).first()
    if policy is None:
        raise NotFound("Policy not found.")
    return policy
