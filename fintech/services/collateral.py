"""Collateral watch (DOMAIN.md section 10a): annual-fee payments, legal-status events and their
file imports, the nightly watch of a set of loans (run by the watch job's chunks, services.watch),
and the cure workflow of its findings.

The watch is set-based: for a chunk of loans it computes their coverage (the one rule of
selectors.collateral), works out which findings should be open, and writes the difference: the new
ones inserted, those seen again updated, those cured resolved. On PostgreSQL all of it but the
cured ones' resolution is one statement (COVER_CTES + _WATCH_SQL); on SQLite the same in Python
over a fixed number of queries. The partial unique indexes on Finding keep one open finding per
loan, patent and kind whatever runs twice.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import Count, Max, Min, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django_fsm import can_proceed

from fintech.access import acts_for, event_patents_for, require_acts_for, require_role
from fintech.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    PatentAlreadyPledged,
    RoleNotAllowed,
)
from fintech.models import (
    CollateralAppraisal,
    CureKind,
    Finding,
    FindingAction,
    FindingKind,
    FindingStatus,
    Loan,
    LoanStatus,
    Notification,
    OrganizationKind,
    Patent,
    PatentEvent,
    PatentEventCode,
    PatentEventFile,
    PatentFeePayment,
    PatentStatus,
    PledgedPatent,
    Recast,
    Revaluation,
    RevaluationStatus,
    Severity,
    User,
)
from fintech.models.repayment_files import FileStatus
from fintech.money import InvalidMoney, parse_money
from fintech.rules import fees as fee_rules
from fintech.rules.identifiers import InvalidIdentifier, parse_patent_number
from fintech.rules.schedules import add_months
from fintech.selectors.collateral import (
    COVER_CTES,
    FeeLine,
    FeeTables,
    PatentRow,
    cover_params,
    fee_lines,
    first_unpaid,
    first_unpaid_fees,
    loans_cover,
)

from .audit import audit_record
from .common import ensure_not_future
from .enqueue import enqueue_on_commit
from .events import Change, events_emit
from .prepayments import loan_prepay_partial
from .repayment_files import _decode, _split

logger = logging.getLogger(__name__)
K = OrganizationKind
E = PatentEventCode
KIND_SEVERITY = {
    FindingKind.FEE_DUE: Severity.INFO,
    FindingKind.FEE_IN_GRACE: Severity.WARNING,
    FindingKind.LEGAL_STATUS: Severity.CRITICAL,
    FindingKind.VALUATION_EXPIRING: Severity.INFO,
    FindingKind.VALUATION_EXPIRED: Severity.WARNING,
    FindingKind.TERM_SHORT: Severity.WARNING,
    FindingKind.COVERAGE_WARNING: Severity.WARNING,
    FindingKind.COVERAGE_SHORTFALL: Severity.CRITICAL,
}
# Findings whose amount and deadline follow the days (the surcharge grows by month of grace).
REFRESHED_KINDS = {FindingKind.FEE_DUE, FindingKind.FEE_IN_GRACE}
# A lapse is restorable until two months after the end of the six months' grace.
RESTORATION_MONTHS_AFTER_LAPSE = fee_rules.GRACE_MONTHS + fee_rules.RESTORATION_MONTHS
TRANSITION_OF = {
    E.LAPSE: "lapse",
    E.RESTORATION: "restore",
    E.INVALIDATION: "invalidate",
    E.PARTIAL_INVALIDATION: "invalidate_partly",
    E.TRANSFER: "transfer",
    E.EXPIRY: "expire",
}


class RestorationTooLate(Conflict):
    code = "restoration_too_late"


class FeeNotPayable(InvalidInput):
    code = "fee_not_payable"


# --- annual fees ---------------------------------------------------------------------------------


def _fee_lines(patent: Patent, on: date) -> list[FeeLine]:
    payments = {
        y: (a, d)
        for y, a, d in PatentFeePayment.objects.filter(patent=patent).values_list(
            "fee_year", "amount", "paid_on"
        )
    }
    return fee_lines(patent, on, payments, FeeTables())


def _payable(patent: Patent, fee_year: int | None, paid_on: date) -> FeeLine:
    """The fee line paid on `paid_on`: the year asked for, or the earliest unpaid one. A fee is
    payable from the start of the fee year before it until the end of its grace."""
    lines = _fee_lines(patent, paid_on)
    if fee_year is None:
        line = first_unpaid(lines)
    else:
        line = next((x for x in lines if x.fee_year == fee_year), None)
    if line is None or line.status == "paid":
        raise FeeNotPayable.on("fee_year", _("No unpaid annual fee for this fee year."))
    opens = fee_rules.fee_year_due_on(patent.filing_date, max(1, line.fee_year - 1))
    if paid_on < opens:
        raise FeeNotPayable.on(
            "paid_on", _("This fee can be paid from %(day)s.") % {"day": opens.isoformat()}
        )
    if paid_on > line.grace_ends_on:
        raise FeeNotPayable.on(
            "paid_on",
            _("The grace period ended on %(day)s: the patent lapses.") % {"day": line.grace_ends_on},
        )
    return line


def fee_due_on_payment(line: FeeLine, paid_on: date) -> Decimal:
    return line.amount + fee_rules.surcharge_amount(line.amount, line.due_on, paid_on)


@transaction.atomic
def fee_payment_record(
    *, actor: User, patent_id: int, fee_year: int, amount: Decimal, paid_on: date
) -> PatentFeePayment:
    """The patent's SME records the annual fee it paid for a fee year: the fee plus the late
    surcharge of the month of grace it was paid in, to the fen."""
    patent = Patent.objects.select_for_update().filter(pk=patent_id).first()
    if patent is None:
        raise NotFound(_("Patent not found."))
    require_acts_for(actor, K.SME, patent, _("Only the patent's SME records its fee payments."))
    ensure_not_future(paid_on, "paid_on")
    if patent.status != PatentStatus.IN_FORCE:
        raise InvalidTransition.of(patent, "pay an annual fee")
    line = _payable(patent, fee_year, paid_on)
    expected = fee_due_on_payment(line, paid_on)
    if amount != expected:
        raise InvalidInput.on(
            "amount",
            _("The fee for year %(year)s paid on %(day)s is %(amount)s.")
            % {"year": fee_year, "day": paid_on.isoformat(), "amount": expected},
        )
    payment = PatentFeePayment.objects.create(
        patent=patent, fee_year=fee_year, amount=amount, paid_on=paid_on, recorded_by=actor
    )
    audit_record(
        actor=actor,
        action="patent.fee_paid",
        obj=patent,
        to_state=patent.status,
        amount=amount,
        payload={"fee_year": fee_year, "paid_on": paid_on},
    )
    return payment


# --- legal-status events -------------------------------------------------------------------------


@dataclass(frozen=True)
class EventResult:
    event: PatentEvent
    created: bool


def patent_event_record(
    *,
    actor: User | None,
    patent_id: int,
    code: str,
    event_on: date,
    description: str = "",
    file: PatentEventFile | None = None,
    line: int | None = None,
) -> EventResult:
    """Record one dated legal-status event and run its transition on the locked patent, with its
    audit row; the same event (patent, code, date) recorded again changes nothing. A pledged patent
    that lapses or is invalidated raises a critical finding on its loan at once; a restoration
    resolves it."""
    with transaction.atomic():
        return _event_record(actor, patent_id, code, event_on, description, file, line)


def _event_record(
    actor: User | None,
    patent_id: int,
    code: str,
    event_on: date,
    description: str,
    file: PatentEventFile | None,
    line: int | None,
) -> EventResult:
    if code not in E.values:
        raise InvalidInput.on("event_code", _("Unknown event code '%(code)s'.") % {"code": code})
    if not event_patents_for(actor).filter(pk=patent_id).exists():
        raise NotFound(_("Patent not found."))
    patent = Patent.objects.select_for_update().filter(pk=patent_id).first()
    if patent is None:
        raise NotFound(_("Patent not found."))
    existing = PatentEvent.objects.filter(patent=patent, code=code, event_on=event_on).first()
    if existing is not None:
        return EventResult(existing, False)
    ensure_not_future(event_on, "event_date", earliest=patent.filing_date)
    before = patent.status
    fee_line: FeeLine | None = None
    if code == E.FEE_PAID:
        if patent.status != PatentStatus.IN_FORCE:
            raise InvalidTransition.of(patent, "pay an annual fee")
        fee_line = _payable(patent, None, event_on)
    else:
        name = TRANSITION_OF[E(code)]
        method = getattr(patent, name)
        if not can_proceed(method):
            raise InvalidTransition.of(patent, str(E(code).label))
        if code == E.RESTORATION:
            deadline = add_months(patent.lapsed_on or event_on, RESTORATION_MONTHS_AFTER_LAPSE)
            if event_on > deadline:
                raise RestorationTooLate(
                    _("A lapse of %(day)s could be restored until %(deadline)s.")
                    % {"day": patent.lapsed_on, "deadline": deadline.isoformat()}
                )
            if event_on < (patent.lapsed_on or event_on):
                raise InvalidInput.on("event_date", _("A restoration cannot precede the lapse."))
            fee_line = first_unpaid(_fee_lines(patent, event_on))
            if fee_line is not None and fee_line.due_on > event_on:
                fee_line = None
        if code == E.EXPIRY and event_on < patent.expires_on:
            raise InvalidInput.on(
                "event_date", _("The patent's term runs until %(day)s.") % {"day": patent.expires_on}
            )
        method()
        if code == E.LAPSE:
            patent.lapsed_on = event_on
        elif code == E.RESTORATION:
            patent.lapsed_on = None
        patent.save(update_fields=["status", "lapsed_on"])
    event = PatentEvent.objects.create(
        patent=patent,
        code=code,
        event_on=event_on,
        description=description[:500],
        from_state=before,
        to_state=patent.status,
        file=file,
        line=line,
        recorded_by=actor,
    )
    if fee_line is not None:
        # Paid with the event: a fee paid late carries its surcharge, a restoration the largest one.
        paid_on = min(event_on, fee_line.grace_ends_on)
        PatentFeePayment.objects.create(
            patent=patent,
            fee_year=fee_line.fee_year,
            amount=fee_due_on_payment(fee_line, paid_on),
            paid_on=event_on,
            event=event,
            recorded_by=actor,
        )
    audit_record(
        actor=actor,
        action=f"patent.{code}",
        obj=patent,
        from_state=before,
        to_state=patent.status,
        reason=description[:500],
        payload={"event_on": event_on, "file": file.pk if file else None, "line": line},
    )
    if code in (E.LAPSE, E.INVALIDATION):
        _raise_legal_status(patent, event_on, code)
    elif code == E.RESTORATION:
        _resolve(
            Finding.objects.filter(patent=patent, kind=FindingKind.LEGAL_STATUS, status=FindingStatus.OPEN),
            event_on,
        )
    return EventResult(event, True)


def _raise_legal_status(patent: Patent, on: date, code: str) -> None:
    loans = list(
        PledgedPatent.objects.filter(
            patent=patent, is_active=True, pledge__loan__status=LoanStatus.ACTIVE
        ).values_list("pledge__loan_id", flat=True)
    )
    if not loans:
        return
    keys = [(loan_id, patent.pk, FindingKind.LEGAL_STATUS) for loan_id in loans]
    _open_findings(
        {k: (None, None, {"event": code, "event_on": on.isoformat(), "state": patent.status}) for k in keys},
        on,
    )


# --- the file import ------------------------------------------------------------------------------

EVENT_HEADER = ("patent_number", "event_date", "event_code", "description")


@transaction.atomic
def patent_event_file_upload(*, actor: User, filename: str, content: bytes) -> PatentEventFile:
    """Store a CSV of legal-status events and fee payments (platform or bank) and queue its
    processing once committed; a file that is not UTF-8 or lacks the header is refused."""
    require_role(actor, K.BANK)
    text = _decode(content)
    lines = text.splitlines()
    if not lines or tuple(f.lower() for f in _split(lines[0])) != EVENT_HEADER:
        raise InvalidInput.on(
            "file", _("The first line must be the header %(h)s.") % {"h": ",".join(EVENT_HEADER)}
        )
    file = PatentEventFile.objects.create(
        uploaded_by=actor,
        filename=(filename or "")[:200],
        content=text,
        language=translation.get_language() or "en",
        lines_total=sum(1 for x in lines[1:] if x.strip()),
    )
    audit_record(actor=actor, action="patent_event_file.upload", obj=file, to_state=FileStatus.PENDING)
    enqueue_on_commit("patent_event_file_process", file.pk)
    return file


def _line_event(actor: User, fields: list[str]) -> tuple[int, date, str, str]:
    if len(fields) != len(EVENT_HEADER):
        raise InvalidInput(_("expected 4 fields: patent_number,event_date,event_code,description"))
    number, raw_date, code, description = fields
    try:
        canonical = parse_patent_number(number).canonical
    except InvalidIdentifier as exc:
        raise InvalidInput(_("invalid patent number")) from exc
    # A patent outside the uploader's reach reads as unknown: no existence, no state, no dates.
    patent_id = (
        event_patents_for(actor).filter(application_number=canonical).values_list("pk", flat=True).first()
    )
    if patent_id is None:
        raise InvalidInput(_("unknown patent"))
    try:
        event_on = date.fromisoformat(raw_date)
    except ValueError as exc:
        raise InvalidInput(_("invalid event date: YYYY-MM-DD")) from exc
    if code.lower() not in E.values:
        raise InvalidInput(_("unknown event code"))
    return patent_id, event_on, code.lower(), description


def patent_event_file_process(file_id: int) -> PatentEventFile:
    """Apply a stored file's lines in order, each in its own transaction (a bad line never undoes a
    good one); a line whose event is already recorded is skipped, so a re-run applies nothing twice."""
    file = PatentEventFile.objects.get(pk=file_id)
    if file.status == FileStatus.DONE:
        return file
    with translation.override(file.language):
        return _event_file_apply(file)


def _event_file_apply(file: PatentEventFile) -> PatentEventFile:
    file_id = file.pk
    PatentEventFile.objects.filter(pk=file_id).update(status=FileStatus.PROCESSING)
    applied = skipped = rejected = 0
    errors: list[dict[str, Any]] = []
    for number, raw in enumerate(file.content.splitlines()[1:], start=2):
        if not raw.strip():
            continue
        try:
            patent_id, event_on, code, description = _line_event(file.uploaded_by, _split(raw))
            result = patent_event_record(
                actor=file.uploaded_by,
                patent_id=patent_id,
                code=code,
                event_on=event_on,
                description=description,
                file=file,
                line=number,
            )
        except (OperationalError, InterfaceError):
            raise
        except (InvalidInput, Conflict, NotFound, RoleNotAllowed) as exc:
            rejected += 1
            errors.append({"line": number, "reason": exc.message[:300]})
            continue
        if result.created:
            applied += 1
        else:
            skipped += 1
    PatentEventFile.objects.filter(pk=file_id).update(
        status=FileStatus.DONE,
        lines_applied=applied,
        lines_skipped=skipped,
        lines_rejected=rejected,
        errors=errors,
        finished_at=timezone.now(),
    )
    file.refresh_from_db()
    return file


# --- the nightly watch ----------------------------------------------------------------------------

Key = tuple[int, int | None, str]  # (loan, patent or None, kind)
Want = tuple[Decimal | None, date | None, dict[str, Any]]  # amount, deadline, detail


def _fee_finding(fee: FeeLine, notice_days: int, as_of: date) -> tuple[str, Want] | None:
    """The finding of a pledged patent's first unpaid fee on `as_of`: due within the programme's
    notice, in grace (with its surcharge so far), or lapsed (the grace ended unpaid: the watch
    lapses the patent)."""
    detail: dict[str, Any] = {
        "fee_year": fee.fee_year,
        "due_on": fee.due_on.isoformat(),
        "grace_ends_on": fee.grace_ends_on.isoformat(),
    }
    if fee.status == "due" and (fee.due_on - as_of).days <= notice_days:
        return FindingKind.FEE_DUE, (fee.amount, fee.due_on, detail)
    if fee.status == "in_grace":
        detail["surcharge"] = str(fee.surcharge)
        return FindingKind.FEE_IN_GRACE, (fee.amount + fee.surcharge, fee.grace_ends_on, detail)
    if fee.status == "lapsed":
        return FindingKind.LEGAL_STATUS, (None, None, {"state": "lapsed"})
    return None


def _wanted(
    loan_ids: list[int], as_of: date, id_range: tuple[int, int] | None = None
) -> tuple[dict[Key, Want], list[tuple[int, date]]]:
    """The findings that should be open on `as_of`, and the patents whose grace ended unpaid."""
    wanted: dict[Key, Want] = {}
    to_lapse: list[tuple[int, date]] = []
    term_floor: dict[int, date] = {}  # min_remaining_patent_months -> the earliest expiry that is enough
    for cover in loans_cover(loan_ids, as_of, id_range=id_range).values():
        program = cover.program
        for p in cover.patents:
            if p.legal_status in (PatentStatus.LAPSED, PatentStatus.INVALIDATED):
                wanted[(cover.loan, p.patent, FindingKind.LEGAL_STATUS)] = (
                    None,
                    None,
                    {"state": p.legal_status},
                )
                continue
            if p.state == "dead":
                continue
            if p.fee is not None and (found := _fee_finding(p.fee, program["fee_notice_days"], as_of)):
                wanted[(cover.loan, p.patent, found[0])] = found[1]
                if found[0] == FindingKind.LEGAL_STATUS:
                    to_lapse.append((p.patent, p.fee.due_on))
            if p.valid_until is not None:
                if p.valid_until < as_of:
                    wanted[(cover.loan, p.patent, FindingKind.VALUATION_EXPIRED)] = (
                        None,
                        None,
                        {"valid_until": p.valid_until.isoformat()},
                    )
                elif (p.valid_until - as_of).days <= program["valuation_notice_days"]:
                    wanted[(cover.loan, p.patent, FindingKind.VALUATION_EXPIRING)] = (
                        None,
                        p.valid_until,
                        {"valid_until": p.valid_until.isoformat()},
                    )
            months = program["min_remaining_patent_months"]
            if months not in term_floor:
                term_floor[months] = add_months(as_of, months)
            if term_floor[months] > p.expires_on:
                wanted[(cover.loan, p.patent, FindingKind.TERM_SHORT)] = (
                    None,
                    p.expires_on,
                    {"expires_on": p.expires_on.isoformat()},
                )
        if cover.level != "ok":
            kind = (
                FindingKind.COVERAGE_SHORTFALL if cover.level == "shortfall" else FindingKind.COVERAGE_WARNING
            )
            wanted[(cover.loan, None, kind)] = (
                cover.collateral_value,
                None,
                {
                    "coverage": str(cover.coverage),
                    "collateral_value": str(cover.collateral_value),
                    "outstanding_principal": str(cover.outstanding_principal),
                },
            )
    return wanted, to_lapse


def _key(f: Finding) -> Key:
    return (f.loan_id, f.patent_id, f.kind)


def _open_findings(wanted: dict[Key, Want], as_of: date, *, already: set[Key] | None = None) -> int:
    """Insert the findings not open yet (a concurrent insert of the same one is ignored: the unique
    indexes), and notify the loan's parties of those raised now. Returns how many were raised."""
    if not wanted:
        return 0
    if already is None:
        loans = {k[0] for k in wanted}
        already = {_key(f) for f in Finding.objects.filter(loan_id__in=loans, status=FindingStatus.OPEN)}
    new = [
        Finding(
            loan_id=k[0],
            patent_id=k[1],
            kind=k[2],
            severity=KIND_SEVERITY[FindingKind(k[2])],
            first_seen_on=as_of,
            last_seen_on=as_of,
            amount=w[0],
            deadline_on=w[1],
            detail=w[2],
        )
        for k, w in wanted.items()
        if k not in already
    ]
    if not new:
        return 0
    # INSERT ... ON CONFLICT DO NOTHING: a finding opened meanwhile (the same night run twice at
    # once, an event's lapse) is left alone by the partial unique indexes.
    Finding.objects.bulk_create(new, ignore_conflicts=True, batch_size=1000)
    new_keys = {(n.loan_id, n.patent_id, n.kind) for n in new}
    raised = [
        f
        for f in Finding.objects.filter(
            loan_id__in={k.loan_id for k in new}, status=FindingStatus.OPEN, first_seen_on=as_of
        ).only("pk", "loan_id", "patent_id", "kind", "severity")
        if _key(f) in new_keys
    ]
    _notify(raised, "raised")
    _announce(raised, "collateral.finding_raised", "", FindingStatus.OPEN, as_of)
    return len(raised)


