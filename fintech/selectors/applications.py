"""Reads of applications, valuations, policies and loans, each one the caller may see (fintech.access):
404 when it is not theirs to see, 403 when their role does not do this."""

from __future__ import annotations

from django.db.models import QuerySet

from fintech.access import (
    applications_visible_to,
    loans_visible_to,
    policies_visible_to,
    require_role,
    valuations_visible_to,
)
from fintech.errors import NotFound
from fintech.models import Application, Installment, Loan, OrganizationKind, Policy, User, Valuation

__all__ = [
    "application_for",
    "applications_visible_to",
    "loan_for",
    "loan_schedule",
    "loans_visible_to",
    "policy_for",
    "valuation_for",
    "valuations_visible_to",
]


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
