"""Applications: an SME drafts, submits (eligibility checked) or withdraws; the insurer or the
bank declines (DOMAIN.md sections 1, 3, 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.db import transaction
from django.utils.translation import gettext as _

from fintech.access import acts_for
from fintech.errors import (
    InvalidInput,
    InvalidTransition,
    NotAnSme,
    NotEligible,
    PatentAlreadyPledged,
    PatentNotEligible,
    ProgramSuspended,
    RoleNotAllowed,
)
from fintech.models import (
    OPEN_STATUSES,
    Application,
    ApplicationPatent,
    ApplicationStatus,
    Organization,
    OrganizationKind,
    Patent,
    PatentStatus,
    PledgedPatent,
    Program,
    User,
    Valuation,
    ValuationStatus,
)
from fintech.money import format_money
from fintech.rules.schedules import add_months
from fintech.rules.sme_size import SizeClass, classify_enterprise, sme_refusal_message

from .audit import audit_record
from .common import business_today, ensure_not_future
from .notifications import notify_on_commit
from .transitions import application_lock, application_transition

S = ApplicationStatus


def _party(pk: int, kind: str, field: str) -> Organization:
    org = Organization.objects.filter(pk=pk, kind=kind, is_active=True).first()
    if org is None:
        raise InvalidInput.on(
            field, _("No active %(kind)s with id %(pk)s.") % {"kind": OrganizationKind(kind).label, "pk": pk}
        )
    return org


def _sme_of(user: User) -> Organization:
    org = user.organization
    if org is None or org.kind != OrganizationKind.SME:
        raise RoleNotAllowed(_("Only an SME applies for financing."))
    return org


@transaction.atomic
def application_create(
    *,
    user: User,
    program_id: int,
    patent_ids: list[int],
    requested_amount: Decimal,
    term_months: int,
    repayment_method: str,
    bank_id: int,
    insurer_id: int,
    appraiser_id: int,
    purpose: str = "",
    external_id: str = "",
) -> Application:
    """Draft an application for the caller's SME; the full eligibility check runs at submission."""
    sme = _sme_of(user)
    program = Program.objects.filter(pk=program_id).first()
    if program is None:
        raise InvalidInput.on(
            "program", _("No programme with id %(program_id)s.") % {"program_id": program_id}
        )
    if not patent_ids:
        raise InvalidInput.on("patents", _("Pledge at least one patent."))
    if len(set(patent_ids)) != len(patent_ids):
        raise InvalidInput.on("patents", _("A patent is listed twice."))
    patents = list(Patent.objects.filter(pk__in=patent_ids, owner=sme))
    if len(patents) != len(patent_ids):
        missing = sorted(set(patent_ids) - {p.pk for p in patents})
        raise InvalidInput.on(
            "patents",
            _("Unknown patent id(s) %(missing)s: register your patents first.") % {"missing": missing},
        )
    if not program.min_term_months <= term_months <= program.max_term_months:
        raise InvalidInput.on(
            "term_months",
            _("The term must be %(min_term_months)s to %(max_term_months)s months.")
            % {"min_term_months": program.min_term_months, "max_term_months": program.max_term_months},
        )
    if requested_amount <= 0:
        raise InvalidInput.on("requested_amount", _("The amount must be above zero."))
    if requested_amount > program.loan_cap:
        raise InvalidInput.on(
            "requested_amount",
            _("The programme lends at most %(loan_cap)s.") % {"loan_cap": format_money(program.loan_cap)},
        )
    app = Application.objects.create(
        sme=sme,
        program=program,
        requested_amount=requested_amount,
        term_months=term_months,
        repayment_method=repayment_method,
        bank=_party(bank_id, OrganizationKind.BANK, "bank"),
        insurer=_party(insurer_id, OrganizationKind.INSURER, "insurer"),
        appraiser=_party(appraiser_id, OrganizationKind.APPRAISER, "appraiser"),
        purpose=purpose,
        created_by=user,
        external_id=external_id,
    )
    ApplicationPatent.objects.bulk_create(ApplicationPatent(application=app, patent=p) for p in patents)
    audit_record(
        actor=user,
        action="application.create",
        obj=app,
        to_state=app.status,
        amount=requested_amount,
        payload={"patents": patent_ids, "program": program_id},
    )
    return app


