"""The loss of a defaulted loan as its parties see it (API.md "Bank": GET /loans/{id}/loss/)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.utils.translation import gettext as _

from fintech.errors import NotFound
from fintech.models import Loan, LossEvent, OrganizationKind, User

from .loans import loan_for
from .risk_pool import PartyAmounts, loss_event_position

__all__ = ["LOSS_READERS", "LoanLoss", "PartyAmounts", "loan_for_default", "loan_loss_for"]

K = OrganizationKind
LOSS_READERS = (K.BANK, K.INSURER, K.SME, K.REGULATOR)  # platform staff pass every role check


def loan_for_default(user: User, loan_id: int) -> Loan:
    """A loan the caller may see, for a bank's default declaration (404 unseen, 403 other roles)."""
    return loan_for(user, loan_id, K.BANK)


@dataclass(frozen=True)
class LoanLoss:
    default_on: date
    loss_amount: Decimal
    shares: PartyAmounts
    recovered: PartyAmounts  # the sums of the recoveries' parts
    net: PartyAmounts  # share - recovered


def loan_loss_for(user: User, loan_id: int) -> LoanLoss:
    """The loss event of a loan the caller may see (404 otherwise, or when it has not defaulted)."""
    loan = loan_for(user, loan_id, *LOSS_READERS)
    event = LossEvent.objects.filter(loan=loan).first()
    if event is None:
        raise NotFound(_("The loan has no loss: it has not defaulted."))
    position = loss_event_position(event)
    return LoanLoss(event.default_on, event.loss_amount, position.shares, position.recovered, position.net)