def _resolve(findings: QuerySet[Finding], on: date) -> int:
    """Resolve open findings (set-based: the cure is the watch's, or the event's, finding)."""
    open_rows = findings.filter(status=FindingStatus.OPEN)
    rows = list(open_rows.only("pk", "loan_id", "patent_id", "kind", "severity"))
    if not rows:
        return 0
    Finding.objects.filter(pk__in=[f.pk for f in rows], status=FindingStatus.OPEN).update(
        status=FindingStatus.RESOLVED, resolved_on=on
    )
    _notify(rows, "resolved")
    _announce(rows, "collateral.finding_resolved", FindingStatus.OPEN, FindingStatus.RESOLVED, on)
    return len(rows)


def _announce(findings: list[Finding], name: str, before: str, after: str, on: date) -> None:
    """The events of findings raised or resolved together, set-based (the loan's parties and the
    regulators of its region receive them)."""
    events_emit(
        name,
        Finding,
        [
            Change(
                f.pk,
                {
                    "from_state": before,
                    "to_state": after,
                    "details": {
                        "kind": f.kind,
                        "severity": f.severity,
                        "patent": f.patent_id,
                        "on": on.isoformat(),
                    },
                },
            )
            for f in sorted(findings, key=lambda f: f.pk)
        ],
    )


