"""The risk pool after default (DOMAIN.md section 10): recoveries shared back by the loss event's
stored ratios, the insurer's and the fund's settlements to the bank (four-eyes approved), the
government risk fund's top-ups, and the programme's loss threshold.

Every write of one loss event locks its row first, so recoveries and settlements of the same
loss are serialised and their caps are checked against committed figures.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Min, OuterRef, Subquery, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fintech.access import SETTLING_ROLE, belongs_to, is_platform, require_acts_for
from fintech.errors import (
    ACTIONS,
    AmountOverLimit,
    DatesOutOfOrder,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RoleNotAllowed,
    SamePersonApproval,
)
from fintech.models import (
    EntryKind,
    FundMovement,
    FundMovementKind,
    Loan,
    LossEvent,
    OrganizationKind,
    Program,
    Recovery,
    Settlement,
    SettlementParty,
    SettlementStatus,
    User,
)
from fintech.money import ZERO, format_money
from fintech.rules.loss import split_loss
from fintech.selectors.risk_pool import PARTIES, fund_program_for, loss_event_position

from .audit import audit_record
from .common import ensure_not_future
from .ledger import (
    BANK_CASH,
    BANK_CREDIT_LOSS,
    CLAIM_FUND,
    CLAIM_INSURER,
    FUND_CAPITAL,
    FUND_CASH,
    FUND_LOSS_EXPENSE,
    FUND_PAYABLE,
    INSURER_CASH,
    INSURER_CLAIMS_EXPENSE,
    INSURER_PAYABLE,
    Leg,
    ledger_post,
)

K = OrganizationKind


def _positive(amount: Decimal) -> None:
    if amount <= 0:
        raise InvalidInput.on("amount", _("The amount must be above zero."))


def _not_before_default(on: date, event: LossEvent, field: str) -> None:
    ensure_not_future(on, field)
    if on < event.default_on:
        raise DatesOutOfOrder(
            _("%(field)s %(on)s cannot precede the default (%(default_on)s).")
            % {"field": field, "on": on, "default_on": event.default_on},
            fields={
                field: [_("Not before the default date %(default_on)s.") % {"default_on": event.default_on}]
            },
        )


def _loss_event_locked(loan_id: int, action: str) -> LossEvent:
    """The loan's loss event, locked for the rest of the transaction; 409 unless defaulted."""
    event = (
        LossEvent.objects.select_for_update(of=("self",))
        .select_related("loan", "loan__sme", "loan__policy", "program")
        .filter(loan_id=loan_id)
        .first()
    )
    if event is None:
        loan = Loan.objects.filter(pk=loan_id).first()
        if loan is None:
            raise NotFound(_("Loan not found."))
        raise InvalidTransition.of(
            loan,
            action,
            _("Cannot %(action)s: the loan has not defaulted.") % {"action": ACTIONS.get(action, action)},
        )
    return event


def fund_keeper_id(region_id: str) -> int | None:
    """The organisation whose books the fund's ledger legs touch: the regulator of the SME's
    region (the one that keeps the fund there); None while no regulator is onboarded."""
    return fund_keeper_ids([region_id]).get(region_id)


def fund_keeper_ids(region_ids: Iterable[str]) -> dict[str, int]:
    """`fund_keeper_id` of several regions in one query: region -> keeper (regions without one are
    left out)."""
    from fintech.models import Organization

    return dict(
        Organization.objects.filter(kind=K.REGULATOR, region_id__in=set(region_ids), is_active=True)
        .order_by()
        .values("region_id")
        .annotate(keeper=Min("id"))
        .values_list("region_id", "keeper")
    )


def fund_keepers_of_smes(sme_ids: Iterable[int]) -> dict[int, int | None]:
    """`fund_keeper_id` of the region of each of these SMEs, read with the SMEs in one query:
    SME -> keeper (None when its region has none)."""
    from fintech.models import Organization

    keepers = (
        Organization.objects.filter(kind=K.REGULATOR, region_id=OuterRef("region_id"), is_active=True)
        .order_by("pk")
        .values("pk")[:1]
    )
    return dict(
        Organization.objects.filter(pk__in=set(sme_ids))
        .order_by()
        .annotate(keeper=Subquery(keepers))
        .values_list("pk", "keeper")
    )


