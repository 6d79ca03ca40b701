"""Defaults (DOMAIN.md sections 8 and 10): declared by the loan's bank or by the daily close. The
loss at the default date is split insurer : government risk fund : bank by the programme's ratios
(stored on the loss event), the fund's share is drawn from its balance (any shortfall stays on
record as an unfunded liability), and the ledger, the policy claim and the audit trail follow.
"""

from __future__ import annotations

from datetime import date, timedelta

from django.db import transaction
from django.db.models import DateField, F, Max, QuerySet
from django.db.models.functions import Cast

from fintech.access import require_acts_for
from fintech.errors import DatesOutOfOrder, InvalidTransition, NotFound
from fintech.models import (
    EntryKind,
    FundMovement,
    FundMovementKind,
    Installment,
    InstallmentStatus,
    Loan,
    LoanStatus,
    LossEvent,
    OrganizationKind,
    Policy,
    PolicyStatus,
    Program,
    Repayment,
    User,
)
from fintech.money import ZERO
from fintech.rules.loss import InstallmentPaid, LossBreakdown, loss_at_default, split_loss
from fintech.rules.schedules import PlannedInstallment
from fintech.selectors.risk_pool import fund_balance

from .audit import audit_record
from .common import ensure_not_future
from .events import Change, events_emit
from .ledger import (
    BANK_CREDIT_LOSS,
    CLAIM_FUND,
    CLAIM_INSURER,
    DEFAULT_CLEARING,
    FUND_LOSS_EXPENSE,
    FUND_PAYABLE,
    INSURER_CLAIMS_EXPENSE,
    INSURER_PAYABLE,
    INTEREST_INCOME,
    LOANS_RECEIVABLE,
    Leg,
    ledger_post,
)
from .risk_pool import fund_keeper_id, program_loss_threshold_check
from .transitions import application_lock, application_transition, record_transition

# The API names the default date `declared_on`; errors point at that field.
DATE_FIELD = "declared_on"
OVERDUE_CHUNK = 2000  # installments per UPDATE and per events_emit call


def last_repayment_on(loan_id: int) -> date | None:
    """The value date of the loan's latest repayment that stands (reversed ones do not count)."""
    found: date | None = Repayment.objects.filter(loan_id=loan_id, reversal__isnull=True).aggregate(
        last=Max("paid_on")
    )["last"]
    return found


def installments_mark_overdue(installments: QuerySet[Installment], *, before: date) -> int:
    """The overdue rule of DOMAIN.md section 8, for the close and for a default alike: installments
    of `installments` due before `before` (a business date less the grace days) and not fully paid
    become overdue. A part-paid installment is "due" until then like an unpaid one; a paid one is
    never touched. The status condition is re-checked on each row as it is locked, so a repayment
    that completed an installment meanwhile keeps it paid. Returns the number marked."""
    return _overdue_mark(installments.filter(status=InstallmentStatus.DUE, due_on__lt=before))


def _overdue_mark(installments: QuerySet[Installment]) -> int:
    """Lock the installments (the status condition re-checked on each locked row), mark them overdue
    with one UPDATE and write their `installment.overdue` events, by chunks of ids."""
    ids = list(installments.select_for_update().order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), OVERDUE_CHUNK):
        part = ids[start : start + OVERDUE_CHUNK]
        Installment.objects.filter(pk__in=part).update(status=InstallmentStatus.OVERDUE)
        rows = Installment.objects.filter(pk__in=part).values_list("pk", "seq", "due_on").order_by("pk")
        events_emit(
            "installment.overdue",
            Installment,
            [
                Change(
                    pk,
                    {"from_state": "due", "to_state": "overdue", "details": {"seq": seq, "due_on": str(due)}},
                )
                for pk, seq, due in rows
            ],
        )
    return len(ids)