def _check_eligibility(app: Application, on: date) -> None:
    """DOMAIN.md sections 3 and 4, checked when the SME submits."""
    program, sme = app.program, app.sme
    if not program.is_active:
        raise ProgramSuspended(
            _("Programme %(code)s is not taking new applications.") % {"code": program.code}
        )
    size = classify_enterprise(
        sme.industry, sme.employees or 0, sme.annual_revenue or Decimal(0), sme.total_assets or Decimal(0)
    )
    if size == SizeClass.LARGE:
        raise NotAnSme(
            sme_refusal_message(
                sme.industry,
                sme.employees or 0,
                sme.annual_revenue or Decimal(0),
                sme.total_assets or Decimal(0),
            )
        )
    if not program.regions.filter(code=sme.region_id).exists():
        raise NotEligible(
            _("Programme %(code)s does not serve region %(region_id)s.")
            % {"code": program.code, "region_id": sme.region_id},
            fields={"program": [_("Your region is not served by this programme.")]},
        )
    min_expiry = add_months(on, program.min_remaining_patent_months)
    # Lock the patents (in id order, so two submissions sharing patents cannot deadlock): of two
    # applications offering the same patent submitted at once, the second waits here and then sees
    # the first one open.
    patent_ids = list(app.patent_links.values_list("patent_id", flat=True))
    patents = Patent.objects.select_for_update().filter(pk__in=patent_ids).order_by("id")
    for patent in patents:
        if patent.owner_id != sme.pk:
            raise PatentNotEligible(
                _("Patent %(application_number)s is not yours.")
                % {"application_number": patent.application_number},
                fields={"patents": [_("Not your patent.")]},
            )
        if patent.status != PatentStatus.IN_FORCE:
            raise PatentNotEligible(
                _("Patent %(application_number)s is %(status)s, not in force.")
                % {
                    "application_number": patent.application_number,
                    "status": patent.get_status_display(),
                },
                fields={
                    "patents": [
                        _("%(application_number)s is not in force.")
                        % {"application_number": patent.application_number}
                    ]
                },
            )
        if patent.grant_date > on:
            raise PatentNotEligible(
                _("Patent %(application_number)s is not granted yet.")
                % {"application_number": patent.application_number}
            )
        if patent.expires_on < min_expiry:
            raise PatentNotEligible(
                _(
                    "Patent %(application_number)s expires on %(expires_on)s; the programme needs "
                    "%(min_remaining_patent_months)s months of remaining term (until %(min_expiry)s)."
                )
                % {
                    "application_number": patent.application_number,
                    "expires_on": patent.expires_on,
                    "min_remaining_patent_months": program.min_remaining_patent_months,
                    "min_expiry": min_expiry,
                },
                fields={
                    "patents": [
                        _("%(application_number)s: not enough remaining term.")
                        % {"application_number": patent.application_number}
                    ]
                },
            )
        if PledgedPatent.objects.filter(patent=patent, is_active=True).exists():
            raise PatentAlreadyPledged(
                _("Patent %(application_number)s is already under an active pledge.")
                % {"application_number": patent.application_number}
            )
        in_use = (
            Application.objects.filter(patents=patent, status__in=OPEN_STATUSES)
            .exclude(pk=app.pk)
            .exclude(status=S.DRAFT)
            .exists()
        )
        if in_use:
            raise PatentAlreadyPledged(
                _("Patent %(application_number)s is already offered in another open application.")
                % {"application_number": patent.application_number}
            )


@transaction.atomic
def application_submit(*, actor: User, application_id: int, submitted_on: date | None = None) -> Application:
    """Check eligibility, open the appraisal engagement and move to `valuation`. `submitted_on` is
    the business date of the submission (today when not given; history may be loaded back-dated)."""
    submitted_on = submitted_on or business_today()
    ensure_not_future(submitted_on, "submitted_on")
    app = application_lock(application_id)
    if app.sme_id != _sme_of(actor).pk:
        raise RoleNotAllowed(_("Only the applicant submits its application."))
    if app.status == S.DRAFT:  # otherwise the transition below answers 409 with the state
        _check_eligibility(app, submitted_on)
    # Set before the transition saves the row: the outbox reads it to know the application is no
    # longer the SME's alone (access.event_audiences).
    app.submitted_on = submitted_on
    application_transition(app, "submit", actor=actor)
    Valuation.objects.create(application=app, appraiser=app.appraiser)
    notify_on_commit(app, app.appraiser, "valuation")
    return app


@transaction.atomic
def application_withdraw(*, actor: User, application_id: int, reason: str = "") -> Application:
    """The SME withdraws before approval: a pending engagement and an issued policy are cancelled."""
    app = application_lock(application_id)
    if app.sme_id != _sme_of(actor).pk:
        raise RoleNotAllowed(_("Only the applicant withdraws its application."))
    application_transition(app, "withdraw", actor=actor, reason=reason)
    for engagement in Valuation.objects.select_for_update().filter(
        application=app, status=ValuationStatus.PENDING
    ):
        engagement.status = ValuationStatus.CANCELLED
        engagement.save(update_fields=["status"])
        audit_record(
            actor=actor,
            action="valuation.cancel",
            obj=engagement,
            from_state=ValuationStatus.PENDING,
            to_state=ValuationStatus.CANCELLED,
            reason=reason or "application withdrawn",
        )
    if hasattr(app, "policy"):
        # The cover was underwritten for this application only; it must not stay "issued".
        from .policies import policy_cancel

        policy_cancel(actor=actor, policy=app.policy, reason=reason or "application withdrawn")
    return app


@transaction.atomic
def application_decline(*, actor: User, application_id: int, reason: str) -> Application:
    """The insurer declines while underwriting, the bank while reviewing; a reason is required."""
    if not reason.strip():
        raise InvalidInput.on("reason", _("Give the reason for declining."))
    app = application_lock(application_id)
    if acts_for(actor, OrganizationKind.INSURER, app):
        allowed = (S.UNDERWRITING,)
    elif acts_for(actor, OrganizationKind.BANK, app):
        allowed = (S.BANK_REVIEW,)
    else:
        raise RoleNotAllowed(_("Only the insurer or the bank named on the application declines it."))
    if app.status not in allowed:
        raise InvalidTransition.of(app, "decline")
    app.decline_reason = reason
    application_transition(app, "decline", actor=actor, reason=reason)
    if hasattr(app, "policy"):
        from .policies import policy_cancel

        policy_cancel(actor=actor, policy=app.policy, reason=reason)
    notify_on_commit(app, app.sme, "declined")
    return app
