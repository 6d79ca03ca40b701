"""Payoff quotes, early settlement and partial prepayment with a recast (DOMAIN.md 8a).

A payoff on D is what clears the loan on D: the unpaid amounts of the installments due on or
before D, the principal still scheduled after them, the interest accrued on it from the start of
the accrual period that contains D to D, and the programme's prepayment fee. An early settlement
pays exactly that: the installment whose period contains D keeps only the accrued interest (its
accrual stops on D), later ones lose theirs, and the payment is allocated like any repayment, so
the loan settles through the same path as at maturity (pledge released, policy ended).

A partial prepayment pays principal only, once every installment due on or before D is paid; the
period containing D is charged at the old principal to D and the new one after, and the rest of
the schedule is rebuilt on the new principal (same due dates, same method), keeping the term or
keeping the installment. The schedule as it stood is kept as a ScheduleVersion first.

Every write locks the application, then the loan, then the installments (the servicing order), so
two prepayments, or a prepayment and a repayment, of one loan never interleave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from django.db import transaction
from django.utils.translation import gettext as _

from fintech.access import require_acts_for
from fintech.errors import (
    AmountOverLimit,
    DatesOutOfOrder,
    InstallmentsStillDue,
    InvalidInput,
    InvalidTransition,
    PaidInAdvance,
    PayoffMismatch,
    PrepaymentInPeriod,
    PrepaymentRepeated,
)
from fintech.models import (
    EntryKind,
    Installment,
    Loan,
    LoanStatus,
    OrganizationKind,
    Prepayment,
    PrepaymentKind,
    Recast,
    ScheduleVersion,
    User,
)
from fintech.money import ZERO, format_money, round_fen
from fintech.rules.schedules import (
    RepaymentMethod,
    installments_to_clear,
    interest_for_days,
    rebuild_schedule,
)

from .audit import audit_record
from .common import ensure_not_future
from .ledger import (
    BANK_CASH,
    LOANS_RECEIVABLE,
    PREPAYMENT_FEE_INCOME,
    SME_CASH,
    SME_LOANS_PAYABLE,
    SME_PREPAYMENT_FEE_EXPENSE,
    Leg,
    ledger_post,
)
from .repayments import _lock_loan, last_value_date, repayment_apply


@dataclass(frozen=True)
class Payoff:
    on: date
    overdue: Decimal  # unpaid amounts of the installments due on or before the date
    principal: Decimal  # principal scheduled after them
    accrued_interest: Decimal  # interest accrued to the date, less what was already paid of it
    prepayment_fee: Decimal
    total: Decimal

    def as_dict(self) -> dict[str, str]:
        return {
            "on": self.on.isoformat(),
            "overdue": format_money(self.overdue),
            "principal": format_money(self.principal),
            "accrued_interest": format_money(self.accrued_interest),
            "prepayment_fee": format_money(self.prepayment_fee),
            "total": format_money(self.total),
        }


def _unpaid(row: Installment) -> Decimal:
    return row.principal_due - row.principal_paid + row.interest_due - row.interest_paid


class AccrualRow(Protocol):
    """What `accrued_to` reads of an installment (a model row, or the loss's values of one)."""

    @property
    def start_on(self) -> date: ...
    @property
    def opening_principal(self) -> Decimal: ...
    @property
    def principal_changed_on(self) -> date | None: ...
    @property
    def principal_after_change(self) -> Decimal | None: ...


def accrued_to(row: AccrualRow, on: date, principal: Decimal, rate: Decimal) -> Decimal:
    """Interest of `row`'s accrual period from its start to `on`: one rounding per stretch of equal
    principal (a prepayment earlier in the period split it; DOMAIN.md 8a)."""
    changed = row.principal_changed_on
    if changed is not None and changed <= on and row.principal_after_change is not None:
        return interest_for_days(
            row.opening_principal, rate, (changed - row.start_on).days
        ) + interest_for_days(row.principal_after_change, rate, (on - changed).days)
    return interest_for_days(principal, rate, (on - row.start_on).days)


def _check_value_date(loan: Loan, on: date, field: str) -> None:
    assert loan.disbursed_on is not None and loan.maturity_on is not None
    if on < loan.disbursed_on:
        raise DatesOutOfOrder(
            _("The date (%(on)s) precedes the disbursement (%(disbursed_on)s).")
            % {"on": on, "disbursed_on": loan.disbursed_on},
            fields={
                field: [
                    _("Not before the disbursement date %(disbursed_on)s.")
                    % {"disbursed_on": loan.disbursed_on}
                ]
            },
        )
    if on >= loan.maturity_on:
        raise DatesOutOfOrder(
            _("The date (%(on)s) is not before the maturity (%(maturity_on)s).")
            % {"on": on, "maturity_on": loan.maturity_on},
            fields={
                field: [_("Before the maturity date %(maturity_on)s.") % {"maturity_on": loan.maturity_on}]
            },
        )
    last = last_value_date(loan)
    if last is not None and on < last:
        raise DatesOutOfOrder(
            _("The date (%(on)s) precedes the loan's last repayment (%(last)s).") % {"on": on, "last": last},
            fields={field: [_("Not before the last repayment's value date %(last)s.") % {"last": last}]},
        )


def _split(rows: list[Installment], on: date) -> tuple[list[Installment], list[Installment]]:
    """(installments due on or before the date, the later ones: the first contains the date)."""
    due = [r for r in rows if r.due_on <= on]
    later = [r for r in rows if r.due_on > on]
    if any(r.principal_paid or r.interest_paid for r in later[1:]):
        raise PaidInAdvance(
            _("An installment due after the one containing %(on)s already has payments; quote a later date.")
            % {"on": on}
        )
    return due, later


def payoff_compute(loan: Loan, rows: list[Installment], on: date) -> Payoff:
    """The payoff of a loan on a date from its installment rows (DOMAIN.md 8a)."""
    due, later = _split(rows, on)
    overdue = sum((_unpaid(r) for r in due), ZERO)
    principal = sum((r.principal_due - r.principal_paid for r in later), ZERO)
    current = later[0]
    accrued = accrued_to(current, on, principal + current.principal_paid, loan.annual_rate)
    accrued -= current.interest_paid
    if accrued < 0:
        raise PaidInAdvance(
            _("Interest beyond what accrues to %(on)s was already paid; quote a later date.") % {"on": on}
        )
    fee = round_fen(principal * loan.program.prepayment_fee_rate)
    return Payoff(on, overdue, principal, accrued, fee, overdue + principal + accrued + fee)


def payoff_quote(*, actor: User, loan_id: int, on: date) -> Payoff:
    """What settles the loan on `on` (the loan's bank or SME may ask; any date from the last
    repayment and the disbursement to the day before maturity, also a date to come)."""
    loan = Loan.objects.select_related("program").get(pk=loan_id)
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(loan, "quote a payoff")
    _check_value_date(loan, on, "on")
    rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    return payoff_compute(loan, rows, on)


def _row_dict(row: Installment) -> dict[str, Any]:
    return {
        "seq": row.seq,
        "start_on": row.start_on.isoformat(),
        "due_on": row.due_on.isoformat(),
        "days": row.days,
        "opening_principal": format_money(row.opening_principal),
        "principal_due": format_money(row.principal_due),
        "interest_due": format_money(row.interest_due),
        "principal_paid": format_money(row.principal_paid),
        "interest_paid": format_money(row.interest_paid),
        "paid_on": row.paid_on.isoformat() if row.paid_on else None,
        "status": row.status,
    }


def schedule_version_keep(loan: Loan, rows: list[Installment], reason: str) -> int:
    """Freeze the schedule as it stands as version `loan.schedule_version` and count one more
    (the caller saves the loan). Returns the new version number."""
    ScheduleVersion.objects.create(
        loan=loan, version=loan.schedule_version, reason=reason[:200], rows=[_row_dict(r) for r in rows]
    )
    loan.schedule_version += 1
    return loan.schedule_version


def _fee_legs(loan: Loan, fee: Decimal) -> list[Leg]:
    return [
        Leg(BANK_CASH, PREPAYMENT_FEE_INCOME, fee, loan.bank_id),
        Leg(SME_PREPAYMENT_FEE_EXPENSE, SME_CASH, fee, loan.sme_id),
    ]


def _locked(actor: User, loan_id: int, value_date: date) -> tuple[Loan, object, list[Installment]]:
    loan, app = _lock_loan(loan_id)
    require_acts_for(actor, OrganizationKind.BANK, loan, _("Only the loan's bank records prepayments."))
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(loan, "record a prepayment")
    ensure_not_future(value_date, "value_date")
    _check_value_date(loan, value_date, "value_date")
    rows = list(Installment.objects.select_for_update().filter(loan=loan).order_by("seq"))
    return loan, app, rows


@transaction.atomic
def loan_settle_early(*, actor: User, loan_id: int, amount: Decimal, value_date: date) -> Prepayment:
    """Settle the loan on `value_date` with exactly its payoff: the period containing the date
    keeps the interest accrued to it, later installments lose theirs, every installment is paid
    and the loan settles (pledge released, policy ended). A different amount is a 400 that
    carries the payoff."""
    loan, app, rows = _locked(actor, loan_id, value_date)
    quote = payoff_compute(loan, rows, value_date)
    if amount != quote.total:
        raise PayoffMismatch(
            _("The payoff on %(value_date)s is %(total)s; %(amount)s does not settle the loan.")
            % {"value_date": value_date, "total": format_money(quote.total), "amount": format_money(amount)},
            fields={"amount": [_("Exactly the payoff %(total)s.") % {"total": format_money(quote.total)}]},
            extra={"payoff": quote.as_dict()},
        )
    version = schedule_version_keep(loan, rows, f"early settlement on {value_date}")
    _due, later = _split(rows, value_date)
    current = later[0]
    current.interest_due = current.interest_paid + quote.accrued_interest
    current.accrual_end_on = value_date
    for row in later[1:]:
        row.interest_due = ZERO
        row.accrual_end_on = row.start_on  # no day of this period accrues
    Installment.objects.bulk_update(later, ["interest_due", "accrual_end_on"])
    loan.save(update_fields=["schedule_version"])
    prepayment = Prepayment.objects.create(
        loan=loan,
        kind=PrepaymentKind.SETTLE,
        amount=amount,
        value_date=value_date,
        principal=quote.principal,
        fee=quote.prepayment_fee,
        schedule_version=version,
        recorded_by=actor,
    )
    # The installments are paid like any repayment; it pays the last fen, so the loan settles.
    repayment = repayment_apply(actor, loan, app, rows, amount - quote.prepayment_fee, value_date)
    prepayment.repayment = repayment
    prepayment.save(update_fields=["repayment"])
    ledger_post(
        kind=EntryKind.PREPAYMENT,
        booked_on=value_date,
        source=prepayment,
        legs=_fee_legs(loan, quote.prepayment_fee),
        loan=loan,
        program=loan.program,
        memo=f"prepayment fee, early settlement of loan {loan.pk}",
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="prepayment.settle",
        obj=loan,
        amount=amount,
        payload={"prepayment": prepayment.pk, "payoff": quote.as_dict(), "schedule_version": version},
    )
    return prepayment


@transaction.atomic
def loan_prepay_partial(
    *, actor: User, loan_id: int, amount: Decimal, value_date: date, recast: str
) -> Prepayment:
    """Prepay `amount` of principal on `value_date` (the programme's fee on top) and rebuild the
    schedule: `keep_term` lowers the installments, `shorten_term` keeps the installment and drops
    the last due dates (not for interest-monthly loans)."""
    if recast not in Recast.values:
        raise InvalidInput.on("recast", _("Choose keep_term or shorten_term."))
    if amount <= 0:
        raise InvalidInput.on("amount", _("The amount must be above zero."))
    loan, _app, rows = _locked(actor, loan_id, value_date)
    # Under the loan's row lock: a repeated request (no Idempotency-Key) on a due date would pass
    # every check below, since the period's change date is only set strictly inside it.
    if Prepayment.objects.filter(loan=loan, value_date=value_date).exists():
        raise PrepaymentRepeated(
            _("Loan %(pk)s already has a prepayment on %(value_date)s: one prepayment per value date.")
            % {"pk": loan.pk, "value_date": value_date}
        )
    method = RepaymentMethod(loan.repayment_method)
    if recast == Recast.SHORTEN_TERM and method is RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY:
        raise InvalidInput.on(
            "recast", _("An interest-monthly loan repays its principal at maturity: only keep_term applies.")
        )
    due, later = _split(rows, value_date)
    unpaid = [r.seq for r in due if _unpaid(r) > 0]
    if unpaid:
        raise InstallmentsStillDue(
            _(
                "Installments %(seqs)s are due on or before %(value_date)s and not paid: pay them before a "
                "partial prepayment."
            )
            % {"seqs": ", ".join(map(str, unpaid)), "value_date": value_date}
        )
    current = later[0]
    if current.principal_paid or current.interest_paid:
        raise PaidInAdvance(
            _("Installment %(seq)s already has payments; prepay after its due date.") % {"seq": current.seq}
        )
    if current.principal_changed_on is not None:
        raise PrepaymentInPeriod(
            _(
                "The accrual period of installment %(seq)s already had a prepayment on "
                "%(principal_changed_on)s; prepay again from its due date %(due_on)s."
            )
            % {
                "seq": current.seq,
                "principal_changed_on": current.principal_changed_on,
                "due_on": current.due_on,
            }
        )
    old = sum((r.principal_due for r in later), ZERO)
    if amount >= old:
        raise AmountOverLimit(
            _("The principal outstanding is %(old)s: prepaying all of it is an early settlement.")
            % {"old": format_money(old)},
            fields={
                "amount": [_("Below %(old)s; settle the loan to pay it all.") % {"old": format_money(old)}]
            },
        )
    new = old - amount
    fee = round_fen(amount * loan.program.prepayment_fee_rate)
    dates = [current.start_on] + [r.due_on for r in later]
    level: Decimal | None = None
    if recast == Recast.SHORTEN_TERM:
        # The installment kept: the level principal (equal principal) or payment (equal
        # installment) of the schedule in force.
        level = (
            current.principal_due
            if method is RepaymentMethod.EQUAL_PRINCIPAL
            else current.principal_due + current.interest_due
        )
        count = min(installments_to_clear(new, loan.annual_rate, method, level), len(later))
        dates = dates[: count + 1]
    plan = rebuild_schedule(new, loan.annual_rate, method, dates, current.seq, level)
    version = schedule_version_keep(
        loan, rows, f"partial prepayment of {format_money(amount)} on {value_date}"
    )
    kept = later[: len(plan)]
    for row, planned in zip(kept, plan, strict=True):
        row.principal_due = planned.principal_due
        row.interest_due = planned.interest_due
        row.opening_principal = planned.opening_principal
    # The period containing the date: the old principal to the date, the new one after.
    if value_date > current.start_on:
        current.opening_principal = old
        current.principal_changed_on = value_date
        current.principal_after_change = new
        current.interest_due = interest_for_days(
            old, loan.annual_rate, (value_date - current.start_on).days
        ) + interest_for_days(new, loan.annual_rate, (current.due_on - value_date).days)
    Installment.objects.bulk_update(
        kept,
        [
            "principal_due",
            "interest_due",
            "opening_principal",
            "principal_changed_on",
            "principal_after_change",
        ],
    )
    dropped = later[len(plan) :]
    if dropped:
        # Future, unpaid rows no longer in the schedule: the version kept above still shows them.
        Installment.objects.filter(pk__in=[r.pk for r in dropped]).delete()
        loan.maturity_on = kept[-1].due_on
    loan.save(update_fields=["schedule_version", "maturity_on"])
    prepayment = Prepayment.objects.create(
        loan=loan,
        kind=PrepaymentKind.PARTIAL,
        recast=recast,
        amount=amount + fee,
        value_date=value_date,
        principal=amount,
        fee=fee,
        schedule_version=version,
        recorded_by=actor,
    )
    ledger_post(
        kind=EntryKind.PREPAYMENT,
        booked_on=value_date,
        source=prepayment,
        legs=[
            Leg(BANK_CASH, LOANS_RECEIVABLE, amount, loan.bank_id),
            Leg(SME_LOANS_PAYABLE, SME_CASH, amount, loan.sme_id),
            *_fee_legs(loan, fee),
        ],
        loan=loan,
        program=loan.program,
        memo=f"partial prepayment of loan {loan.pk} ({recast})",
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="prepayment.partial",
        obj=loan,
        amount=amount + fee,
        payload={
            "prepayment": prepayment.pk,
            "value_date": value_date,
            "principal": amount,
            "fee": fee,
            "recast": recast,
            "schedule_version": version,
            "installments_dropped": [r.seq for r in dropped],
        },
    )
    return prepayment


def schedule_version_rows(loan: Loan, version: int) -> list[dict[str, Any]] | None:
    """The installments of an earlier schedule version (None: no such version)."""
    found = ScheduleVersion.objects.filter(loan=loan, version=version).first()
    return None if found is None else list(found.rows)
