"""Loan-guarantee insurance: issue a policy, record premium payments (DOMAIN.md section 7)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils.translation import gettext as _

from fintech.access import require_acts_for
from fintech.errors import AmountOverLimit, DatesOutOfOrder, InvalidInput, InvalidTransition
from fintech.models import (
    ApplicationStatus,
    EntryKind,
    Loan,
    OrganizationKind,
    Policy,
    PolicyStatus,
    PremiumPayment,
    User,
)
from fintech.money import ZERO, format_money, round_fen

from .audit import audit_record
from .common import ensure_not_future
from .extensions import extension_awaiting_premium, extension_premium_record
from .ledger import INSURER_CASH, PREMIUM_INCOME, SME_CASH, SME_PREMIUM_EXPENSE, Leg, ledger_post
from .notifications import notify_on_commit
from .transitions import application_lock, application_transition, record_transition, require_status


def policy_premium(insured_amount: Decimal, premium_rate: Decimal, term_months: int) -> Decimal:
    """Premium = round(insured amount x annual premium rate x term months / 12), rounded once."""
    return round_fen(insured_amount * premium_rate * term_months / 12)


@transaction.atomic
def policy_issue(
    *, actor: User, application_id: int, premium_rate: Decimal, insured_amount: Decimal | None = None
) -> Policy:
    """The insurer underwrites: the application moves to bank review."""
    app = application_lock(application_id)
    require_acts_for(
        actor,
        OrganizationKind.INSURER,
        app,
        _("Only the insurer named on the application issues its policy."),
    )
    require_status(app, "issue a policy", ApplicationStatus.UNDERWRITING)
    program = app.program
    if not program.premium_rate_min <= premium_rate <= program.premium_rate_max:
        raise InvalidInput.on(
            "premium_rate",
            _("The premium rate must lie within the programme band %(lowest)s to %(highest)s a year.")
            % {
                "lowest": format(program.premium_rate_min.normalize(), "f"),
                "highest": format(program.premium_rate_max.normalize(), "f"),
            },
        )
    ceiling = app.credit_ceiling or Decimal(0)
    if insured_amount is None:
        insured_amount = min(app.requested_amount, ceiling)
    if insured_amount <= 0:
        raise InvalidInput.on("insured_amount", _("The insured amount must be above zero."))
    if insured_amount > ceiling:
        raise AmountOverLimit(
            _("The insured amount may not exceed the credit ceiling %(ceiling)s.")
            % {"ceiling": format_money(ceiling)},
            fields={
                "insured_amount": [
                    _("At most the credit ceiling %(ceiling)s.") % {"ceiling": format_money(ceiling)}
                ]
            },
        )
    # The policy guarantees the requested loan (DOMAIN.md 7): covering more would charge the SME a
    # premium on money it does not borrow.
    if insured_amount > app.requested_amount:
        raise AmountOverLimit(
            _("The insured amount may not exceed the requested amount %(requested_amount)s.")
            % {"requested_amount": format_money(app.requested_amount)},
            fields={
                "insured_amount": [
                    _("At most the requested amount %(requested_amount)s.")
                    % {"requested_amount": format_money(app.requested_amount)}
                ]
            },
        )
    policy = Policy.objects.create(
        application=app,
        insurer_id=app.insurer_id,
        policy_number=f"PLI{app.pk:010d}",
        insured_amount=insured_amount,
        premium_rate=premium_rate,
        term_months=app.term_months,
        premium=policy_premium(insured_amount, premium_rate, app.term_months),
        # Explicit, not the model's default 0: the instance is serialized as it is, money as Decimal.
        premium_paid_amount=ZERO,
        issued_by=actor,
    )
    audit_record(
        actor=actor,
        action="policy.issue",
        obj=policy,
        to_state=PolicyStatus.ISSUED,
        amount=policy.premium,
        payload={"insured_amount": insured_amount, "premium_rate": premium_rate},
    )
    application_transition(app, "policy_issued", actor=actor)
    notify_on_commit(app, app.bank, "bank_review")
    return policy


@transaction.atomic
def premium_payment_record(*, actor: User, policy_id: int, amount: Decimal, paid_on: date) -> PremiumPayment:
    """Record (part of) the premium; the policy becomes active when it is paid in full."""
    policy = Policy.objects.select_related("application").get(pk=policy_id)
    app = application_lock(policy.application_id)
    policy = Policy.objects.select_for_update().get(pk=policy_id)
    require_acts_for(actor, OrganizationKind.INSURER, policy, _("Only the insurer records premium payments."))
    extension = extension_awaiting_premium(policy) if policy.status == PolicyStatus.ACTIVE else None
    if extension is not None:
        # The endorsement premium of an extension (DOMAIN.md 8a): paid in full, the extension
        # takes effect.
        return extension_premium_record(
            actor=actor, policy=policy, extension_id=extension.pk, amount=amount, paid_on=paid_on
        )
    if policy.status != PolicyStatus.ISSUED:
        raise InvalidTransition.of(policy, "record a premium payment")
    require_status(app, "record a premium payment", ApplicationStatus.BANK_REVIEW, ApplicationStatus.APPROVED)
    if amount <= 0:
        raise InvalidInput.on("amount", _("The amount must be above zero."))
    ensure_not_future(paid_on, "paid_on")
    valuation_date = app.valuation.valuation_date
    if valuation_date and paid_on < valuation_date:
        raise DatesOutOfOrder(
            _("The premium cannot be paid (%(paid_on)s) before the valuation date (%(valuation_date)s).")
            % {"paid_on": paid_on, "valuation_date": valuation_date},
            fields={
                "paid_on": [
                    _("Not before the valuation date %(valuation_date)s.")
                    % {"valuation_date": valuation_date}
                ]
            },
        )
    outstanding = policy.premium - policy.premium_paid_amount
    if amount > outstanding:
        raise AmountOverLimit(
            _("Only %(outstanding)s of the premium is outstanding.")
            % {"outstanding": format_money(outstanding)},
            fields={"amount": [_("At most %(outstanding)s.") % {"outstanding": format_money(outstanding)}]},
        )
    payment = PremiumPayment.objects.create(policy=policy, amount=amount, paid_on=paid_on, recorded_by=actor)
    before = policy.status
    policy.premium_paid_amount += amount
    if policy.premium_paid_amount == policy.premium:
        policy.premium_paid()  # issued -> active (the transition; the audit row follows)
        # Paid "on" the day the last part arrived, whatever order the payments were reported in.
        earlier = policy.premium_payments.exclude(pk=payment.pk).aggregate(last=Max("paid_on"))["last"]
        policy.premium_paid_on = max(paid_on, earlier) if earlier else paid_on
    policy.save(update_fields=["premium_paid_amount", "status", "premium_paid_on"])
    audit_record(
        actor=actor,
        action="policy.premium_paid",
        obj=policy,
        from_state=before,
        to_state=policy.status,
        amount=amount,
        payload={"paid_on": paid_on, "payment": payment.pk},
    )
    ledger_post(
        kind=EntryKind.PREMIUM,
        booked_on=paid_on,
        source=payment,
        legs=[
            Leg(INSURER_CASH, PREMIUM_INCOME, amount, policy.insurer_id),
            Leg(SME_PREMIUM_EXPENSE, SME_CASH, amount, app.sme_id),
        ],
        loan=Loan.objects.filter(application=app).first(),
        program=app.program,
        memo=f"premium of policy {policy.policy_number}",
        actor=actor,
    )
    return payment


def policy_cancel(*, actor: User, policy: Policy, reason: str) -> None:
    """Cancel a policy whose application was declined (inside the caller's transaction)."""
    locked = Policy.objects.select_for_update().get(pk=policy.pk)
    if locked.status in (PolicyStatus.ISSUED, PolicyStatus.ACTIVE):
        record_transition(locked, "cancel", actor=actor, reason=reason)
