"""Reads of loans, each one the caller may see (fintech.access): 404 when it is not theirs to see,
403 when their role does not do this."""

from __future__ import annotations

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from fintech.access import extensions_visible_to, loans_visible_to, require_role
from fintech.errors import NotFound
from fintech.models import Installment, Loan, LoanExtension, User

__all__ = ["extension_for", "loan_for", "loan_schedule", "loans_visible_to"]


def loan_for(user: User, pk: int, *roles: str) -> Loan:
    require_role(user, *roles)
    loan = loans_visible_to(user).filter(pk=pk).first()
    if loan is None:
        raise NotFound(_("Loan not found."))
    return loan


def extension_for(user: User, pk: int, *roles: str) -> LoanExtension:
    require_role(user, *roles)
    found = extensions_visible_to(user).filter(pk=pk).first()
    if found is None:
        raise NotFound(_("Extension not found."))
    return found


def loan_schedule(loan: Loan) -> QuerySet[Installment]:
    return loan.installments.order_by("seq")
