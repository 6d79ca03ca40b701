"""Patents: registration by a patentee SME and legal-status changes by the platform."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from fintech.errors import AlreadyRegistered, InvalidInput, InvalidTransition, PatentNotOwned, RoleNotAllowed
from fintech.models import OrganizationKind, Patent, Patentee, PatentEventCode, PatentStatus, User
from fintech.rules.dates import PATENT_LAW_IN_FORCE
from fintech.rules.identifiers import (
    InvalidIdentifier,
    check_type_agrees,
    parse_patent_number,
    patent_expiry,
    validate_uscc,
)

from .audit import audit_record
from .collateral import patent_event_record
from .common import business_today, ensure_not_future

# ZC 0006-2003: 12-digit application numbers from 2003-10-01, 8 digits before (DOMAIN.md section 2).
FIRST_12_DIGIT_FILING_DATE = date(2003, 10, 1)


@dataclass(frozen=True)
class PatenteeInput:
    name: str
    uscc: str


@transaction.atomic
def patent_register(
    *,
    user: User,
    application_number: str,
    title: str,
    patent_type: str,
    filing_date: date,
    grant_date: date,
    patentees: list[PatenteeInput],
    claims_count: int = 1,
    term_adjustment_days: int = 0,
    external_id: str = "",
) -> Patent:
    """Register a granted patent for the caller's SME, which must be one of its patentees."""
    org = user.organization
    if org is None or org.kind != OrganizationKind.SME:
        raise RoleNotAllowed(_("Only an SME registers its patents."))
    try:
        number = parse_patent_number(application_number)
    except InvalidIdentifier as exc:
        raise InvalidInput.on("application_number", str(exc)) from exc
    try:
        check_type_agrees(number, patent_type)
    except InvalidIdentifier as exc:
        raise InvalidInput.on("patent_type", str(exc)) from exc
    ensure_not_future(filing_date, "filing_date", earliest=PATENT_LAW_IN_FORCE)
    ensure_not_future(grant_date, "grant_date", earliest=PATENT_LAW_IN_FORCE)
    if grant_date < filing_date:
        raise InvalidInput.on("grant_date", _("The grant date is before the filing date."))
    if number.legacy != (filing_date < FIRST_12_DIGIT_FILING_DATE):
        raise InvalidInput.on(
            "filing_date",
            (
                _(
                    "Applications filed from %(switch_on)s have 12-digit numbers; %(number)s cannot have "
                    "been filed on %(filing_date)s."
                )
                if number.legacy
                else _(
                    "Applications filed before %(switch_on)s have 8-digit numbers; %(number)s cannot have "
                    "been filed on %(filing_date)s."
                )
            )
            % {
                "switch_on": FIRST_12_DIGIT_FILING_DATE,
                "number": number.canonical,
                "filing_date": filing_date,
            },
        )
    if number.filing_year != filing_date.year:
        raise InvalidInput.on(
            "filing_date",
            _("The application number says filing year %(filing_year)s, not %(year)s.")
            % {"filing_year": number.filing_year, "year": filing_date.year},
        )
    if not patentees:
        raise InvalidInput.on("patentees", _("At least one patentee is needed."))
    codes: list[str] = []
    for i, p in enumerate(patentees):
        try:
            codes.append(validate_uscc(p.uscc))
        except InvalidIdentifier as exc:
            raise InvalidInput.on(f"patentees.{i}.uscc", str(exc)) from exc
    if len(set(codes)) != len(codes):
        raise InvalidInput.on("patentees", _("A patentee is listed twice."))
    if org.uscc not in codes:
        raise PatentNotOwned(
            _("Your enterprise is not a patentee of this patent."),
            fields={"patentees": [_("Your enterprise must be one of the patentees.")]},
        )
    if Patent.objects.filter(application_number=number.canonical).exists():
        raise AlreadyRegistered(
            _("Patent %(canonical)s is already registered.") % {"canonical": number.canonical},
            fields={"application_number": [_("Already registered.")]},
        )
    expires_on = patent_expiry(patent_type, filing_date, term_adjustment_days)
    status = PatentStatus.IN_FORCE if expires_on >= business_today() else PatentStatus.EXPIRED
    try:
        with transaction.atomic():
            patent = Patent.objects.create(
                application_number=number.canonical,
                title=title,
                patent_type=patent_type,
                filing_date=filing_date,
                grant_date=grant_date,
                claims_count=claims_count,
                term_adjustment_days=term_adjustment_days,
                expires_on=expires_on,
                status=status,
                owner=org,
                created_by=user,
                external_id=external_id,
            )
    except IntegrityError as exc:
        raise AlreadyRegistered(
            _("Patent %(canonical)s is already registered.") % {"canonical": number.canonical}
        ) from exc
    Patentee.objects.bulk_create(
        Patentee(
            patent=patent,
            position=i + 1,
            name=p.name,
            uscc=code,
            # The registering SME consents by pledging; other co-owners' consent is recorded later.
            pledge_consent_on=business_today() if code == org.uscc else None,
        )
        for i, (p, code) in enumerate(zip(patentees, codes, strict=True))
    )
    audit_record(
        actor=user,
        action="patent.register",
        obj=patent,
        to_state=status,
        payload={"application_number": number.canonical, "patent_type": patent_type},
    )
    return patent