def defaulted_installments_mark_overdue() -> int:
    """Installments of defaulted loans that were past due (grace included) on the default date and
    still read "due": set-based, one UPDATE per grace value. A default marks them itself; this
    catches up loans defaulted before it did (a bank's back-dated declaration), so every defaulted
    loan reads as one defaulted by the close. Installments due after the default date are not
    touched: the default ends the schedule there (section 10 counts no later interest)."""
    defaulted = Loan.objects.filter(status=LoanStatus.DEFAULTED, defaulted_on__isnull=False)
    marked = 0
    for grace in sorted(set(defaulted.order_by().values_list("grace_days", flat=True).distinct())):
        # Cast back to a date: date - interval is a timestamp (PostgreSQL) or a text (SQLite).
        before = (
            Cast(F("loan__defaulted_on") - timedelta(days=grace), DateField())
            if grace
            else F("loan__defaulted_on")
        )
        marked += _overdue_mark(
            Installment.objects.filter(
                loan__in=defaulted.filter(grace_days=grace), status=InstallmentStatus.DUE, due_on__lt=before
            )
        )
    return marked


def loan_loss(rows: list[Installment], loan: Loan, default_on: date) -> LossBreakdown:
    """The loss of DOMAIN.md section 10 from the stored schedule and what was paid against it."""
    assert loan.disbursed_on is not None
    planned = [
        PlannedInstallment(
            seq=r.seq,
            start_on=r.start_on,
            due_on=r.due_on,
            days=r.days,
            opening_principal=r.opening_principal,
            principal_due=r.principal_due,
            interest_due=r.interest_due,
        )
        for r in rows
    ]
    paid = {
        r.seq: InstallmentPaid(principal_paid=r.principal_paid, interest_paid=r.interest_paid) for r in rows
    }
    return loss_at_default(planned, paid, loan.disbursed_on, loan.annual_rate, default_on)


def _check_dates(loan: Loan, default_on: date) -> None:
    ensure_not_future(default_on, DATE_FIELD)
    assert loan.disbursed_on is not None  # an active loan is disbursed (loan_active_is_disbursed)
    if default_on < loan.disbursed_on:
        raise DatesOutOfOrder(
            f"A default ({default_on}) cannot precede the disbursement ({loan.disbursed_on}).",
            fields={DATE_FIELD: [f"Not before the disbursement date {loan.disbursed_on}."]},
        )
    last_paid = last_repayment_on(loan.pk)
    if last_paid is not None and default_on < last_paid:
        raise DatesOutOfOrder(
            f"A default ({default_on}) cannot precede the last repayment ({last_paid}).",
            fields={DATE_FIELD: [f"Not before the last repayment's value date {last_paid}."]},
        )


