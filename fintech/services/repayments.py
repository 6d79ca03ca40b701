"""Repayments: oldest installment first, interest before principal; overpayment refused; the
loan settles (and its pledge is released) when the last fen is paid. DOMAIN.md section 8."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction

from fintech.errors import AmountOverLimit, DatesOutOfOrder, InvalidInput, InvalidTransition, RoleNotAllowed
from fintech.models import (
    ApplicationStatus,
    Installment,
    InstallmentStatus,
    Loan,
    LoanStatus,
    OrganizationKind,
    PledgedPatent,
    User,
)
from fintech.models.loans import Pledge
from fintech.models.repayments import Repayment, RepaymentAllocation
from fintech.money import ZERO

from .audit import audit_record
from .common import ensure_not_future
from .transitions import application_lock, application_transition


@dataclass(frozen=True)
class Allocation:
    seq: int
    principal: Decimal
    interest: Decimal


def allocate(rows: list[Installment], amount: Decimal) -> list[tuple[Installment, Allocation]]:
    """Spread an amount over unpaid installments, oldest first, interest before principal."""
    left = amount
    out: list[tuple[Installment, Allocation]] = []
    for row in rows:
        if left <= 0:
            break
        interest = min(left, row.interest_due - row.interest_paid)
        left -= interest
        principal = min(left, row.principal_due - row.principal_paid)
        left -= principal
        if interest > 0 or principal > 0:
            out.append((row, Allocation(row.seq, principal, interest)))
    return out


@transaction.atomic
def repayment_record(
    *, actor: User, loan_id: int, amount: Decimal, paid_on: date, transaction_id: str = ""
) -> Repayment:
    """Apply a repayment reported by the loan's bank; refuses more than the loan still owes."""
    loan = Loan.objects.get(pk=loan_id)
    app = application_lock(loan.application_id)
    loan = Loan.objects.select_for_update().get(pk=loan_id)
    if actor.role != OrganizationKind.BANK or actor.organization_id != loan.bank_id:
        raise RoleNotAllowed("Only the loan's bank records repayments.")
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition(loan.status, "record a repayment")
    if amount <= 0:
        raise InvalidInput.on("amount", "The amount must be above zero.")
    ensure_not_future(paid_on, "paid_on")
    assert loan.disbursed_on is not None
    if paid_on < loan.disbursed_on:
        raise DatesOutOfOrder(
            f"A repayment ({paid_on}) cannot precede the disbursement ({loan.disbursed_on}).",
            fields={"paid_on": [f"Not before the disbursement date {loan.disbursed_on}."]},
        )
    rows = list(Installment.objects.select_for_update().filter(loan=loan).order_by("seq"))
    owed = sum((r.principal_due - r.principal_paid + r.interest_due - r.interest_paid for r in rows), ZERO)
    if amount > owed:
        raise AmountOverLimit(
            f"The loan still owes {owed:.2f}; {amount:.2f} is more.", fields={"amount": [f"At most {owed:.2f}."]}
        )
    repayment = Repayment.objects.create(
        loan=loan, bank_id=loan.bank_id, amount=amount, paid_on=paid_on, transaction_id=transaction_id,
        recorded_by=actor,
    )
    plan = allocate([r for r in rows if r.status not in (InstallmentStatus.PAID, InstallmentStatus.PAID_LATE)],
                    amount)
    for row, part in plan:
        RepaymentAllocation.objects.create(
            repayment=repayment, installment=row, principal=part.principal, interest=part.interest
        )
        row.principal_paid += part.principal
        row.interest_paid += part.interest
        if row.principal_paid == row.principal_due and row.interest_paid == row.interest_due:
            row.paid_on = paid_on
            on_time = paid_on <= row.due_on + timedelta(days=loan.grace_days)
            row.status = InstallmentStatus.PAID if on_time else InstallmentStatus.PAID_LATE
        row.save(update_fields=["principal_paid", "interest_paid", "paid_on", "status"])
    audit_record(actor=actor, action="repayment.record", obj=loan, amount=amount,
                 payload={"repayment": repayment.pk, "paid_on": paid_on, "transaction_id": transaction_id,
                          "allocations": [[p.seq, p.principal, p.interest] for _, p in plan]})
    if amount == owed:
        _settle(actor, loan, app, paid_on)
    return repayment


def _settle(actor: User, loan: Loan, app: object, on: date) -> None:
    """All paid: the loan settles and the pledge is released (inside the caller's transaction)."""
    loan.status = LoanStatus.SETTLED
    loan.settled_on = on
    loan.save(update_fields=["status", "settled_on"])
    audit_record(actor=actor, action="loan.settle", obj=loan, from_state=LoanStatus.ACTIVE,
                 to_state=LoanStatus.SETTLED, payload={"settled_on": on})
    pledge = Pledge.objects.filter(loan=loan).first()
    if pledge is not None:
        PledgedPatent.objects.filter(pledge=pledge, is_active=True).update(is_active=False)
        pledge.released_on = on
        pledge.save(update_fields=["released_on"])
        audit_record(actor=actor, action="pledge.release", obj=pledge, from_state="active", to_state="released")
    if getattr(app, "status", None) == ApplicationStatus.ACTIVE:
        application_transition(app, "settle", actor=actor)  # type: ignore[arg-type]
