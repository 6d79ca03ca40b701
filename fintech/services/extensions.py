"""Extension (展期) of a loan's maturity (DOMAIN.md 8a).

At most once per loan and before maturity: the bank agrees a new maturity (a monthly due date of
the loan, at most the programme's maximum extension after the old maturity and never after a
pledged patent's expiry); the policy's insurer endorses it and sets the premium rate, the premium
being round(outstanding principal x rate x extra months / 12); the extension takes effect on the
day that premium is paid in full (services.policies routes the payment here). The schedule is then
rebuilt from the first period still open on the outstanding principal over the new remaining term,
by the loan's method; installments due after the old maturity are marked as extended (no interest
subsidy unless the programme says so). The schedule before is kept as a version.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fintech.access import require_acts_for
from fintech.errors import (
    AmountOverLimit,
    DatesOutOfOrder,
    ExtensionBeyondLimit,
    ExtensionExists,
    InvalidInput,
    InvalidTransition,
    MaturityAfterPatentExpiry,
    NotFound,
    PaidInAdvance,
)
from fintech.models import (
    Application,
    EntryKind,
    ExtensionStatus,
    Installment,
    Loan,
    LoanExtension,
    LoanStatus,
    OrganizationKind,
    Pledge,
    Policy,
    PremiumPayment,
    User,
)
from fintech.money import ZERO, format_money, round_fen
from fintech.rules.schedules import RepaymentMethod, add_months, rebuild_schedule

from .audit import audit_record
from .common import business_today, ensure_not_future
from .ledger import INSURER_CASH, PREMIUM_INCOME, SME_CASH, SME_PREMIUM_EXPENSE, Leg, ledger_post
from .prepayments import schedule_version_keep
from .repayments import _lock_loan
from .transitions import record_transition


def _months_after(start: date, day: date) -> int | None:
    """n such that `day` is the due date start + n months, if it is one."""
    n = (day.year - start.year) * 12 + day.month - start.month
    return n if n > 0 and add_months(start, n) == day else None


@transaction.atomic
def loan_extension_request(
    *, actor: User, loan_id: int, new_maturity_on: date, agreed_on: date
) -> LoanExtension:
    """The bank's agreement to extend the loan to `new_maturity_on` (pending the insurer's
    endorsement)."""
    loan, _app = _lock_loan(loan_id)
    require_acts_for(actor, OrganizationKind.BANK, loan, _("Only the loan's bank agrees an extension."))
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(loan, "extend the loan")
    if LoanExtension.objects.filter(loan=loan).exists():
        raise ExtensionExists(_("Loan %(pk)s has already been extended once.") % {"pk": loan.pk})
    ensure_not_future(agreed_on, "agreed_on")
    assert loan.disbursed_on is not None and loan.maturity_on is not None
    if not loan.disbursed_on <= agreed_on < loan.maturity_on:
        raise DatesOutOfOrder(
            _(
                "An extension is agreed from the disbursement (%(disbursed_on)s) to before the maturity "
                "(%(maturity_on)s), not on %(agreed_on)s."
            )
            % {"disbursed_on": loan.disbursed_on, "maturity_on": loan.maturity_on, "agreed_on": agreed_on},
            fields={
                "agreed_on": [
                    _("From %(disbursed_on)s to before %(maturity_on)s.")
                    % {"disbursed_on": loan.disbursed_on, "maturity_on": loan.maturity_on}
                ]
            },
        )
    months_new = _months_after(loan.disbursed_on, new_maturity_on)
    months_old = _months_after(loan.disbursed_on, loan.maturity_on)
    assert months_old is not None
    if months_new is None or months_new <= months_old:
        raise InvalidInput.on(
            "new_maturity_on",
            _("The new maturity is a monthly due date of the loan after %(maturity_on)s (e.g. %(example)s).")
            % {"maturity_on": loan.maturity_on, "example": add_months(loan.disbursed_on, months_old + 1)},
        )
    extra = months_new - months_old
    longest = loan.program.max_extension_months
    if extra > longest:
        raise ExtensionBeyondLimit(
            _(
                "The programme extends a loan by at most %(longest)s months (to %(maturity_on)s + "
                "%(longest)s months); %(extra)s asked."
            )
            % {"longest": longest, "maturity_on": add_months(loan.maturity_on, 0), "extra": extra},
            fields={
                "new_maturity_on": [
                    _("At most %(latest)s.") % {"latest": add_months(loan.disbursed_on, months_old + longest)}
                ]
            },
        )
    for patent in loan.application.patents.order_by("id"):
        if new_maturity_on > patent.expires_on:
            raise MaturityAfterPatentExpiry(
                _(
                    "The loan would mature on %(new_maturity_on)s, after patent %(application_number)s "
                    "expires (%(expires_on)s)."
                )
                % {
                    "new_maturity_on": new_maturity_on,
                    "application_number": patent.application_number,
                    "expires_on": patent.expires_on,
                }
            )
    try:
        with transaction.atomic():
            extension = LoanExtension.objects.create(
                loan=loan,
                agreed_on=agreed_on,
                old_maturity_on=loan.maturity_on,
                new_maturity_on=new_maturity_on,
                extra_months=extra,
                requested_by=actor,
            )
    except IntegrityError as exc:  # one extension per loan: a concurrent request won
        raise ExtensionExists() from exc
    audit_record(
        actor=actor,
        action="loan_extension.request",
        obj=extension,
        to_state=ExtensionStatus.PENDING,
        payload={"loan": loan.pk, "new_maturity_on": new_maturity_on, "agreed_on": agreed_on},
    )
    return extension


def _locked_extension(extension_id: int) -> tuple[LoanExtension, Loan, Application]:
    found = LoanExtension.objects.filter(pk=extension_id).only("loan_id").first()
    if found is None:
        raise NotFound(_("Extension not found."))
    loan, app = _lock_loan(found.loan_id)
    return LoanExtension.objects.select_for_update().get(pk=extension_id), loan, app  # type: ignore[return-value]


@transaction.atomic
def loan_extension_endorse(
    *, actor: User, extension_id: int, premium_rate: Decimal, endorsed_on: date | None = None
) -> LoanExtension:
    """The policy's insurer endorses the extension at `premium_rate` (within the programme band):
    the endorsement premium is set; the extension takes effect when it is paid."""
    extension, loan, _app = _locked_extension(extension_id)
    policy = Policy.objects.select_for_update().get(pk=loan.policy_id)
    require_acts_for(
        actor, OrganizationKind.INSURER, policy, _("Only the policy's insurer endorses an extension.")
    )
    if extension.status != ExtensionStatus.PENDING:
        raise InvalidTransition.of(extension, "endorse the extension")
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(loan, "endorse the extension")
    program = loan.program
    if not program.premium_rate_min <= premium_rate <= program.premium_rate_max:
        raise InvalidInput.on(
            "premium_rate",
            _("The premium rate must lie within the programme band %(lowest)s to %(highest)s a year.")
            % {
                "lowest": format(program.premium_rate_min.normalize(), "f"),
                "highest": format(program.premium_rate_max.normalize(), "f"),
            },
        )
    endorsed_on = endorsed_on or business_today()
    ensure_not_future(endorsed_on, "endorsed_on")
    if endorsed_on < extension.agreed_on:
        raise DatesOutOfOrder(
            _("The endorsement (%(endorsed_on)s) cannot precede the bank's agreement (%(agreed_on)s).")
            % {"endorsed_on": endorsed_on, "agreed_on": extension.agreed_on},
            fields={"endorsed_on": [_("Not before %(agreed_on)s.") % {"agreed_on": extension.agreed_on}]},
        )
    outstanding = sum(
        (r.principal_due - r.principal_paid for r in Installment.objects.filter(loan=loan)), ZERO
    )
    extension.premium_rate = premium_rate
    extension.premium = round_fen(outstanding * premium_rate * extension.extra_months / 12)
    extension.endorsed_on, extension.endorsed_by = endorsed_on, actor
    record_transition(
        extension,
        "endorse",
        actor=actor,
        fields=("premium_rate", "premium", "endorsed_on", "endorsed_by"),
        amount=extension.premium,
        payload={"outstanding": outstanding, "premium_rate": premium_rate, "endorsed_on": endorsed_on},
    )
    return extension


def extension_awaiting_premium(policy: Policy) -> LoanExtension | None:
    """The endorsed extension of the policy's loan whose premium is due, if any."""
    return LoanExtension.objects.filter(loan__policy=policy, status=ExtensionStatus.ENDORSED).first()