# --- recoveries ----------------------------------------------------------------------------------


def recovery_parts(
    amount: Decimal, ratios: tuple[Decimal, Decimal, Decimal], unrecovered: tuple[Decimal, Decimal, Decimal]
) -> tuple[Decimal, Decimal, Decimal]:
    """Split a recovery by the stored ratios (largest remainder), never giving a party more than
    its share still unrecovered.

    Splitting each recovery on its own can drift a fen per recovery from the split of their sum,
    which near the end could lift a party's recovered part above its share. A fen that would do so
    goes to the next party with room, in the order insurer, government, bank; the parts still sum
    to the recovery (the caller guarantees amount <= the total unrecovered).
    """
    parts = list(split_loss(amount, ratios))
    excess = ZERO
    for i, room in enumerate(unrecovered):
        if parts[i] > room:
            excess += parts[i] - room
            parts[i] = room
    for i, room in enumerate(unrecovered):
        if excess <= 0:
            break
        give = min(excess, room - parts[i])
        parts[i] += give
        excess -= give
    if excess > 0:
        raise ValueError("a recovery above the unrecovered loss cannot be split")
    insurer, government, bank = parts
    return insurer, government, bank


@transaction.atomic
def recovery_record(
    *, actor: User, loan_id: int, amount: Decimal, received_on: date, source: str
) -> Recovery:
    """Record money recovered on a defaulted loan (by its bank) and share it back insurer :
    government : bank by the loss event's ratios. Writes the Recovery, the fund's recovery
    movement (its part, when above zero), the ledger entry and the audit row."""
    event = _loss_event_locked(loan_id, "record a recovery")
    loan = event.loan
    require_acts_for(actor, K.BANK, loan, _("Only the loan's bank records recoveries."))
    _positive(amount)
    _not_before_default(received_on, event, "received_on")
    if not source.strip():
        raise InvalidInput.on("source", _("Say where the money came from."))
    position = loss_event_position(event)
    unrecovered = event.loss_amount - position.recovered.total
    if amount > unrecovered:
        raise AmountOverLimit(
            _("Recoveries may not exceed the loss: %(unrecovered)s is unrecovered; %(amount)s is more.")
            % {"unrecovered": format_money(unrecovered), "amount": format_money(amount)},
            fields={"amount": [_("At most %(unrecovered)s.") % {"unrecovered": format_money(unrecovered)}]},
        )
    insurer, government, bank = recovery_parts(
        amount,
        (event.insurer_ratio, event.government_ratio, event.bank_ratio),
        tuple(position.shares.of(p) - position.recovered.of(p) for p in PARTIES),  # type: ignore[arg-type]
    )
    recovery = Recovery.objects.create(
        loss_event=event,
        amount=amount,
        received_on=received_on,
        source=source.strip(),
        insurer_part=insurer,
        government_part=government,
        bank_part=bank,
        recorded_by=actor,
    )
    if government > 0:
        FundMovement.objects.create(
            program=event.program,
            kind=FundMovementKind.RECOVERY,
            amount=government,
            on=received_on,
            loss_event=event,
            recovery=recovery,
            created_by=actor,
        )
    ledger_post(
        kind=EntryKind.RECOVERY,
        booked_on=received_on,
        source=recovery,
        loan=loan,
        program=event.program,
        actor=actor,
        memo=f"recovery on loan {loan.pk}: {source.strip()}",
        legs=[
            Leg(INSURER_CASH, INSURER_CLAIMS_EXPENSE, insurer, loan.policy.insurer_id),
            Leg(FUND_CASH, FUND_LOSS_EXPENSE, government, fund_keeper_id(loan.sme.region_id)),
            Leg(BANK_CASH, BANK_CREDIT_LOSS, bank, loan.bank_id),
        ],
    )
    audit_record(
        actor=actor,
        action="recovery.record",
        obj=recovery,
        amount=amount,
        payload={
            "loan": loan.pk,
            "loss_event": event.pk,
            "received_on": received_on,
            "source": source,
            "parts": {"insurer": insurer, "government": government, "bank": bank},
        },
    )
    return recovery