@transaction.atomic
def loan_default_declare(*, actor: User | None, loan_id: int, default_on: date, reason: str) -> LossEvent:
    """Default an active loan on `default_on` (its bank, or the daily close when actor is None).

    Writes the loss event with its split and stored ratios, the fund's draw, the ledger entry
    "loss", the loan/application/policy transitions and their audit rows; may suspend the
    programme once its losses pass the loss threshold.
    """
    application_id = Loan.objects.filter(pk=loan_id).values_list("application_id", flat=True).first()
    if application_id is None:
        raise NotFound("Loan not found.")
    # Lock order of every loan write (services.repayments): application, loan, installments. A
    # repayment racing this default waits, then finds the loan defaulted (409); or it went first,
    # and the state re-checked below is the state after it.
    app = application_lock(application_id)
    loan = Loan.objects.select_for_update().get(pk=loan_id)
    if actor is not None:
        require_acts_for(actor, OrganizationKind.BANK, loan, "Only the loan's bank declares a default.")
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition(loan.status, "declare a default")
    _check_dates(loan, default_on)
    rows = list(Installment.objects.select_for_update().filter(loan=loan).order_by("seq"))
    loss = loan_loss(rows, loan, default_on)
    # Whatever path defaults the loan, the installments past due on the default date read overdue
    # (the close has marked them already when it is the close defaulting the loan).
    installments_mark_overdue(
        Installment.objects.filter(loan=loan), before=default_on - timedelta(days=loan.grace_days)
    )

    # The programme row serialises the draws on its fund: each sees the balance the previous left.
    program = Program.objects.select_for_update().get(pk=loan.program_id)
    ratios = (program.insurer_share, program.government_share, program.bank_share)
    insurer_share, government_share, bank_share = split_loss(loss.loss_amount, ratios)
    balance_before = fund_balance(program.pk)
    unfunded = max(ZERO, government_share - max(balance_before, ZERO))
    event = LossEvent.objects.create(
        loan=loan,
        program=program,
        default_on=default_on,
        declared_by=actor,
        reason=reason[:500],
        unpaid_principal=loss.unpaid_principal,
        unpaid_interest=loss.unpaid_interest,
        accrued_interest=loss.accrued_interest,
        loss_amount=loss.loss_amount,
        insurer_ratio=ratios[0],
        government_ratio=ratios[1],
        bank_ratio=ratios[2],
        insurer_share=insurer_share,
        government_share=government_share,
        bank_share=bank_share,
        fund_balance_before=balance_before,
        unfunded_amount=unfunded,
    )
    shares = {"insurer": insurer_share, "government": government_share, "bank": bank_share}
    audit_record(
        actor=actor,
        action="loss.record",
        obj=event,
        amount=loss.loss_amount,
        reason=reason,
        payload={
            "loan": loan.pk,
            "default_on": default_on,
            "unpaid_principal": loss.unpaid_principal,
            "unpaid_interest": loss.unpaid_interest,
            "accrued_interest": loss.accrued_interest,
            "accrued_from": loss.accrual_from,
            "accrued_days": loss.days,
            "ratios": {"insurer": ratios[0], "government": ratios[1], "bank": ratios[2]},
            "shares": shares,
        },
    )
    if government_share > 0:
        draw = FundMovement.objects.create(
            program=program,
            kind=FundMovementKind.DRAW,
            amount=government_share,
            on=default_on,
            loss_event=event,
            created_by=actor,
        )
        audit_record(
            actor=actor,
            action="fund.draw",
            obj=draw,
            amount=government_share,
            payload={"loss_event": event.pk, "balance_before": balance_before, "unfunded": unfunded},
        )

    loan.defaulted_on = default_on
    record_transition(
        loan,
        "default",
        actor=actor,
        fields=("defaulted_on",),
        reason=reason,
        amount=loss.loss_amount,
        payload={"default_on": default_on, "loss_event": event.pk, "by": "bank" if actor else "daily close"},
    )
    application_transition(app, "default", actor=actor, reason=reason, payload={"default_on": default_on})
    policy = Policy.objects.select_for_update().get(pk=loan.policy_id)
    if policy.status != PolicyStatus.CLAIMED:
        payload = {"loss_event": event.pk}
        record_transition(policy, "claim", actor=actor, amount=insurer_share, payload=payload)

    _post_loss(event, loan, program, policy.insurer_id, actor)
    program_loss_threshold_check(program, actor=actor)
    return event


def _post_loss(event: LossEvent, loan: Loan, program: Program, insurer_id: int, actor: User | None) -> None:
    """The ledger entry of services.ledger "loss at default": the unpaid principal and interest move
    to the clearing account, which the three shares then clear."""
    interest = event.unpaid_interest + event.accrued_interest
    ledger_post(
        kind=EntryKind.LOSS,
        booked_on=event.default_on,
        source=event,
        loan=loan,
        program=program,
        actor=actor,
        memo=f"loss at default of loan {loan.pk} on {event.default_on}",
        legs=[
            Leg(DEFAULT_CLEARING, LOANS_RECEIVABLE, event.unpaid_principal, loan.bank_id),
            Leg(DEFAULT_CLEARING, INTEREST_INCOME, interest, loan.bank_id),
            Leg(CLAIM_INSURER, DEFAULT_CLEARING, event.insurer_share, loan.bank_id),
            Leg(CLAIM_FUND, DEFAULT_CLEARING, event.government_share, loan.bank_id),
            Leg(BANK_CREDIT_LOSS, DEFAULT_CLEARING, event.bank_share, loan.bank_id),
            Leg(INSURER_CLAIMS_EXPENSE, INSURER_PAYABLE, event.insurer_share, insurer_id),
            Leg(FUND_LOSS_EXPENSE, FUND_PAYABLE, event.government_share, fund_keeper_id(loan.sme.region_id)),
        ],
    )
