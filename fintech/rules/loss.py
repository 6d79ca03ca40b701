"""The day a loan defaults, the loss at default and its split between insurer, government risk fund
and bank (DOMAIN.md sections 8 and 10).

Pure functions on Decimal and date; no Django.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from fintech.money import ZERO, split_by_ratios
from fintech.rules.schedules import PlannedInstallment, interest_for_days

LOSS_PARTIES = 3  # insurer, government risk fund, bank


def default_day(oldest_unpaid_due_on: date, default_days_past_due: int) -> date:
    """The day a loan crosses into default: its oldest unpaid installment's due date plus the days
    past due plus one (90 days past due: due + 91 days), whatever day the close runs."""
    return oldest_unpaid_due_on + timedelta(days=default_days_past_due + 1)


@dataclass(frozen=True)
class InstallmentPaid:
    """What has been paid so far against one installment."""

    principal_paid: Decimal
    interest_paid: Decimal


@dataclass(frozen=True)
class LossBreakdown:
    unpaid_principal: Decimal
    unpaid_interest: Decimal
    accrued_interest: Decimal
    loss_amount: Decimal
    accrual_from: date
    days: int


def loss_at_default(
    installments: Sequence[PlannedInstallment],
    paid: Mapping[int, InstallmentPaid],
    disbursed_on: date,
    annual_rate: Decimal,
    default_on: date,
) -> LossBreakdown:
    """Loss at default date X: all unpaid principal + unpaid interest of installments due on or before X
    + interest accrued since the last due date on or before X (the disbursement date if none).

    `paid` maps an installment's seq to what has been paid against it; a missing seq paid nothing.
    """
    _check_inputs(installments, paid, disbursed_on, annual_rate, default_on)

    principal_disbursed = sum((row.principal_due for row in installments), ZERO)
    principal_paid = sum((p.principal_paid for p in paid.values()), ZERO)
    unpaid_principal = principal_disbursed - principal_paid

    due_by_default = [row for row in installments if row.due_on <= default_on]
    unpaid_interest = sum(
        (row.interest_due - paid.get(row.seq, _NOTHING_PAID).interest_paid for row in due_by_default),
        ZERO,
    )

    # Accrual runs on the scheduled principal (not the principal actually still owed): the rule
    # prices the period that had started at X as the contract planned it.
    if due_by_default:
        accrual_from = due_by_default[-1].due_on
        scheduled_principal_after = principal_disbursed - sum(
            (row.principal_due for row in due_by_default), ZERO
        )
    else:
        accrual_from = disbursed_on
        scheduled_principal_after = principal_disbursed
    days = (default_on - accrual_from).days
    accrued_interest = interest_for_days(scheduled_principal_after, annual_rate, days)

    return LossBreakdown(
        unpaid_principal=unpaid_principal,
        unpaid_interest=unpaid_interest,
        accrued_interest=accrued_interest,
        loss_amount=unpaid_principal + unpaid_interest + accrued_interest,
        accrual_from=accrual_from,
        days=days,
    )


def split_loss(amount: Decimal, ratios: tuple[Decimal, Decimal, Decimal]) -> tuple[Decimal, Decimal, Decimal]:
    """Split a loss (or a recovery) insurer : government risk fund : bank by the largest-remainder rule."""
    if len(ratios) != LOSS_PARTIES:
        raise ValueError("a loss is split between exactly three parties: insurer, government, bank")
    insurer, government, bank = split_by_ratios(amount, ratios)
    return insurer, government, bank


_NOTHING_PAID = InstallmentPaid(principal_paid=ZERO, interest_paid=ZERO)


def _check_inputs(
    installments: Sequence[PlannedInstallment],
    paid: Mapping[int, InstallmentPaid],
    disbursed_on: date,
    annual_rate: Decimal,
    default_on: date,
) -> None:
    for day, name in ((disbursed_on, "disbursed_on"), (default_on, "default_on")):
        if not isinstance(day, date) or isinstance(day, datetime):
            raise TypeError(f"{name} must be a date, not {type(day).__name__}")
    if not isinstance(annual_rate, Decimal):
        raise TypeError(f"annual_rate must be Decimal, not {type(annual_rate).__name__}")
    if not annual_rate.is_finite() or annual_rate < 0:
        raise ValueError("annual_rate must be a non-negative fraction, e.g. 0.045")
    if not installments:
        raise ValueError("a loan has at least one installment")
    if [row.seq for row in installments] != list(range(1, len(installments) + 1)):
        raise ValueError("installments must be numbered 1..n in order")
    if installments[0].start_on != disbursed_on:
        raise ValueError("the first installment must start on the disbursement date")
    if default_on < disbursed_on:
        raise ValueError("the default date cannot precede the disbursement date")
    by_seq = {row.seq: row for row in installments}
    for seq, amounts in paid.items():
        row = by_seq.get(seq)
        if row is None:
            raise ValueError(f"payment recorded against unknown installment {seq}")
        for value, due, name in (
            (amounts.principal_paid, row.principal_due, "principal_paid"),
            (amounts.interest_paid, row.interest_due, "interest_paid"),
        ):
            if not isinstance(value, Decimal):
                raise TypeError(f"{name} must be Decimal, not {type(value).__name__}")
            if not ZERO <= value <= due:
                raise ValueError(f"installment {seq}: {name} must lie between 0 and {due}")
