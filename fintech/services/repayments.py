"""Repayments: oldest installment first, interest before principal; overpayment refused; the
loan settles (and its pledge is released) when the last fen is paid. DOMAIN.md section 8.

Every repayment is booked to the ledger in the same transaction (services.ledger conventions); a
wrong one is taken back by a reversal, which undoes its allocations and books the mirror entry.
Nothing is ever deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from fintech.access import require_acts_for
from fintech.errors import (
    AmountOverLimit,
    DatesOutOfOrder,
    DuplicateTransactionId,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RepaymentAlreadyReversed,
    RepaymentNotLatest,
)
from fintech.models import (
    ApplicationStatus,
    EntryKind,
    Installment,
    InstallmentStatus,
    JournalEntry,
    Loan,
    LoanStatus,
    OrganizationKind,
    PledgedPatent,
    Policy,
    PolicyStatus,
    RepaymentReversal,
    User,
)
from fintech.models.loans import Pledge
from fintech.models.repayments import Prepayment, Repayment, RepaymentAllocation
from fintech.money import ZERO, format_money

from .audit import audit_record
from .clawbacks import entitlements_unwind
from .common import ensure_not_future
from .ledger import (
    BANK_CASH,
    INTEREST_INCOME,
    LOANS_RECEIVABLE,
    SME_CASH,
    SME_INTEREST_EXPENSE,
    SME_LOANS_PAYABLE,
    Leg,
    ledger_post,
    ledger_reverse,
)
from .transitions import application_lock, application_transition, record_transition


# The rules a reversal can break (409). They belong with the hierarchy in fintech.errors; they live
# here until that module takes them, and the API answers them like any other DomainError.
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


def repayment_legs(loan: Loan, principal: Decimal, interest: Decimal) -> list[Leg]:
    """The ledger legs of a repayment: the bank's books and the SME's (services.ledger)."""
    return [
        Leg(BANK_CASH, LOANS_RECEIVABLE, principal, loan.bank_id),
        Leg(BANK_CASH, INTEREST_INCOME, interest, loan.bank_id),
        Leg(SME_LOANS_PAYABLE, SME_CASH, principal, loan.sme_id),
        Leg(SME_INTEREST_EXPENSE, SME_CASH, interest, loan.sme_id),
    ]


def repayment_post(repayment: Repayment, *, actor: User | None = None) -> JournalEntry | None:
    """Book a repayment from its allocations (once: an existing entry is returned). Also books a
    repayment recorded before the ledger existed, so a reversal always has an entry to mirror."""
    loan = repayment.loan
    principal = interest = ZERO
    for part in repayment.allocations.all():
        principal += part.principal
        interest += part.interest
    return ledger_post(
        kind=EntryKind.REPAYMENT,
        booked_on=repayment.paid_on,
        source=repayment,
        legs=repayment_legs(loan, principal, interest),
        loan=loan,
        program=loan.program,
        memo=f"repayment {repayment.pk} of loan {loan.pk}"
        + (f", bank transaction {repayment.transaction_id}" if repayment.transaction_id else ""),
        actor=actor,
    )


def transaction_id_taken(bank_id: int, transaction_id: str) -> bool:
    """Whether a repayment with this bank transaction id was already recorded for the bank."""
    return Repayment.objects.filter(bank_id=bank_id, transaction_id=transaction_id).exists()


def _lock_loan(loan_id: int, *, no_key: bool = False) -> tuple[Loan, object]:
    """Lock the application, then the loan: the order every servicing write takes. `no_key`: FOR
    NO KEY UPDATE, which still excludes every other servicing write but lets a transaction that
    references the loan (a subsidy chunk or run inserting entitlements, whose deferred foreign-key
    checks take FOR KEY SHARE at commit) commit meanwhile."""
    loan = Loan.objects.get(pk=loan_id)
    app = application_lock(loan.application_id)
    return Loan.objects.select_for_update(no_key=no_key).get(pk=loan_id), app


@transaction.atomic
def repayment_record(
    *, actor: User, loan_id: int, amount: Decimal, paid_on: date, transaction_id: str = ""
) -> Repayment:
    """Apply a repayment reported by the loan's bank and book it; refuses more than the loan
    still owes. A transaction id is taken once per bank (the database's unique constraint)."""
    loan, app = _lock_loan(loan_id)
    require_acts_for(actor, OrganizationKind.BANK, loan, _("Only the loan's bank records repayments."))
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(loan, "record a repayment")
    if amount <= 0:
        raise InvalidInput.on("amount", _("The amount must be above zero."))
    ensure_not_future(paid_on, "paid_on")
    assert loan.disbursed_on is not None
    if paid_on < loan.disbursed_on:
        raise DatesOutOfOrder(
            _("A repayment (%(paid_on)s) cannot precede the disbursement (%(disbursed_on)s).")
            % {"paid_on": paid_on, "disbursed_on": loan.disbursed_on},
            fields={
                "paid_on": [
                    _("Not before the disbursement date %(disbursed_on)s.")
                    % {"disbursed_on": loan.disbursed_on}
                ]
            },
        )
    last = last_value_date(loan)
    if last is not None and paid_on < last:
        raise DatesOutOfOrder(
            _("A repayment (%(paid_on)s) cannot precede the loan's last repayment (%(last)s).")
            % {"paid_on": paid_on, "last": last},
            fields={"paid_on": [_("Not before the last repayment's value date %(last)s.") % {"last": last}]},
        )
    rows = list(Installment.objects.select_for_update().filter(loan=loan).order_by("seq"))
    owed = sum((r.principal_due - r.principal_paid + r.interest_due - r.interest_paid for r in rows), ZERO)
    if amount > owed:
        raise AmountOverLimit(
            _("The loan still owes %(owed)s; %(amount)s is more.")
            % {"owed": format_money(owed), "amount": format_money(amount)},
            fields={"amount": [_("At most %(owed)s.") % {"owed": format_money(owed)}]},
        )
    # A friendly answer; the unique constraint (bank, transaction_id) is the guarantee under races.
    if transaction_id and transaction_id_taken(loan.bank_id, transaction_id):
        raise DuplicateTransactionId(
            _("Bank transaction %(transaction_id)s has already been applied.")
            % {"transaction_id": transaction_id},
            fields={"transaction_id": [_("Already applied.")]},
        )
    return repayment_apply(actor, loan, app, rows, amount, paid_on, transaction_id)


def last_value_date(loan: Loan) -> date | None:
    """The value date of the loan's latest standing repayment or prepayment: later money movements
    may not precede it."""
    dates = [
        Repayment.objects.filter(loan=loan, reversal__isnull=True)
        .order_by("-paid_on")
        .values_list("paid_on", flat=True)
        .first(),
        Prepayment.objects.filter(loan=loan)
        .order_by("-value_date")
        .values_list("value_date", flat=True)
        .first(),
    ]
    known = [d for d in dates if d is not None]
    return max(known) if known else None


def repayment_apply(
    actor: User,
    loan: Loan,
    app: object,
    rows: list[Installment],
    amount: Decimal,
    paid_on: date,
    transaction_id: str = "",
) -> Repayment:
    """Allocate a checked amount over the locked installment rows, book it and audit it; the loan
    settles when it pays the last fen (inside the caller's transaction)."""
    owed = sum((r.principal_due - r.principal_paid + r.interest_due - r.interest_paid for r in rows), ZERO)
    repayment = Repayment.objects.create(
        loan=loan,
        bank_id=loan.bank_id,
        amount=amount,
        paid_on=paid_on,
        transaction_id=transaction_id,
        recorded_by=actor,
    )
    plan = allocate(
        [r for r in rows if r.status not in (InstallmentStatus.PAID, InstallmentStatus.PAID_LATE)], amount
    )
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
    repayment_post(repayment, actor=actor)
    audit_record(
        actor=actor,
        action="repayment.record",
        obj=loan,
        amount=amount,
        payload={
            "repayment": repayment.pk,
            "paid_on": paid_on,
            "transaction_id": transaction_id,
            "allocations": [[p.seq, p.principal, p.interest] for _, p in plan],
        },
    )
    if amount == owed:
        _settle(actor, loan, app, paid_on)
    return repayment


@transaction.atomic
def repayment_reverse(*, actor: User, repayment_id: int, reversed_on: date, reason: str) -> RepaymentReversal:
    """Take back a wrong repayment: its allocations are undone on the installments, the mirror
    entry is booked on `reversed_on`, and a reversal row and an audit row are written.

    Only the loan's most recent standing repayment may be reversed (later allocations were
    computed on top of it), and only while the loan is active: a loan the repayment settled has
    moved its application to `settled`, a transition that is not reversible.
    """
    found = Repayment.objects.filter(pk=repayment_id).only("loan_id").first()
    if found is None:
        raise NotFound(_("Repayment not found."))
    # FOR NO KEY UPDATE on the loan and its installments, then the subsidy runs, then their
    # entitlements (clawbacks.entitlements_unwind): a subsidy chunk or run finishing holds
    # entitlement and event-stream rows this reversal may wait for, and takes FOR KEY SHARE on the
    # loan, its installments and the run only at its commit (deferred foreign-key checks); FOR
    # UPDATE on any of them here would make each wait for the other (PostgreSQL aborts one).
    loan, _app = _lock_loan(found.loan_id, no_key=True)
    require_acts_for(actor, OrganizationKind.BANK, loan, _("Only the loan's bank reverses its repayments."))
    repayment = Repayment.objects.select_for_update().get(pk=repayment_id)
    if RepaymentReversal.objects.filter(repayment=repayment).exists():
        raise RepaymentAlreadyReversed(
            _("Repayment %(pk)s has already been reversed.") % {"pk": repayment.pk}
        )
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(
            loan,
            "reverse the repayment",
            (
                _("Cannot reverse the repayment: the loan is '%(status)s' (settled loans are not reopened).")
                if loan.status == LoanStatus.SETTLED
                else _("Cannot reverse the repayment: the loan is '%(status)s'.")
            )
            % {"status": loan.get_status_display()},
        )
    latest = Repayment.objects.filter(loan=loan, reversal__isnull=True).order_by("-id").first()
    if latest is None or latest.pk != repayment.pk:
        raise RepaymentNotLatest(
            _(
                "Repayment %(pk)s is not the loan's most recent standing repayment (that is %(latest)s): "
                "reverse the later ones first."
            )
            % {"pk": repayment.pk, "latest": latest.pk if latest else pgettext("no record", "none")}
        )
    later = Prepayment.objects.filter(loan=loan, value_date__gte=repayment.paid_on).exclude(
        repayment=repayment
    )
    if later.exists():
        raise RepaymentNotLatest(
            _(
                "Repayment %(pk)s came before a prepayment that rebuilt the schedule; it can no longer be "
                "reversed."
            )
            % {"pk": repayment.pk}
        )
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput.on("reason", _("Say why the repayment is reversed."))
    ensure_not_future(reversed_on, "reversed_on")
    if reversed_on < repayment.paid_on:
        raise DatesOutOfOrder(
            _("A reversal (%(reversed_on)s) cannot precede the repayment (%(paid_on)s).")
            % {"reversed_on": reversed_on, "paid_on": repayment.paid_on},
            fields={
                "reversed_on": [
                    _("Not before the repayment's value date %(paid_on)s.") % {"paid_on": repayment.paid_on}
                ]
            },
        )
    # Past due is judged on the later of the reversal date and the loan's last daily close, the
    # date up to which the close has already marked installments overdue.
    as_of = max(reversed_on, loan.last_closed_on or reversed_on)
    parts = list(repayment.allocations.select_related("installment").order_by("installment__seq"))
    rows = {
        row.pk: row
        for row in Installment.objects.select_for_update(no_key=True).filter(
            pk__in=[p.installment_id for p in parts]
        )
    }
    for part in parts:
        row = rows[part.installment_id]
        row.principal_paid -= part.principal
        row.interest_paid -= part.interest
        row.paid_on = None  # an allocation is never zero, so the installment is no longer complete
        row.status = InstallmentStatus.OVERDUE if row.due_on < as_of else InstallmentStatus.DUE
        row.save(update_fields=["principal_paid", "interest_paid", "paid_on", "status"])
    reversal = RepaymentReversal.objects.create(
        repayment=repayment, reversed_on=reversed_on, reason=reason[:500], reversed_by=actor
    )
    # A subsidy earned on the strength of this repayment is cancelled, or clawed back if paid.
    subsidies = entitlements_unwind(
        actor=actor, reversal=reversal, installment_ids=[p.installment_id for p in parts], reason=reason
    )
    entry = repayment_post(repayment, actor=actor)
    if entry is not None:
        ledger_reverse(
            entry=entry,
            booked_on=reversed_on,
            source=reversal,
            actor=actor,
            memo=f"reversal of repayment {repayment.pk} of loan {loan.pk}",
        )
    audit_record(
        actor=actor,
        action="repayment.reverse",
        obj=repayment,
        from_state="applied",
        to_state="reversed",
        reason=reason,
        amount=repayment.amount,
        payload={
            "loan": loan.pk,
            "reversal": reversal.pk,
            "reversed_on": reversed_on,
            "allocations": [[p.installment.seq, p.principal, p.interest] for p in parts],
            "subsidies": subsidies,
        },
    )
    return reversal


def _settle(actor: User, loan: Loan, app: object, on: date) -> None:
    """All paid: the loan settles, the pledge is released and the policy's cover ends (inside the
    caller's transaction)."""
    loan.settled_on = on
    record_transition(loan, "settle", actor=actor, fields=("settled_on",), payload={"settled_on": on})
    pledge = Pledge.objects.filter(loan=loan).first()
    if pledge is not None:
        PledgedPatent.objects.filter(pledge=pledge, is_active=True).update(is_active=False)
        pledge.released_on = on
        pledge.save(update_fields=["released_on"])
        audit_record(
            actor=actor, action="pledge.release", obj=pledge, from_state="active", to_state="released"
        )
    policy = Policy.objects.select_for_update().get(pk=loan.policy_id)
    if policy.status == PolicyStatus.ACTIVE:
        record_transition(policy, "expire", actor=actor, reason=f"loan {loan.pk} settled on {on}")
    if getattr(app, "status", None) == ApplicationStatus.ACTIVE:
        application_transition(app, "settle", actor=actor)  # type: ignore[arg-type]