def _notify(findings: list[Finding], event: str) -> None:
    """One Notification per finding for the SME, the bank and the insurer of its loan."""
    if not findings:
        return
    parties = {
        pk: (sme, bank, insurer)
        for pk, sme, bank, insurer in Loan.objects.filter(pk__in={f.loan_id for f in findings}).values_list(
            "pk", "sme_id", "bank_id", "policy__insurer_id"
        )
    }
    Notification.objects.bulk_create(
        [
            Notification(organization_id=org, finding_id=f.pk, event=event)
            for f in findings
            for org in parties[f.loan_id]
        ],
        ignore_conflicts=True,
    )


def collateral_watch(loans: QuerySet[Loan], as_of: date) -> dict[str, int]:
    """The watch of `loans` on `as_of` (inside the caller's transaction: a chunk of the watch job,
    services.watch): raise what is new, see again what stays (last_seen_on, amount, deadline),
    resolve what is cured or whose loan is no longer active. A re-run for the same date changes
    nothing; an older date never rewinds.

    Set-based. On PostgreSQL one statement (_watch_sql) computes the coverage (the one rule,
    selectors.collateral.COVER_CTES) and the findings that should be open, and writes the
    difference with the open ones; only the findings raised and resolved come back, for their
    notifications and events. Elsewhere (SQLite) the same in Python: the coverage from the one rule
    (selectors.collateral.loans_cover), the open findings as tuples, then one INSERT ... ON
    CONFLICT DO NOTHING of the new findings (the partial unique indexes keep one open finding per
    loan, patent and kind), one UPDATE of those seen again, one of those cured, and their
    notifications and events in bulk. The tests run on both."""
    if connection.vendor == "postgresql":
        return _watch_sql(loans, as_of)
    return _watch_python(loans, as_of)


