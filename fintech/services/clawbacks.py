"""Subsidies on installments whose repayment was reversed (DOMAIN.md 8a).

An interest entitlement not yet paid is cancelled with the reason (an approved one also gives back
its accrual in the ledger, and its run's total drops); one already paid is clawed back: a
clawback row waits for the programme's next run, which nets it against what it pays the SME;
what the run cannot net stays a receivable from the SME. Each step is in the ledger and the audit
log, inside the reversal's (or the run payment's) transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db.models import Sum

from fintech.models import (
    ClawbackStatus,
    EntitlementStatus,
    EntryKind,
    RepaymentReversal,
    SubsidyClawback,
    SubsidyEntitlement,
    SubsidyKind,
    SubsidyRun,
    SubsidyRunStatus,
    User,
)
from fintech.money import ZERO

from .audit import audit_record
from .common import business_today
from .ledger import (
    CLAWBACK_RECEIVABLE,
    SME_CASH,
    SME_CLAWBACK_PAYABLE,
    SME_SUBSIDY_INCOME,
    SUBSIDIES_PAYABLE,
    SUBSIDY_EXPENSE,
    Leg,
    ledger_post,
)


def _government(run: SubsidyRun) -> int | None:
    """The regulator whose books carry the run's subsidy expense (the approver's organisation)."""
    approver = run.approved_by
    return approver.organization_id if approver is not None else None


def _runs_lock(run_ids: Iterable[int]) -> dict[int, SubsidyRun]:
    """Lock these runs in id order, FOR NO KEY UPDATE: it still serialises the reversal with a
    run's finish, approval and payment (FOR UPDATE), which change the status and totals read here,
    but not with the FOR KEY SHARE a subsidy chunk's deferred foreign-key checks take on its run at
    commit, while the chunk holds entitlement and event-stream rows this transaction may wait for."""
    return {
        run.pk: run
        for run in SubsidyRun.objects.select_for_update(no_key=True, of=("self",))
        .select_related("approved_by")
        .filter(pk__in=sorted(set(run_ids)))
        .order_by("pk")
    }


def entitlements_unwind(
    *, actor: User, reversal: RepaymentReversal, installment_ids: Iterable[int], reason: str
) -> list[str]:
    """Cancel or claw back the interest entitlements of installments a reversal made unpaid;
    returns one line per entitlement for the reversal's audit payload.

    The runs are locked before their entitlements, the order of every other writer of both (a
    run's finish, approval and payment lock the run, then update its entitlements): an
    entitlement locked first and its run second would deadlock with a finishing run."""
    done: list[str] = []
    entitlements = (
        SubsidyEntitlement.objects.filter(installment_id__in=list(installment_ids), kind=SubsidyKind.INTEREST)
        .exclude(status=EntitlementStatus.CANCELLED)
        # one already clawed back (an earlier reversal of the same installment) is taken back once
        .filter(clawback__isnull=True)
        .order_by("id")
    )
    runs = _runs_lock(entitlements.values_list("run_id", flat=True))
    locked = list(entitlements.select_for_update(of=("self",)))
    # A run that took an entitlement over meanwhile (a failed run's, adopted by the next run of its
    # period) is locked too; rare, and that run has just started.
    runs.update(_runs_lock(e.run_id for e in locked if e.run_id not in runs))
    why = f"repayment {reversal.repayment_id} reversed on {reversal.reversed_on}: {reason}"
    for entitlement in locked:
        run = runs[entitlement.run_id]
        if entitlement.status == EntitlementStatus.PAID:
            done.append(_claw_back(actor, entitlement, run, reversal, why))
        else:
            done.append(_cancel(actor, entitlement, run, why))
    return done


def _cancel(actor: User, entitlement: SubsidyEntitlement, run: SubsidyRun, why: str) -> str:
    before = entitlement.status
    entitlement.status = EntitlementStatus.CANCELLED
    entitlement.cancel_reason = why[:300]
    entitlement.save(update_fields=["status", "cancel_reason"])
    if run.status in (SubsidyRunStatus.COMPUTED, SubsidyRunStatus.APPROVED):
        # The run's total is what its approval accrues and its payment pays: no longer this one.
        run.interest_total -= entitlement.amount
        run.save(update_fields=["interest_total"])
    if before == EntitlementStatus.APPROVED:
        ledger_post(
            kind=EntryKind.SUBSIDY_CANCEL,
            booked_on=business_today(),
            source=entitlement,
            legs=[Leg(SUBSIDIES_PAYABLE, SUBSIDY_EXPENSE, entitlement.amount, _government(run))],
            loan=entitlement.loan,
            program=run.program,
            memo=f"subsidy {entitlement.pk} cancelled ({why})",
            actor=actor,
        )
    audit_record(
        actor=actor,
        action="subsidy_entitlement.cancel",
        obj=entitlement,
        from_state=before,
        to_state=EntitlementStatus.CANCELLED,
        reason=why,
        amount=entitlement.amount,
    )
    return f"entitlement {entitlement.pk} cancelled"


def _claw_back(
    actor: User, entitlement: SubsidyEntitlement, run: SubsidyRun, reversal: RepaymentReversal, why: str
) -> str:
    if entitlement.amount <= 0:
        return f"entitlement {entitlement.pk} was paid 0.00: nothing to claw back"
    clawback = SubsidyClawback.objects.create(
        entitlement=entitlement,
        program_id=entitlement.program_id,
        sme_id=entitlement.sme_id,
        amount=entitlement.amount,
        reason=why[:500],
        reversal=reversal,
    )
    ledger_post(
        kind=EntryKind.SUBSIDY_CLAWBACK,
        booked_on=reversal.reversed_on,
        source=clawback,
        legs=[
            Leg(CLAWBACK_RECEIVABLE, SUBSIDY_EXPENSE, clawback.amount, _government(run)),
            Leg(SME_SUBSIDY_INCOME, SME_CLAWBACK_PAYABLE, clawback.amount, entitlement.sme_id),
        ],
        loan=entitlement.loan,
        program=run.program,
        memo=f"subsidy {entitlement.pk} clawed back ({why})",
        actor=actor,
    )
    audit_record(
        actor=actor,
        action="subsidy_clawback.create",
        obj=clawback,
        to_state=ClawbackStatus.PENDING,
        reason=why,
        amount=clawback.amount,
        payload={"entitlement": entitlement.pk, "run": run.pk},
    )
    return f"entitlement {entitlement.pk} clawed back"


def clawbacks_attach(run: SubsidyRun) -> Decimal:
    """The programme's clawbacks waiting for a run join this one (when it is computed); their
    total is the run's clawback total."""
    SubsidyClawback.objects.filter(program_id=run.program_id, status=ClawbackStatus.PENDING).update(
        run=run, status=ClawbackStatus.IN_RUN
    )
    return SubsidyClawback.objects.filter(run=run).aggregate(s=Sum("amount"))["s"] or ZERO


def clawbacks_net(
    *, actor: User, run: SubsidyRun, paid_to_sme: dict[int, Decimal]
) -> tuple[Decimal, list[Leg]]:
    """At the run's payment: net each SME's clawbacks against what the run pays it (oldest first);
    the rest of each becomes a receivable. Returns the total netted and the SME's ledger legs."""
    left = dict(paid_to_sme)
    netted_total = ZERO
    per_sme: dict[int, Decimal] = {}
    for clawback in SubsidyClawback.objects.select_for_update().filter(run=run).order_by("id"):
        netted = min(left.get(clawback.sme_id, ZERO), clawback.amount)
        left[clawback.sme_id] = left.get(clawback.sme_id, ZERO) - netted
        clawback.netted_amount, clawback.receivable_amount = netted, clawback.amount - netted
        clawback.status = ClawbackStatus.NETTED if netted == clawback.amount else ClawbackStatus.RECEIVABLE
        clawback.save(update_fields=["netted_amount", "receivable_amount", "status"])
        audit_record(
            actor=actor,
            action="subsidy_clawback.net",
            obj=clawback,
            from_state=ClawbackStatus.IN_RUN,
            to_state=clawback.status,
            amount=netted,
            payload={"run": run.pk, "receivable": clawback.receivable_amount},
        )
        netted_total += netted
        per_sme[clawback.sme_id] = per_sme.get(clawback.sme_id, ZERO) + netted
    legs = [Leg(SME_CLAWBACK_PAYABLE, SME_CASH, amount, sme_id) for sme_id, amount in sorted(per_sme.items())]
    return netted_total, legs
