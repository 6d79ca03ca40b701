"""Bank side of origination: approval, pledge registration, disbursement and the schedule
(DOMAIN.md sections 3 and 8)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fintech.access import require_acts_for
from fintech.errors import (
    AmountOverLimit,
    CoOwnerConsentMissing,
    DatesOutOfOrder,
    InvalidInput,
    InvalidTransition,
    MaturityAfterPatentExpiry,
    PatentAlreadyPledged,
    PatentNotEligible,
    PledgeNotRegistered,
    PremiumNotPaid,
    ValuationExpired,
)
from fintech.models import (
    Application,
    ApplicationStatus,
    EntryKind,
    Installment,
    Loan,
    LoanStatus,
    OrganizationKind,
    PatentStatus,
    Pledge,
    PledgedPatent,
    PolicyStatus,
    User,
)
from fintech.money import format_money
from fintech.rules.schedules import RepaymentMethod, add_months, build_schedule

from .audit import audit_record
from .common import business_today, ensure_not_future
from .ledger import BANK_CASH, LOANS_RECEIVABLE, SME_CASH, SME_LOANS_PAYABLE, Leg, ledger_post
from .transitions import application_lock, application_transition, record_transition, require_status


def _bank_check(actor: User, record: Application | Loan) -> None:
    require_acts_for(
        actor, OrganizationKind.BANK, record, _("Only the bank named on the application does this.")
    )


@transaction.atomic
def loan_approve(
    *,
    actor: User,
    application_id: int,
    principal: Decimal,
    annual_rate: Decimal,
    term_months: int,
    repayment_method: str,
    external_id: str = "",
    approved_on: date | None = None,
) -> Loan:
    """Approve the loan once the policy is issued; one loan per application (DOMAIN.md section 8).
    `approved_on` is the business date of the decision (today when not given), not before the
    valuation."""
    approved_on = approved_on or business_today()
    ensure_not_future(approved_on, "approved_on")
    app = application_lock(application_id)
    _bank_check(actor, app)
    require_status(app, "approve", ApplicationStatus.BANK_REVIEW)
    valued_on = app.valuation.valuation_date
    if valued_on is not None and approved_on < valued_on:
        raise DatesOutOfOrder(
            _("Approval (%(approved_on)s) cannot precede the valuation (%(valued_on)s).")
            % {"approved_on": approved_on, "valued_on": valued_on},
            fields={"approved_on": [_("Not before %(valued_on)s.") % {"valued_on": valued_on}]},
        )
    policy = getattr(app, "policy", None)
    if policy is None or policy.status not in (PolicyStatus.ISSUED, PolicyStatus.ACTIVE):
        raise InvalidTransition.of(app, "approve", _("The insurance policy must be issued before approval."))
    program = app.program
    ceiling = app.credit_ceiling or Decimal(0)
    if principal <= 0:
        raise InvalidInput.on("principal", _("The principal must be above zero."))
    # Principal <= insured amount <= credit ceiling (DOMAIN.md 8): name the ceiling when it is the
    # limit crossed, the insured amount when only the policy's cover is.
    if principal > ceiling:
        raise AmountOverLimit(
            _("The principal may not exceed the credit ceiling %(ceiling)s.")
            % {"ceiling": format_money(ceiling)},
            fields={
                "principal": [
                    _("At most the credit ceiling %(ceiling)s.") % {"ceiling": format_money(ceiling)}
                ]
            },
        )
    if principal > policy.insured_amount:
        raise AmountOverLimit(
            _("The principal may not exceed the insured amount %(insured_amount)s.")
            % {"insured_amount": format_money(policy.insured_amount)},
            fields={
                "principal": [
                    _("At most the insured amount %(insured_amount)s.")
                    % {"insured_amount": format_money(policy.insured_amount)}
                ]
            },
        )
    longest = min(program.max_term_months, policy.term_months)
    if not program.min_term_months <= term_months <= longest:
        raise InvalidInput.on(
            "term_months",
            _(
                "The term must be %(min_term_months)s to %(longest)s months (within the programme and the "
                "policy's cover)."
            )
            % {"min_term_months": program.min_term_months, "longest": longest},
        )
    if not Decimal(0) < annual_rate < Decimal(1):
        raise InvalidInput.on("annual_rate", _("The annual rate is a fraction above 0 and below 1."))
    loan = Loan.objects.create(
        application=app,
        program=program,
        sme_id=app.sme_id,
        bank_id=app.bank_id,
        policy=policy,
        principal=principal,
        annual_rate=annual_rate,
        term_months=term_months,
        repayment_method=repayment_method,
        approved_on=approved_on,
        approved_by=actor,
        grace_days=program.grace_days,
        default_days_past_due=program.default_days_past_due,
        external_id=external_id,
    )
    audit_record(
        actor=actor,
        action="loan.approve",
        obj=loan,
        to_state=LoanStatus.APPROVED,
        amount=principal,
        payload={"annual_rate": annual_rate, "term_months": term_months, "method": repayment_method},
    )
    application_transition(app, "approve", actor=actor)
    return loan


def _loan_lock(loan_id: int) -> tuple[Loan, Application]:
    """Lock the application, then the loan: the order every origination write takes."""
    loan = Loan.objects.get(pk=loan_id)
    app = application_lock(loan.application_id)
    return Loan.objects.select_for_update().select_related("policy").get(pk=loan_id), app


@transaction.atomic
def pledge_register(*, actor: User, loan_id: int, registration_number: str, registered_on: date) -> Pledge:
    """Record the CNIPA pledge registration of the application's patents for this loan."""
    loan, _app = _loan_lock(loan_id)
    _bank_check(actor, loan)
    if loan.status != LoanStatus.APPROVED:
        raise InvalidTransition.of(loan, "register a pledge")
    existing = Pledge.objects.filter(loan=loan).first()
    if existing is not None:
        raise InvalidTransition.of(
            loan,
            "register a pledge",
            _(
                "Cannot register a pledge: pledge %(registration_number)s is already registered for this "
                "loan (the loan is '%(status)s')."
            )
            % {"registration_number": existing.registration_number, "status": loan.get_status_display()},
        )
    ensure_not_future(registered_on, "registered_on")
    valuation_date = loan.application.valuation.valuation_date
    if valuation_date and registered_on < valuation_date:
        raise DatesOutOfOrder(
            _(
                "The pledge cannot be registered (%(registered_on)s) before the valuation date "
                "(%(valuation_date)s)."
            )
            % {"registered_on": registered_on, "valuation_date": valuation_date},
            fields={
                "registered_on": [
                    _("Not before the valuation date %(valuation_date)s.")
                    % {"valuation_date": valuation_date}
                ]
            },
        )
    patents = list(loan.application.patents.prefetch_related("patentees").order_by("id"))
    for patent in patents:
        if patent.status != PatentStatus.IN_FORCE:
            raise PatentNotEligible(
                _("Patent %(application_number)s is not in force.")
                % {"application_number": patent.application_number}
            )
        if any(p.pledge_consent_on is None for p in patent.patentees.all()):
            raise CoOwnerConsentMissing(
                _("Patent %(application_number)s: every co-owner must consent to the pledge.")
                % {"application_number": patent.application_number}
            )
        if PledgedPatent.objects.filter(patent=patent, is_active=True).exists():
            raise PatentAlreadyPledged(
                _("Patent %(application_number)s is already under an active pledge.")
                % {"application_number": patent.application_number}
            )
    if Pledge.objects.filter(registration_number=registration_number).exists():
        raise InvalidInput.on("registration_number", _("This registration number is already recorded."))
    try:
        with transaction.atomic():
            pledge = Pledge.objects.create(
                loan=loan,
                registration_number=registration_number,
                registered_on=registered_on,
                secured_amount=loan.principal,
                recorded_by=actor,
            )
            PledgedPatent.objects.bulk_create(PledgedPatent(pledge=pledge, patent=p) for p in patents)
    except IntegrityError as exc:
        # The partial unique index one_active_pledge_per_patent: a concurrent pledge won.
        raise PatentAlreadyPledged() from exc
    audit_record(
        actor=actor,
        action="pledge.register",
        obj=pledge,
        to_state="active",
        amount=loan.principal,
        payload={
            "registration_number": registration_number,
            "registered_on": registered_on,
            "patents": [p.pk for p in patents],
        },
    )
    return pledge