def _lapse_unpaid(to_lapse: list[tuple[int, date]], as_of: date) -> None:
    for patent_id, due_on in sorted(set(to_lapse)):
        # The grace ended unpaid: the patent lapses as of the fee's due date (DOMAIN.md 10a).
        try:
            with transaction.atomic():
                patent_event_record(
                    actor=None,
                    patent_id=patent_id,
                    code=E.LAPSE,
                    event_on=due_on,
                    description=f"Annual fee due {due_on} unpaid at the end of grace (watch {as_of}).",
                )
        except InvalidTransition:
            pass  # already lapsed or changed meanwhile: the finding stands on the state


def _watch_python(loans: QuerySet[Loan], as_of: date) -> dict[str, int]:
    statuses = dict(loans.order_by("pk").values_list("pk", "status"))
    loan_ids = sorted(statuses)
    active = [pk for pk in loan_ids if statuses[pk] == LoanStatus.ACTIVE]
    watched = set(active)  # and below, the loans no longer active that had an open finding
    span = (loan_ids[0], loan_ids[-1]) if loan_ids else None
    wanted, to_lapse = _wanted(active, as_of, span)
    _lapse_unpaid(to_lapse, as_of)
    if to_lapse:  # the lapsed patents' value and findings change: read them again
        wanted, _none = _wanted(active, as_of, span)
    seen: list[int] = []
    cured: list[int] = []
    changed: list[Finding] = []
    known: set[Key] = set()
    in_span = Finding.objects.filter(loan__id__range=span) if span else Finding.objects.none()
    for pk, loan_id, patent_id, kind, last_seen_on, amount, deadline_on, detail in in_span.filter(
        status=FindingStatus.OPEN
    ).values_list("pk", "loan_id", "patent_id", "kind", "last_seen_on", "amount", "deadline_on", "detail"):
        if loan_id not in statuses:
            continue  # in the id span, not among the loans watched
        watched.add(loan_id)
        key: Key = (loan_id, patent_id, kind)
        w = wanted.get(key)
        if last_seen_on > as_of:
            known.add(key)  # a later night saw it: an older date rewinds nothing
        elif w is None:
            cured.append(pk)
        else:
            known.add(key)
            if last_seen_on != as_of:
                seen.append(pk)
            if kind in REFRESHED_KINDS and (amount, deadline_on, detail) != w:
                changed.append(Finding(pk=pk, amount=w[0], deadline_on=w[1], detail=w[2]))
    # One UPDATE for the findings seen again; the fee findings whose amount moved (a surcharge's
    # new month) one bulk update. Coverage findings keep the figures of their first night (the
    # loan's live coverage is on its page and endpoint).
    if seen:
        Finding.objects.filter(pk__in=seen).update(last_seen_on=as_of)
    if changed:
        Finding.objects.bulk_update(changed, ["amount", "deadline_on", "detail"], batch_size=500)
    resolved = _resolve(Finding.objects.filter(pk__in=cured), as_of)
    raised = _open_findings({k: w for k, w in wanted.items() if k not in known}, as_of, already=known)
    return {"loans_watched": len(watched), "findings_raised": raised, "findings_resolved": resolved}