# --- settlements ---------------------------------------------------------------------------------


_NOT_THE_PAYER = {
    SettlementParty.INSURER: gettext_lazy(
        "Only the insurer of the loan's policy settles the insurer's share."
    ),
    SettlementParty.GOVERNMENT: gettext_lazy(
        "Only a regulator of the SME's region settles the risk fund's share."
    ),
}


def _check_payer(actor: User, loan: Loan, party: str) -> None:
    """The insurer settles its share (the policy's insurer); a regulator of the SME's region
    settles the fund's share."""
    if party not in SETTLING_ROLE:
        raise InvalidInput.on("party", _('The party is "insurer" or "government".'))
    paying = SettlementParty(party)
    require_acts_for(actor, SETTLING_ROLE[paying], loan, _NOT_THE_PAYER[paying])


@transaction.atomic
def settlement_record(
    *, actor: User, loan_id: int, party: str, amount: Decimal, paid_on: date, reference: str
) -> Settlement:
    """Record the insurer's or the fund's payment of (part of) its share to the bank, pending a
    second person's approval. Approved plus pending settlements of a party never exceed its share
    less its part of the recoveries. Writes the Settlement and the audit row; the ledger entry is
    booked at approval."""
    if party not in SettlementParty.values:
        raise InvalidInput.on("party", _('The party is "insurer" or "government".'))
    event = _loss_event_locked(loan_id, "record a settlement")
    _check_payer(actor, event.loan, party)
    _positive(amount)
    _not_before_default(paid_on, event, "paid_on")
    if not reference.strip():
        raise InvalidInput.on("reference", _("The payment reference is required."))
    room = loss_event_position(event).settleable(party)
    if amount > room:
        raise AmountOverLimit(
            _("The %(party)s share still open for settlement is %(room)s; %(amount)s is more.")
            % {
                "party": SettlementParty(party).label,
                "room": format_money(room),
                "amount": format_money(amount),
            },
            fields={"amount": [_("At most %(room)s.") % {"room": format_money(room)}]},
        )
    assert actor.organization_id is not None  # _check_payer admits members of an organisation only
    settlement = Settlement.objects.create(
        loss_event=event,
        party=party,
        payer_id=actor.organization_id,
        amount=amount,
        paid_on=paid_on,
        reference=reference.strip(),
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action="settlement.record",
        obj=settlement,
        to_state=SettlementStatus.PENDING,
        amount=amount,
        payload={
            "loan": event.loan_id,
            "loss_event": event.pk,
            "party": party,
            "paid_on": paid_on,
            "reference": reference,
        },
    )
    return settlement


def _settlement_legs(settlement: Settlement, loan: Loan) -> list[Leg]:
    if settlement.party == SettlementParty.INSURER:
        payable, cash, claim = INSURER_PAYABLE, INSURER_CASH, CLAIM_INSURER
    else:
        payable, cash, claim = FUND_PAYABLE, FUND_CASH, CLAIM_FUND
    return [
        Leg(payable, cash, settlement.amount, settlement.payer_id),
        Leg(BANK_CASH, claim, settlement.amount, loan.bank_id),
    ]