# The legal-status changes the platform marks from the register (DOMAIN.md section 3), each an explicit
# transition of Patent (django-fsm-2). A lapse, an invalidation and a restoration are legal-status
# events: they go through services.collateral.patent_event_record (event row, audit row and, on a
# pledged patent, its finding at once); the others are audited here as "patent.status".
STATUS_EVENTS = {
    PatentStatus.LAPSED: PatentEventCode.LAPSE,
    PatentStatus.INVALIDATED: PatentEventCode.INVALIDATION,
}
STATUS_TRANSITIONS = {
    PatentStatus.TERMINATED: "terminate",
    PatentStatus.WAIVED: "waive",
    PatentStatus.PRESERVED: "preserve",
    PatentStatus.DISPUTED: "dispute",
}


def patent_status_transition(patent: Patent, status: str) -> str | None:
    """How a patent in its current state reaches `status`: an event code, a transition's name, or
    None when no transition leads there (the same state included)."""
    if status in STATUS_EVENTS:
        code = STATUS_EVENTS[PatentStatus(status)]
        name = "lapse" if code == PatentEventCode.LAPSE else "invalidate"
        return code if can_proceed(getattr(patent, name)) else None
    if status == PatentStatus.IN_FORCE:
        if can_proceed(patent.restore):
            return PatentEventCode.RESTORATION
        return "release" if can_proceed(patent.release) else None
    method = STATUS_TRANSITIONS.get(PatentStatus(status)) if status in PatentStatus.values else None
    return method if method is not None and can_proceed(getattr(patent, method)) else None


@transaction.atomic
def patent_status_set(
    *, actor: User | None, patent: Patent, status: str, reason: str, on: date | None = None
) -> Patent:
    """The platform records a lapse, invalidation, termination, waiver, preservation, dispute, or the
    return in force (a restoration of a lapse, a preservation lifted, a dispute settled) on `on`
    (default today), through the patent's transition under its row lock, audited; a state no
    transition leads to from the current one is a 409 and changes nothing."""
    if status not in PatentStatus.values:
        raise InvalidInput.on("status", _("Unknown status '%(status)s'.") % {"status": status})
    locked = Patent.objects.select_for_update().get(pk=patent.pk)
    before = locked.status
    if status == PatentStatus.IN_FORCE and locked.expires_on < business_today():
        raise InvalidInput.on(
            "status",
            _("Patent %(application_number)s expired on %(expires_on)s.")
            % {"application_number": locked.application_number, "expires_on": locked.expires_on},
        )
    if before == status:
        return locked
    on = on or business_today()
    ensure_not_future(on, "on", earliest=locked.filing_date)
    step = patent_status_transition(locked, status)
    if step is None:
        raise InvalidTransition.of(
            locked,
            "mark the legal status",
            _("Cannot mark as %(status)s: the patent is '%(current)s'.")
            % {"status": PatentStatus(status).label, "current": locked.get_status_display()},
        )
    if step in PatentEventCode.values:
        result = patent_event_record(
            actor=actor, patent_id=locked.pk, code=step, event_on=on, description=reason
        )
        locked.refresh_from_db()
        if not result.created and locked.status != status:
            # The same event (patent, code, date) is already in the register and was undone since
            # (a lapse of that day restored): recording it again changes nothing, so it is refused.
            raise InvalidTransition.of(
                locked,
                "mark the legal status",
                _("The event '%(event)s' of %(day)s is already recorded; the patent is '%(current)s'.")
                % {
                    "event": PatentEventCode(step).label,
                    "day": on.isoformat(),
                    "current": locked.get_status_display(),
                },
            )
        return locked
    getattr(locked, step)()
    locked.save(update_fields=["status"])
    audit_record(
        actor=actor,
        action="patent.status",
        obj=locked,
        from_state=before,
        to_state=status,
        reason=reason,
        payload={"transition": step, "on": on},
    )
    return locked


@transaction.atomic
def patentee_consent_record(*, actor: User | None, patentee: Patentee, consent_on: date) -> Patentee:
    """Record a co-owner's consent to pledge (DOMAIN.md section 3)."""
    ensure_not_future(consent_on, "consent_on", earliest=PATENT_LAW_IN_FORCE)
    locked = Patentee.objects.select_for_update().get(pk=patentee.pk)
    locked.pledge_consent_on = consent_on
    locked.save(update_fields=["pledge_consent_on"])
    audit_record(
        actor=actor,
        action="patentee.consent",
        obj=locked.patent,
        to_state="consented",
        payload={"patentee": locked.uscc, "consent_on": consent_on},
    )
    return locked


def patents_mark_expired(*, as_of: date) -> int:
    """Expire in-force patents whose term has run out by as_of, each through the legal-status event
    "expiry" dated its last day of term (its transition, event row and audit row); returns how many."""
    due = Patent.objects.filter(status=PatentStatus.IN_FORCE, expires_on__lt=as_of).order_by("pk")
    done = 0
    for patent_id, expires_on in due.values_list("pk", "expires_on"):
        try:
            patent_event_record(
                actor=None,
                patent_id=patent_id,
                code="expiry",
                event_on=expires_on,
                description=f"term ended {expires_on}",
            )
        except InvalidTransition:
            continue  # changed meanwhile
        done += 1
    return done