def _severity_sql(column: str) -> str:
    return (
        "CASE "
        + " ".join(f"WHEN {column} = '{kind}' THEN '{severity}'" for kind, severity in KIND_SEVERITY.items())
        + " END"
    )


_REFRESHED_SQL = "(" + ", ".join(f"'{k}'" for k in sorted(REFRESHED_KINDS)) + ")"
# The columns of the 'unknown' rows (a patent's fee inputs) in the others.
_NONE = "NULL::date, NULL::date, NULL::date, NULL::text, NULL::integer"
# After COVER_CTES (the active loans of the chunk): the findings that should be open (`ord`: the
# order the Python path raises them in, so ids come out the same), the open ones of the chunk's
# loans; then written: those seen again (last_seen_on; updated by id, the ids an InitPlan's array,
# so the plan is an index scan whatever the table's statistics say: a join of the findings table
# is planned on them, and a night that raised thousands leaves them stale), the new ones (INSERT
# ... ON CONFLICT DO NOTHING: a finding opened meanwhile is left alone by the partial unique
# indexes). Nothing is written when a patent's fee state is missing (cover_unknown): the caller
# computes it and runs the statement again. Returns the findings raised, the number seen again,
# the fee findings whose amount, deadline or detail moved ('refresh', with the new ones: few, the
# caller updates them) and those cured (few: the caller resolves them with their notifications
# and events), and the number of loans watched (the active ones and the others with an open
# finding). Findings a later night saw are left alone (an older date never rewinds).
_WATCH_SQL = f"""
, watch_wanted AS (
    SELECT loan_id, patent_id, 'legal_status'::text AS kind, NULL::numeric AS amount,
        NULL::date AS deadline_on, jsonb_build_object('state', legal_status) AS detail, 0 AS ord
    FROM cover_values WHERE legal_status IN ('lapsed', 'invalidated')
    UNION ALL
    SELECT loan_id, patent_id, 'valuation_expired', NULL, NULL,
        jsonb_build_object('valid_until', to_char(valid_until, 'YYYY-MM-DD')), 2
    FROM cover_values WHERE NOT dead AND valid_until < %(d)s
    UNION ALL
    SELECT loan_id, patent_id, 'valuation_expiring', NULL, valid_until,
        jsonb_build_object('valid_until', to_char(valid_until, 'YYYY-MM-DD')), 2
    FROM cover_values
    WHERE NOT dead AND valid_until >= %(d)s AND valid_until - %(d)s <= valuation_notice_days
    UNION ALL
    SELECT loan_id, patent_id, 'term_short', NULL, expires_on,
        jsonb_build_object('expires_on', to_char(expires_on, 'YYYY-MM-DD')), 3
    FROM cover_values
    WHERE NOT dead AND (%(d)s + make_interval(months => min_remaining_patent_months))::date > expires_on
    UNION ALL
    SELECT loan_id, NULL, CASE level WHEN 'shortfall' THEN 'coverage_shortfall' ELSE 'coverage_warning' END,
        collateral, NULL, jsonb_build_object('coverage', coverage::text, 'collateral_value', collateral::text,
            'outstanding_principal', outstanding::text), 4
    FROM cover_levels WHERE level <> 'ok'
    UNION ALL
    SELECT f.loan_id, f.patent_id, f.kind, f.amount, f.deadline_on, f.detail, 1
    FROM unnest(%(fee_loan)s::bigint[], %(fee_patent)s::bigint[], %(fee_kind)s::text[],
                %(fee_amount)s::numeric[], %(fee_deadline)s::date[], %(fee_detail)s::jsonb[])
        AS f(loan_id, patent_id, kind, amount, deadline_on, detail)
), watch_open AS MATERIALIZED (
    SELECT f.id, f.loan_id, f.patent_id, f.kind, f.last_seen_on, f.amount, f.deadline_on, f.detail
    FROM fintech_finding f
    WHERE f.status = 'open' AND f.loan_id BETWEEN %(lo)s AND %(hi)s
        AND (%(whole)s OR f.loan_id = ANY(%(ids)s::bigint[]))
), watch_match AS MATERIALIZED (
    SELECT o.*, w.kind IS NOT NULL AS wanted, w.amount AS w_amount, w.deadline_on AS w_deadline,
        w.detail AS w_detail
    FROM watch_open o LEFT JOIN watch_wanted w ON w.loan_id = o.loan_id AND w.kind = o.kind
        AND coalesce(w.patent_id, 0) = coalesce(o.patent_id, 0)
    WHERE o.last_seen_on <= %(d)s
), watch_seen AS (
    -- By id (the ids an InitPlan's array): an index scan whatever the table's statistics say.
    UPDATE fintech_finding SET last_seen_on = %(d)s
    WHERE id = ANY(ARRAY(SELECT id FROM watch_match WHERE wanted AND last_seen_on < %(d)s))
        AND NOT EXISTS (SELECT 1 FROM cover_unknown)
    RETURNING id
), watch_new AS (
    INSERT INTO fintech_finding (loan_id, patent_id, kind, severity, status, first_seen_on, last_seen_on,
        amount, deadline_on, detail)
    SELECT w.loan_id, w.patent_id, w.kind, {_severity_sql("w.kind")}, 'open', %(d)s, %(d)s, w.amount,
        w.deadline_on, w.detail
    FROM watch_wanted w
    WHERE NOT EXISTS (SELECT 1 FROM watch_open o WHERE o.loan_id = w.loan_id AND o.kind = w.kind
        AND coalesce(o.patent_id, 0) = coalesce(w.patent_id, 0))
        AND NOT EXISTS (SELECT 1 FROM cover_unknown)
    ORDER BY w.loan_id, w.patent_id NULLS LAST, w.ord
    ON CONFLICT DO NOTHING
    RETURNING id, loan_id, patent_id, kind, severity
)
SELECT 'raised', id, loan_id, patent_id, kind, severity, NULL::numeric, NULL::date, NULL::jsonb, {_NONE}
FROM watch_new
UNION ALL
SELECT 'seen', count(*), NULL, NULL, NULL, NULL, NULL, NULL, NULL, {_NONE} FROM watch_seen
UNION ALL
SELECT 'refresh', id, NULL, NULL, NULL, NULL, w_amount, w_deadline, w_detail, {_NONE} FROM watch_match
WHERE wanted AND kind IN {_REFRESHED_SQL}
    AND (amount, deadline_on, detail) IS DISTINCT FROM (w_amount, w_deadline, w_detail)
UNION ALL
SELECT 'cured', id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, {_NONE} FROM watch_match WHERE NOT wanted
UNION ALL
SELECT 'watched', (SELECT count(*) FROM cover_levels) + (SELECT count(DISTINCT o.loan_id)
    FROM watch_open o JOIN fintech_loan l ON l.id = o.loan_id WHERE l.status <> 'active'),
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, {_NONE}
UNION ALL
SELECT 'unknown', patent_id, loan_id, NULL, application_number, legal_status, NULL, NULL, NULL,
    expires_on, filing_date, grant_date, patent_type, fees_paid_through_year
FROM cover_unknown
"""  # noqa: S608 (kinds and severities are the model's choices; values are parameters)