def extension_premium_record(
    *, actor: User, policy: Policy, extension_id: int, amount: Decimal, paid_on: date
) -> PremiumPayment:
    """Record (part of) an endorsement premium on the locked policy (services.policies calls this
    inside its transaction); paid in full, the extension takes effect on `paid_on`."""
    extension, loan, _app = _locked_extension(extension_id)
    if amount <= 0:
        raise InvalidInput.on("amount", _("The amount must be above zero."))
    ensure_not_future(paid_on, "paid_on")
    assert extension.endorsed_on is not None and extension.premium is not None and loan.maturity_on
    if paid_on < extension.endorsed_on:
        raise DatesOutOfOrder(
            _(
                "The endorsement premium cannot be paid (%(paid_on)s) before the endorsement "
                "(%(endorsed_on)s)."
            )
            % {"paid_on": paid_on, "endorsed_on": extension.endorsed_on},
            fields={"paid_on": [_("Not before %(endorsed_on)s.") % {"endorsed_on": extension.endorsed_on}]},
        )
    if loan.status != LoanStatus.ACTIVE or paid_on >= loan.maturity_on:
        raise InvalidTransition.of(
            loan,
            "pay the endorsement premium",
            _("The extension takes effect while the loan is active, before it matures (%(maturity_on)s).")
            % {"maturity_on": loan.maturity_on},
        )
    outstanding = extension.premium - extension.premium_paid_amount
    if amount > outstanding:
        raise AmountOverLimit(
            _("Only %(outstanding)s of the endorsement premium is outstanding.")
            % {"outstanding": format_money(outstanding)},
            fields={"amount": [_("At most %(outstanding)s.") % {"outstanding": format_money(outstanding)}]},
        )
    payment = PremiumPayment.objects.create(
        policy=policy, amount=amount, paid_on=paid_on, recorded_by=actor, extension=extension
    )
    extension.premium_paid_amount += amount
    extension.save(update_fields=["premium_paid_amount"])
    audit_record(
        actor=actor,
        action="loan_extension.premium_paid",
        obj=extension,
        amount=amount,
        payload={"paid_on": paid_on, "payment": payment.pk},
    )
    ledger_post(
        kind=EntryKind.PREMIUM,
        booked_on=paid_on,
        source=payment,
        legs=[
            Leg(INSURER_CASH, PREMIUM_INCOME, amount, policy.insurer_id),
            Leg(SME_PREMIUM_EXPENSE, SME_CASH, amount, loan.sme_id),
        ],
        loan=loan,
        program=loan.program,
        memo=f"endorsement premium of policy {policy.policy_number} (extension {extension.pk})",
        actor=actor,
    )
    if extension.premium_paid_amount == extension.premium:
        _take_effect(actor, extension, loan, policy, paid_on)
    return payment


