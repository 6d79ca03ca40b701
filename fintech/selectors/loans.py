"""Reads of loans, each one the caller may see (fintech.access): 404 when it is not theirs to see,
403 when their role does not do this."""

from __future__ import annotations

from django.db.models import QuerySet

from fintech.access import loans_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import Installment, Loan, User

__all__ = ["loan_for", "loan_schedule", "loans_visible_to"]


def loan_for(user: User, pk: int, *roles: str) -> Loan:
    require_role(user, *roles)
    loan = loans_visible_to(user).filter(pk=pk).first()
    if loan is None:
        raise NotFound("Loan not found.")
    return loan


def loan_schedule(loan: Loan) -> QuerySet[Installment]:
    return loan.installments.order_by("seq")