def _watch_sql(loans: QuerySet[Loan], as_of: date) -> dict[str, int]:
    """collateral_watch on PostgreSQL: one statement (COVER_CTES + _WATCH_SQL) computes the
    coverage and the findings wanted, updates those seen again and inserts the new ones; then, as
    the Python path writes them, the few fee findings whose figures moved and the few cured (with
    their notifications and events), and the raised ones' notifications and events. The fee lines
    of the patents not paid through their term are Python's: when the statement finds such patents
    it was not told about (cover_unknown) it writes nothing and names them; their fee lines are
    computed (the patents whose grace ended unpaid lapse first, as on the Python path) and the
    statement runs again."""
    bounds = loans.aggregate(lo=Min("pk"), hi=Max("pk"), n=Count("pk"))
    if not bounds["n"]:
        return {"loans_watched": 0, "findings_raised": 0, "findings_resolved": 0}
    lo, hi, n = bounds["lo"], bounds["hi"], bounds["n"]
    # A chunk is every loan of its id range: the statement then filters on the range alone.
    whole = n == hi - lo + 1 or Loan.objects.filter(pk__range=(lo, hi)).count() == n
    ids = [] if whole else list(loans.order_by("pk").values_list("pk", flat=True))
    known: dict[int, FeeLine | None] = {}  # patent -> its first unpaid fee line (None: paid through)
    candidates: list[tuple[int, PatentRow]] = []
    lapsed = False
    while True:
        rows = _watch_statement(ids, lo, hi, as_of, whole, known, candidates)
        unknown = [
            (r[2], PatentRow(r[1], r[4], r[5], r[9], r[10], r[11], r[12], r[13]))
            for r in rows
            if r[0] == "unknown"
        ]
        if not unknown:
            break
        fees = first_unpaid_fees((p for _loan, p in unknown), as_of)
        to_lapse = [
            (p.pk, fee.due_on)
            for _loan, p in unknown
            if (fee := fees.get(p.pk)) is not None and fee.status == "lapsed" and p.expires_on >= as_of
        ]
        if to_lapse and not lapsed:
            # The grace ended unpaid: lapse them, then read the patents' state again (their value
            # and findings change), as the Python path does.
            _lapse_unpaid(to_lapse, as_of)
            lapsed = True
            known, candidates = {}, []
            continue
        candidates += unknown
        known.update({p.pk: fees.get(p.pk) for _loan, p in unknown})
    raised: list[Finding] = []
    changed: list[Finding] = []
    cured: list[int] = []
    watched = 0
    for tag, pk, loan_id, patent_id, kind, severity, amount, deadline_on, detail, *_rest in rows:
        if tag == "raised":
            raised.append(Finding(pk=pk, loan_id=loan_id, patent_id=patent_id, kind=kind, severity=severity))
        elif tag == "seen":
            pass  # updated by the statement (last_seen_on), counted
        elif tag == "refresh":
            detail = json.loads(detail) if isinstance(detail, str) else detail
            changed.append(Finding(pk=pk, amount=amount, deadline_on=deadline_on, detail=detail))
        elif tag == "cured":
            cured.append(pk)
        else:
            watched = pk
    if changed:
        Finding.objects.bulk_update(changed, ["amount", "deadline_on", "detail"], batch_size=500)
    resolved = _resolve(Finding.objects.filter(pk__in=cured), as_of) if cured else 0
    # The raised ones as the Python path reads them back (Finding's ordering: the latest first).
    raised.sort(key=lambda f: -f.pk)
    _notify(raised, "raised")
    if raised:
        _announce(raised, "collateral.finding_raised", "", FindingStatus.OPEN, as_of)
    return {"loans_watched": watched, "findings_raised": len(raised), "findings_resolved": resolved}