def _take_effect(actor: User, extension: LoanExtension, loan: Loan, policy: Policy, on: date) -> None:
    rows = list(Installment.objects.select_for_update().filter(loan=loan).order_by("seq"))
    later = [r for r in rows if r.due_on > on]
    # The rebuild starts at the first open installment; one paid (in part) in advance, or whose
    # period a prepayment split (its interest is already the rule's two stretches), stays as is.
    while later and (later[0].principal_paid or later[0].interest_paid or later[0].principal_changed_on):
        later.pop(0)
    if not later or any(r.principal_paid or r.interest_paid for r in later):
        raise PaidInAdvance(
            _("The installments after the extension date are paid in advance; nothing to extend.")
        )
    assert loan.disbursed_on is not None
    months_new = _months_after(loan.disbursed_on, extension.new_maturity_on)
    assert months_new is not None
    first = later[0]
    dates = [first.start_on] + [add_months(loan.disbursed_on, k) for k in range(first.seq, months_new + 1)]
    principal = sum((r.principal_due for r in later), ZERO)
    plan = rebuild_schedule(
        principal, loan.annual_rate, RepaymentMethod(loan.repayment_method), dates, first.seq
    )
    version = schedule_version_keep(loan, rows, f"extension {extension.pk} to {extension.new_maturity_on}")
    fields = [
        "start_on",
        "due_on",
        "days",
        "opening_principal",
        "principal_due",
        "interest_due",
        "after_extension",
    ]
    for row, planned in zip(later, plan, strict=False):
        _fill(row, planned, extension.old_maturity_on)
    Installment.objects.bulk_update(later, fields)
    Installment.objects.bulk_create(
        _fill(Installment(loan=loan), planned, extension.old_maturity_on) for planned in plan[len(later) :]
    )
    loan.maturity_on = extension.new_maturity_on
    loan.save(update_fields=["maturity_on", "schedule_version"])
    Pledge.objects.filter(loan=loan).update(debt_end_on=extension.new_maturity_on)
    policy.term_months += extension.extra_months  # the endorsement extends the cover
    policy.save(update_fields=["term_months"])
    extension.effective_on, extension.schedule_version = on, version
    record_transition(
        extension,
        "take_effect",
        actor=actor,
        fields=("effective_on", "schedule_version"),
        payload={
            "effective_on": on,
            "new_maturity_on": extension.new_maturity_on,
            "schedule_version": version,
        },
    )


def _fill(row: Installment, planned: object, old_maturity_on: date) -> Installment:
    for name in ("seq", "start_on", "due_on", "days", "opening_principal", "principal_due", "interest_due"):
        setattr(row, name, getattr(planned, name))
    row.after_extension = row.due_on > old_maturity_on
    return row