@transaction.atomic
def settlement_approve(*, actor: User, settlement_id: int) -> Settlement:
    """A second member of the paying organisation approves a pending settlement (four eyes); the
    ledger entry and the audit row are written now. Another organisation's settlement is a 404."""
    settlement = Settlement.objects.select_for_update().filter(pk=settlement_id).first()
    if settlement is None or not (is_platform(actor) or belongs_to(actor, settlement.payer_id)):
        raise NotFound(_("Settlement not found."))
    if not belongs_to(actor, settlement.payer_id):
        raise RoleNotAllowed(_("Only a member of the paying organisation approves its settlement."))
    if settlement.status != SettlementStatus.PENDING:
        raise InvalidTransition.of(settlement, "approve the settlement")
    if settlement.created_by_id == actor.pk:
        raise SamePersonApproval()
    settlement.status = SettlementStatus.APPROVED
    settlement.approved_by = actor
    settlement.approved_at = timezone.now()
    settlement.save(update_fields=["status", "approved_by", "approved_at"])
    event = LossEvent.objects.select_related("loan", "program").get(pk=settlement.loss_event_id)
    ledger_post(
        kind=EntryKind.SETTLEMENT,
        booked_on=settlement.paid_on,
        source=settlement,
        loan=event.loan,
        program=event.program,
        actor=actor,
        memo=f"{settlement.party} settlement {settlement.reference}",
        legs=_settlement_legs(settlement, event.loan),
    )
    audit_record(
        actor=actor,
        action="settlement.approve",
        obj=settlement,
        from_state=SettlementStatus.PENDING,
        to_state=SettlementStatus.APPROVED,
        amount=settlement.amount,
        payload={"loan": event.loan_id, "party": settlement.party, "recorded_by": settlement.created_by_id},
    )
    return settlement


# --- the government risk fund --------------------------------------------------------------------


@transaction.atomic
def fund_top_up_record(*, actor: User, program_id: int, amount: Decimal, received_on: date) -> FundMovement:
    """A regulator of a region the programme serves records money paid into its risk fund.
    Writes the top-up movement, the ledger entry (fund cash <- fund capital) and the audit row."""
    program = fund_program_for(actor, program_id)
    require_acts_for(actor, K.REGULATOR, None, _("Only a regulator tops up the risk fund."))
    _positive(amount)
    ensure_not_future(received_on, "received_on")
    movement = FundMovement.objects.create(
        program=program, kind=FundMovementKind.TOP_UP, amount=amount, on=received_on, created_by=actor
    )
    ledger_post(
        kind=EntryKind.FUND_TOP_UP,
        booked_on=received_on,
        source=movement,
        program=program,
        actor=actor,
        memo=f"risk fund top-up, programme {program.code}",
        legs=[Leg(FUND_CASH, FUND_CAPITAL, amount, actor.organization_id)],
    )
    audit_record(
        actor=actor,
        action="fund.top_up",
        obj=movement,
        amount=amount,
        payload={"program": program.pk, "received_on": received_on},
    )
    return movement


# --- the programme's loss threshold --------------------------------------------------------------


@transaction.atomic
def program_loss_threshold_check(
    program: Program | int, *, actor: User | None = None, added: Sequence[Decimal] = ()
) -> bool:
    """Suspend the programme (no new applications) once the sum of its losses exceeds its loss
    threshold. Returns True when this call suspended it; a programme without a threshold, below
    it, or already suspended is left alone. Locks the programme row.

    `added`: the losses just written, in their order (the close's defaults of one chunk): the check
    is the one each of them would have made after its own default, so the programme is suspended
    at the first loss that passes the threshold, with the total at that point."""
    pk = program.pk if isinstance(program, Program) else program
    locked = Program.objects.select_for_update().get(pk=pk)
    if locked.loss_threshold_amount is None or not locked.is_active:
        return False
    total = LossEvent.objects.filter(program=locked).aggregate(total=Sum("loss_amount"))["total"] or ZERO
    running = [total]
    if added:
        running = []
        total -= sum(added, ZERO)
        for amount in added:
            total += amount
            running.append(total)
    crossing = next((t for t in running if t > locked.loss_threshold_amount), None)
    if crossing is None:
        return False
    total = crossing
    locked.is_active = False
    locked.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action="program.suspend",
        obj=locked,
        from_state="active",
        to_state="suspended",
        reason=f"Losses {format_money(total)} exceed the loss threshold"
        f" {format_money(locked.loss_threshold_amount)}.",
        amount=total,
        payload={"threshold": locked.loss_threshold_amount},
    )
    if isinstance(program, Program):
        program.is_active = False
    return True