def _watch_statement(
    ids: list[int],
    lo: int,
    hi: int,
    as_of: date,
    whole: bool,
    known: dict[int, FeeLine | None],
    candidates: list[tuple[int, PatentRow]],
) -> list[tuple[Any, ...]]:
    """One run of COVER_CTES + _WATCH_SQL with the fee findings of the patents whose fee state is
    `known` (`candidates`: their loan and row)."""
    notice = (
        dict(
            Loan.objects.filter(pk__in={loan for loan, _p in candidates}).values_list(
                "pk", "program__fee_notice_days"
            )
        )
        if candidates
        else {}
    )
    fee_wanted: list[tuple[int, int, str, Want]] = []
    for loan_id, p in candidates:
        fee = known.get(p.pk)
        if fee is None or p.expires_on < as_of:
            continue  # paid through its term, or dead by its term's end
        if found := _fee_finding(fee, notice[loan_id], as_of):
            fee_wanted.append((loan_id, p.pk, found[0], found[1]))
    params = cover_params(ids, lo, hi, as_of, known, whole=whole, active_only=True)
    params.update(
        fee_loan=[w[0] for w in fee_wanted],
        fee_patent=[w[1] for w in fee_wanted],
        fee_kind=[w[2] for w in fee_wanted],
        fee_amount=[w[3][0] for w in fee_wanted],
        fee_deadline=[w[3][1] for w in fee_wanted],
        fee_detail=[json.dumps(w[3][2]) for w in fee_wanted],
    )
    with connection.cursor() as cursor:
        cursor.execute(COVER_CTES + _WATCH_SQL, params)
        return cursor.fetchall()


# --- the cure workflow ----------------------------------------------------------------------------


def _finding_for_party(actor: User, finding_id: int) -> Finding:
    finding = (
        Finding.objects.select_for_update(of=("self",))
        .select_related("loan", "loan__policy")
        .filter(pk=finding_id)
        .first()
    )
    if finding is None or not (
        acts_for(actor, K.BANK, finding.loan) or acts_for(actor, K.INSURER, finding.loan)
    ):
        raise NotFound(_("Finding not found."))
    return finding


def _require_open(finding: Finding, action: str) -> None:
    """A cure is asked for an open finding only: a resolved one is a 409 in the transition shape."""
    if finding.status != FindingStatus.OPEN:
        raise InvalidTransition.of(finding, action)


@transaction.atomic
def finding_note(*, actor: User, finding_id: int, note: str) -> FindingAction:
    """The bank or insurer notes what was agreed on a finding."""
    finding = _finding_for_party(actor, finding_id)
    if not note.strip():
        raise InvalidInput.on("note", _("A note cannot be empty."))
    return FindingAction.objects.create(finding=finding, kind=CureKind.NOTE, note=note, actor=actor)


@transaction.atomic
def finding_revaluation_request(*, actor: User, finding_id: int, note: str = "") -> Revaluation:
    """Ask the loan's appraisal firm for a new valuation of the pledged patents."""
    finding = _finding_for_party(actor, finding_id)
    _require_open(finding, "request a revaluation")
    revaluation = Revaluation.objects.create(
        loan=finding.loan,
        appraiser_id=finding.loan.application.appraiser_id,
        finding=finding,
        requested_by=actor,
    )
    FindingAction.objects.create(finding=finding, kind=CureKind.REVALUATION, note=note, actor=actor)
    audit_record(
        actor=actor, action="revaluation.request", obj=revaluation, to_state=RevaluationStatus.REQUESTED
    )
    return revaluation