@transaction.atomic
def loan_disburse(*, actor: User, loan_id: int, disbursed_on: date) -> Loan:
    """Disburse once the premium is paid and the pledge registered; build and store the schedule."""
    loan, app = _loan_lock(loan_id)
    _bank_check(actor, loan)
    if loan.status != LoanStatus.APPROVED:
        raise InvalidTransition.of(loan, "disburse")
    policy = loan.policy
    if policy.status != PolicyStatus.ACTIVE:
        raise PremiumNotPaid(
            _(
                "Cannot disburse: the premium is not paid (the policy is '%(status)s', "
                "%(premium_paid_amount)s of %(premium)s paid)."
            )
            % {
                "status": policy.get_status_display(),
                "premium_paid_amount": format_money(policy.premium_paid_amount),
                "premium": format_money(policy.premium),
            }
        )
    pledge = Pledge.objects.filter(loan=loan).first()
    if pledge is None:
        raise PledgeNotRegistered(
            _("Cannot disburse: the pledge is not registered (the loan is '%(status)s').")
            % {"status": loan.get_status_display()}
        )
    ensure_not_future(disbursed_on, "disbursed_on")
    valuation = loan.application.valuation
    earliest = max(d for d in (policy.premium_paid_on, pledge.registered_on, valuation.valuation_date) if d)
    if disbursed_on < earliest:
        raise DatesOutOfOrder(
            _(
                "Disbursement (%(disbursed_on)s) cannot precede the premium payment, the pledge "
                "registration or the valuation (latest %(earliest)s)."
            )
            % {"disbursed_on": disbursed_on, "earliest": earliest},
            fields={"disbursed_on": [_("Not before %(earliest)s.") % {"earliest": earliest}]},
        )
    if valuation.valid_until is None or disbursed_on > valuation.valid_until:
        raise ValuationExpired(
            _(
                "The valuation of %(valuation_date)s is valid until %(valid_until)s; it cannot back a "
                "disbursement on %(disbursed_on)s."
            )
            % {
                "valuation_date": valuation.valuation_date,
                "valid_until": valuation.valid_until,
                "disbursed_on": disbursed_on,
            }
        )
    maturity = add_months(disbursed_on, loan.term_months)
    for patent in loan.application.patents.order_by("id"):
        if maturity > patent.expires_on:
            raise MaturityAfterPatentExpiry(
                _(
                    "The loan would mature on %(maturity)s, after patent %(application_number)s expires "
                    "(%(expires_on)s)."
                )
                % {
                    "maturity": maturity,
                    "application_number": patent.application_number,
                    "expires_on": patent.expires_on,
                }
            )
        if patent.status != PatentStatus.IN_FORCE:
            raise PatentNotEligible(
                _("Patent %(application_number)s is no longer in force.")
                % {"application_number": patent.application_number}
            )
    plan = build_schedule(
        loan.principal,
        loan.annual_rate,
        loan.term_months,
        RepaymentMethod(loan.repayment_method),
        disbursed_on,
    )
    Installment.objects.bulk_create(
        Installment(
            loan=loan,
            seq=row.seq,
            start_on=row.start_on,
            due_on=row.due_on,
            days=row.days,
            opening_principal=row.opening_principal,
            principal_due=row.principal_due,
            interest_due=row.interest_due,
        )
        for row in plan
    )
    loan.disbursed_on = disbursed_on
    loan.maturity_on = maturity
    pledge.debt_start_on = disbursed_on
    pledge.debt_end_on = maturity
    pledge.save(update_fields=["debt_start_on", "debt_end_on"])
    record_transition(
        loan,
        "disburse",
        actor=actor,
        fields=("disbursed_on", "maturity_on"),
        amount=loan.principal,
        payload={"disbursed_on": disbursed_on},
    )
    ledger_post(
        kind=EntryKind.DISBURSEMENT,
        booked_on=disbursed_on,
        source=loan,
        legs=[
            Leg(LOANS_RECEIVABLE, BANK_CASH, loan.principal, loan.bank_id),
            Leg(SME_CASH, SME_LOANS_PAYABLE, loan.principal, loan.sme_id),
        ],
        loan=loan,
        program=loan.program,
        memo=f"disbursement of loan {loan.pk}",
        actor=actor,
    )
    application_transition(app, "disburse", actor=actor)
    return loan