@transaction.atomic
def revaluation_report(
    *, actor: User, revaluation_id: int, valuation_date: date, values: dict[int, Decimal]
) -> Revaluation:
    """The appraisal firm reports new values of the loan's pledged patents (valid 12 months, or the
    programme's validity); the next watch uses them."""
    revaluation = (
        Revaluation.objects.select_for_update(of=("self",))
        .select_related("loan__program")
        .filter(pk=revaluation_id)
        .first()
    )
    if revaluation is None or not (
        acts_for(actor, K.APPRAISER) and actor.organization_id == revaluation.appraiser_id
    ):
        raise NotFound(_("Revaluation not found."))
    if not can_proceed(revaluation.report):
        raise InvalidTransition.of(revaluation, "report")
    ensure_not_future(valuation_date, "valuation_date")
    pledged = set(
        PledgedPatent.objects.filter(pledge__loan=revaluation.loan, is_active=True).values_list(
            "patent_id", flat=True
        )
    )
    if set(values) != pledged:
        raise InvalidInput.on(
            "values", _("Give a value for each pledged patent of the loan, and only those.")
        )
    until = add_months(valuation_date, revaluation.loan.program.valuation_validity_months)
    CollateralAppraisal.objects.bulk_create(
        CollateralAppraisal(
            loan=revaluation.loan,
            patent_id=pk,
            revaluation=revaluation,
            value=v,
            valued_on=valuation_date,
            valid_until=until,
        )
        for pk, v in sorted(values.items())
    )
    revaluation.report()
    revaluation.valuation_date, revaluation.valid_until = valuation_date, until
    revaluation.save()
    audit_record(
        actor=actor, action="revaluation.report", obj=revaluation, from_state="requested", to_state="reported"
    )
    return revaluation


@transaction.atomic
def finding_patent_add(
    *, actor: User, finding_id: int, patent_id: int, value: Decimal, valued_on: date, note: str = ""
) -> FindingAction:
    """The bank pledges a further in-force patent of the SME to the loan, with its appraised value
    (the pledge registration's amendment is recorded on the loan's pledge)."""
    finding = _finding_for_party(actor, finding_id)
    require_acts_for(actor, K.BANK, finding.loan, _("Only the loan's bank adds a patent to its pledge."))
    _require_open(finding, "add a patent to the pledge")
    loan = finding.loan
    if loan.status != LoanStatus.ACTIVE:
        raise InvalidTransition.of(loan, "add a patent to the pledge")
    patent = Patent.objects.select_for_update().filter(pk=patent_id, owner_id=loan.sme_id).first()
    if patent is None:
        raise InvalidInput.on("patent", _("The patent must be registered by the loan's SME."))
    if patent.status != PatentStatus.IN_FORCE or (loan.maturity_on and patent.expires_on < loan.maturity_on):
        raise InvalidInput.on("patent", _("Only an in-force patent that outlives the loan can be pledged."))
    ensure_not_future(valued_on, "valued_on")
    try:
        value = parse_money(value)
    except InvalidMoney as exc:
        raise InvalidInput.on("value", str(exc)) from exc
    try:
        with transaction.atomic():
            PledgedPatent.objects.create(pledge=loan.pledge, patent=patent)
    except IntegrityError as exc:
        raise PatentAlreadyPledged() from exc
    CollateralAppraisal.objects.create(
        loan=loan,
        patent=patent,
        value=value,
        valued_on=valued_on,
        valid_until=add_months(valued_on, loan.program.valuation_validity_months),
    )
    action = FindingAction.objects.create(
        finding=finding, kind=CureKind.ADDED_PATENT, note=note, patent=patent, actor=actor
    )
    audit_record(
        actor=actor,
        action="pledge.add_patent",
        obj=loan.pledge,
        to_state="active",
        amount=value,
        payload={"patent": patent.pk, "finding": finding.pk},
    )
    return action


def finding_prepay_partial(
    *,
    actor: User,
    finding_id: int,
    amount: Decimal,
    value_date: date,
    recast: str = Recast.KEEP_TERM,
    note: str = "",
) -> FindingAction:
    """The bank records a partial prepayment of the loan's principal as the cure of a finding: the
    one prepayment service (services.prepayments.loan_prepay_partial, DOMAIN.md 8a) rebuilds the
    schedule, and the cure step names the prepayment. The next watch recomputes the coverage."""
    with transaction.atomic():
        # Checked first without a lock, so a refused step writes nothing; then the servicing order
        # (application, loan, installments: the prepayment) before the finding's row, as the
        # night's close takes them, and the finding's state checked again under its lock.
        finding = Finding.objects.select_related("loan", "loan__policy").filter(pk=finding_id).first()
        if finding is None or not (
            acts_for(actor, K.BANK, finding.loan) or acts_for(actor, K.INSURER, finding.loan)
        ):
            raise NotFound(_("Finding not found."))
        require_acts_for(actor, K.BANK, finding.loan, _("Only the loan's bank records a prepayment."))
        _require_open(finding, "record a partial prepayment")
        prepayment = loan_prepay_partial(
            actor=actor, loan_id=finding.loan_id, amount=amount, value_date=value_date, recast=recast
        )
        finding = _finding_for_party(actor, finding_id)
        _require_open(finding, "record a partial prepayment")
        action = FindingAction.objects.create(
            finding=finding, kind=CureKind.PREPAYMENT, note=note, prepayment=prepayment, actor=actor
        )
        audit_record(
            actor=actor,
            action="finding.prepayment",
            obj=finding,
            to_state=finding.status,
            amount=prepayment.principal,
            payload={"prepayment": prepayment.pk, "value_date": value_date, "recast": recast},
        )
        return action
