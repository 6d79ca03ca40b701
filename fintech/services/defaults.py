"""Defaults (DOMAIN.md sections 8 and 10): declared by the loan's bank or by the daily close. The
loss at the default date is split insurer : government risk fund : bank by the programme's ratios
(stored on the loss event), the fund's share is drawn from its balance (any shortfall stays on
record as an unfunded liability), and the ledger, the policy claim and the audit trail follow.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple, overload

from django.db import connection, transaction
from django.db.models import DateField, F, Max, Q, QuerySet
from django.db.models.functions import Cast
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fintech.access import require_acts_for
from fintech.errors import DatesOutOfOrder, InvalidTransition, NotFound
from fintech.models import (
    Application,
    AuditLog,
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
    Prepayment,
    Program,
    Repayment,
    User,
)
from fintech.money import ZERO
from fintech.rules.loss import InstallmentPaid, LossBreakdown, loss_at_default, split_loss
from fintech.rules.schedules import PlannedInstallment
from fintech.selectors.risk_pool import fund_balance

from .audit import audit_row, audit_rows_write
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
    Entry,
    Leg,
    ledger_post_many,
)
from .prepayments import accrued_to
from .repayments import last_value_date
from .risk_pool import fund_keepers_of_smes, program_loss_threshold_check
from .transitions import application_lock, transitions_apply_many, transitions_audit_rows

# The API names the default date `declared_on`; errors point at that field.
DATE_FIELD = "declared_on"
OVERDUE_CHUNK = 2000  # installments per UPDATE and per events_emit call
ONLY_THE_BANK = gettext_lazy("Only the loan's bank declares a default.")


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
        _overdue_events(
            Installment.objects.filter(pk__in=part).values_list("pk", "seq", "due_on").order_by("pk")
        )
    return len(ids)


def _overdue_events(rows: Iterable[tuple[int, int, date]]) -> None:
    """The `installment.overdue` events of installments just marked, (id, seq, due date) in id order."""
    events_emit(
        "installment.overdue",
        Installment,
        [
            Change(
                pk, {"from_state": "due", "to_state": "overdue", "details": {"seq": seq, "due_on": str(due)}}
            )
            for pk, seq, due in rows
        ],
    )


def installments_mark_overdue_loans(loans: QuerySet[Loan], *, as_of: date, before: dict[int, date]) -> int:
    """The overdue rule for a chunk of the daily close (its loans locked): each loan's installments
    due before `before[loan id]` (a default's day less the grace days), else before `as_of` less
    its grace days, and not fully paid become overdue, with their events. On PostgreSQL ONE
    statement (UPDATE ... RETURNING, the status re-checked on each row it locks); elsewhere the
    same rule through `installments_mark_overdue`, one UPDATE per date. Returns the number marked."""
    if connection.vendor != "postgresql":
        marked = installments_mark_overdue_each(before)
        staying = loans.exclude(pk__in=list(before)) if before else loans
        for grace in sorted(set(staying.order_by().values_list("grace_days", flat=True).distinct())):
            marked += installments_mark_overdue(
                Installment.objects.filter(loan__in=staying.filter(grace_days=grace)),
                before=as_of - timedelta(days=grace),
            )
        return marked
    loan_sql, loan_params = loans.order_by().values_list("pk", "grace_days").query.sql_with_params()
    keys = sorted(before)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE fintech_installment i SET status = %s
            FROM ({loan_sql}) AS l(id, grace_days)
                LEFT JOIN unnest(%s::bigint[], %s::date[]) AS d(id, before) ON d.id = l.id
            WHERE i.loan_id = l.id AND i.status = %s
              AND i.due_on < COALESCE(d.before, %s::date - l.grace_days)
            RETURNING i.id, i.seq, i.due_on""",  # noqa: S608 (a queryset's own SQL; values are parameters)
            [
                InstallmentStatus.OVERDUE,
                *loan_params,
                keys,
                [before[k] for k in keys],
                InstallmentStatus.DUE,
                as_of,
            ],
        )
        rows = sorted(cursor.fetchall())
    for start in range(0, len(rows), OVERDUE_CHUNK):
        _overdue_events(rows[start : start + OVERDUE_CHUNK])
    return len(rows)


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


class ScheduleRow(NamedTuple):
    """What the loss reads of one stored installment (read as values, not as a model)."""

    seq: int
    start_on: date
    due_on: date
    days: int
    opening_principal: Decimal
    principal_due: Decimal
    interest_due: Decimal
    principal_paid: Decimal
    interest_paid: Decimal
    principal_changed_on: date | None
    principal_after_change: Decimal | None


def loan_loss(rows: Sequence[ScheduleRow | Installment], loan: Loan, default_on: date) -> LossBreakdown:
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
    loss = loss_at_default(planned, paid, loan.disbursed_on, loan.annual_rate, default_on)
    current = next((r for r in rows if r.start_on == loss.accrual_from and r.due_on > default_on), None)
    if current is None or current.principal_changed_on is None:
        return loss
    # A partial prepayment inside the period: the same accrual as the payoff (the old principal up
    # to the change date, the new one after), so the loss and the payoff never disagree.
    principal_after = sum((r.principal_due for r in rows if r.due_on > default_on), ZERO)
    accrued = accrued_to(current, default_on, principal_after, loan.annual_rate)
    return replace(
        loss,
        accrued_interest=accrued,
        loss_amount=loss.unpaid_principal + loss.unpaid_interest + accrued,
    )


def installments_mark_overdue_each(before: dict[int, date]) -> int:
    """`installments_mark_overdue` for many loans at once, each with its own date (loan id ->
    before): one UPDATE. Returns the number marked."""
    if not before:
        return 0
    loans_by_date: dict[date, list[int]] = defaultdict(list)
    for loan_id, on in sorted(before.items()):
        loans_by_date[on].append(loan_id)
    which = Q()
    for on, loan_ids in sorted(loans_by_date.items()):
        which |= Q(loan_id__in=loan_ids, due_on__lt=on)
    return installments_mark_overdue(Installment.objects.filter(which), before=max(loans_by_date) + ONE_DAY)


ONE_DAY = timedelta(days=1)


def _check_dates(loan: Loan, default_on: date, last_paid: date | None) -> None:
    ensure_not_future(default_on, DATE_FIELD)
    assert loan.disbursed_on is not None  # an active loan is disbursed (loan_active_is_disbursed)
    if default_on < loan.disbursed_on:
        raise DatesOutOfOrder(
            _("A default (%(default_on)s) cannot precede the disbursement (%(disbursed_on)s).")
            % {"default_on": default_on, "disbursed_on": loan.disbursed_on},
            fields={
                DATE_FIELD: [
                    _("Not before the disbursement date %(disbursed_on)s.")
                    % {"disbursed_on": loan.disbursed_on}
                ]
            },
        )
    if last_paid is not None and default_on < last_paid:
        raise DatesOutOfOrder(
            _("A default (%(default_on)s) cannot precede the last repayment (%(last_paid)s).")
            % {"default_on": default_on, "last_paid": last_paid},
            fields={
                DATE_FIELD: [
                    _("Not before the last repayment's value date %(last_paid)s.") % {"last_paid": last_paid}
                ]
            },
        )


@dataclass(frozen=True)
class _Default:
    """One default to write: the loan and its application locked, state and dates checked."""

    loan: Loan
    application: Application
    default_on: date
    reason: str


class DefaultBatch:
    """The defaults of one chunk of the daily close, queued by `loan_default_declare(...,
    batch=...)` and written together by `write()` in the chunk's transaction: the same rows and
    figures as one call each, with one statement per kind of row and the programme locked once,
    last, for the draws."""

    def __init__(self, actor: User | None = None, *, overdue_marked: bool = False) -> None:
        self.actor = actor
        # The close has marked the defaulting loans' past-due installments itself, up to the
        # default days (services.close): no second pass over them.
        self.overdue_marked = overdue_marked
        self.queued: dict[int, tuple[date, str]] = {}

    def __len__(self) -> int:
        return len(self.queued)

    def write(self) -> list[LossEvent]:
        """Lock, check and default the queued loans (in loan id order); their loss events."""
        if not self.queued:
            return []
        ids = sorted(self.queued)
        # Lock order of every loan write: applications, loans, installments (each in id order).
        apps = {
            app.pk: app
            for app in Application.objects.select_for_update()
            .filter(pk__in=Loan.objects.filter(pk__in=ids).values("application_id"))
            .order_by("pk")
        }
        loans = list(Loan.objects.select_for_update().filter(pk__in=ids).order_by("pk"))
        if len(loans) != len(ids):
            raise NotFound(_("Loan not found."))
        # The same bound as `last_value_date`: a prepayment is a money movement too (one query).
        last_paid: dict[int, date] = {}
        for loan_id, on in (
            Repayment.objects.filter(loan_id__in=ids, reversal__isnull=True)
            .order_by()
            .values("loan_id")
            .annotate(last=Max("paid_on"))
            .values_list("loan_id", "last")
            .union(
                Prepayment.objects.filter(loan_id__in=ids)
                .order_by()
                .values("loan_id")
                .annotate(last=Max("value_date"))
                .values_list("loan_id", "last"),
                all=True,
            )
        ):
            last_paid[loan_id] = max(on, last_paid.get(loan_id, on))
        items = []
        for loan in loans:
            if self.actor is not None:
                require_acts_for(self.actor, OrganizationKind.BANK, loan, ONLY_THE_BANK)
            if loan.status != LoanStatus.ACTIVE:
                raise InvalidTransition.of(loan, "declare a default")
            default_on, reason = self.queued[loan.pk]
            _check_dates(loan, default_on, last_paid.get(loan.pk))
            items.append(_Default(loan, apps[loan.application_id], default_on, reason))
        self.queued = {}
        return _defaults_write(self.actor, items, mark_overdue=not self.overdue_marked)


@overload
def loan_default_declare(*, actor: User | None, loan_id: int, default_on: date, reason: str) -> LossEvent: ...


@overload
def loan_default_declare(
    *, actor: User | None, loan_id: int, default_on: date, reason: str, batch: DefaultBatch
) -> None: ...


def loan_default_declare(
    *, actor: User | None, loan_id: int, default_on: date, reason: str, batch: DefaultBatch | None = None
) -> LossEvent | None:
    """Default an active loan on `default_on` (its bank, or the daily close when actor is None).

    Writes the loss event with its split and stored ratios, the fund's draw, the ledger entry
    "loss", the loan/application/policy transitions and their audit rows; may suspend the
    programme once its losses pass the loss threshold.

    With `batch` (the close), the default is queued there and written with the chunk's others by
    `batch.write()`, the same computation over the list of them (`_defaults_write`).
    """
    if batch is not None:
        batch.queued[loan_id] = (default_on, reason)
        return None
    with transaction.atomic():
        application_id = Loan.objects.filter(pk=loan_id).values_list("application_id", flat=True).first()
        if application_id is None:
            raise NotFound(_("Loan not found."))
        # Lock order of every loan write (services.repayments): application, loan, installments. A
        # repayment racing this default waits, then finds the loan defaulted (409); or it went
        # first, and the state re-checked below is the state after it.
        app = application_lock(application_id)
        loan = Loan.objects.select_for_update().get(pk=loan_id)
        if actor is not None:
            require_acts_for(actor, OrganizationKind.BANK, loan, ONLY_THE_BANK)
        if loan.status != LoanStatus.ACTIVE:
            raise InvalidTransition.of(loan, "declare a default")
        _check_dates(loan, default_on, last_value_date(loan))
        return _defaults_write(actor, [_Default(loan, app, default_on, reason)])[0]


def _defaults_write(
    actor: User | None, items: list[_Default], *, mark_overdue: bool = True
) -> list[LossEvent]:
    """The one computation of a default, for one loan (the bank's declaration) or a chunk's
    (the close), in loan id order: the loss of each (section 10), its split by the programme's
    ratios, the fund's draw seeing the balance the previous draw left, and every row that follows
    (loss event, draw, loan/application/policy transitions, ledger entry, audit rows), one
    statement per kind of row. The programme rows (which serialise the draws on their funds) are
    locked last, so a chunk holds them for its writes only."""
    ids = [d.loan.pk for d in items]
    schedules: dict[int, list[ScheduleRow]] = defaultdict(list)
    for values in (
        Installment.objects.select_for_update()
        .filter(loan_id__in=ids)
        .order_by("loan_id", "seq")
        .values_list("loan_id", *ScheduleRow._fields)
    ):
        schedules[values[0]].append(ScheduleRow(*values[1:]))
    losses = [loan_loss(schedules[d.loan.pk], d.loan, d.default_on) for d in items]
    # Whatever path defaults the loan, the installments past due on the default date read overdue
    # (the close has marked them already when it is the close defaulting the loan).
    if mark_overdue:
        installments_mark_overdue_each(
            {d.loan.pk: d.default_on - timedelta(days=d.loan.grace_days) for d in items}
        )
    policies = {
        p.pk: p
        for p in Policy.objects.select_for_update()
        .filter(pk__in={d.loan.policy_id for d in items})
        .order_by("pk")
    }
    keepers = fund_keepers_of_smes({d.loan.sme_id for d in items})
    # The transitions (loan, application, policy claim) before the programme lock: they depend on
    # nothing the lock guards; their audit rows follow once the loss events exist.
    for d in items:
        d.loan.defaulted_on = d.default_on
    loans = [d.loan for d in items]
    apps = [d.application for d in items]
    claimed: dict[int, int] = {}  # policy id -> index of the default that claims it
    for i, d in enumerate(items):
        if policies[d.loan.policy_id].status != PolicyStatus.CLAIMED and d.loan.policy_id not in claimed:
            claimed[d.loan.policy_id] = i
    claims = [policies[pk] for pk in claimed]
    loans_before = transitions_apply_many(loans, "default", fields=("defaulted_on",))
    apps_before = transitions_apply_many(apps, "default")
    claims_before = transitions_apply_many(claims, "claim")

    # Last lock: the programme rows, which serialise the draws on their funds.
    programs = {
        p.pk: p
        for p in Program.objects.select_for_update()
        .filter(pk__in={d.loan.program_id for d in items})
        .order_by("pk")
    }
    balances = {pk: fund_balance(pk) for pk in programs}
    events = []
    for d, loss in zip(items, losses, strict=True):
        program = programs[d.loan.program_id]
        ratios = (program.insurer_share, program.government_share, program.bank_share)
        insurer_share, government_share, bank_share = split_loss(loss.loss_amount, ratios)
        balance_before = balances[program.pk]
        if government_share > 0:
            balances[program.pk] = balance_before - government_share
        events.append(
            LossEvent(
                loan=d.loan,
                program=program,
                default_on=d.default_on,
                declared_by=actor,
                reason=d.reason[:500],
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
                unfunded_amount=max(ZERO, government_share - max(balance_before, ZERO)),
            )
        )
    LossEvent.objects.bulk_create(events)
    draws = {
        e.loan_id: FundMovement(
            program=e.program,
            kind=FundMovementKind.DRAW,
            amount=e.government_share,
            on=e.default_on,
            loss_event=e,
            created_by=actor,
        )
        for e in events
        if e.government_share > 0
    }
    FundMovement.objects.bulk_create(draws.values())

    loan_rows = transitions_audit_rows(
        loans,
        "default",
        loans_before,
        actor=actor,
        reasons=[d.reason for d in items],
        amounts=[e.loss_amount for e in events],
        payloads=[
            {"default_on": d.default_on, "loss_event": e.pk, "by": "bank" if actor else "daily close"}
            for d, e in zip(items, events, strict=True)
        ],
    )
    app_rows = transitions_audit_rows(
        apps,
        "default",
        apps_before,
        actor=actor,
        reasons=[d.reason for d in items],
        payloads=[{"default_on": d.default_on} for d in items],
    )
    claim_events = [events[i] for i in claimed.values()]
    claim_rows = transitions_audit_rows(
        claims,
        "claim",
        claims_before,
        actor=actor,
        amounts=[e.insurer_share for e in claim_events],
        payloads=[{"loss_event": e.pk} for e in claim_events],
    )
    claim_row_of = {i: row for i, row in zip(claimed.values(), claim_rows, strict=True)}

    audit: list[AuditLog] = []
    for i, (d, loss, e) in enumerate(zip(items, losses, events, strict=True)):
        audit.append(_loss_audit(actor, d, loss, e))
        draw = draws.get(d.loan.pk)
        if draw is not None:
            payload = {
                "loss_event": e.pk,
                "balance_before": e.fund_balance_before,
                "unfunded": e.unfunded_amount,
            }
            audit.append(
                audit_row(actor=actor, action="fund.draw", obj=draw, amount=draw.amount, payload=payload)
            )
        audit += [loan_rows[i], app_rows[i]]
        if i in claim_row_of:
            audit.append(claim_row_of[i])
    audit_rows_write(audit)

    ledger_post_many(
        [
            _loss_entry(
                e,
                d.loan,
                policies[d.loan.policy_id].insurer_id,
                keepers[d.loan.sme_id],
                actor,
            )
            for d, e in zip(items, events, strict=True)
        ]
    )
    for pk, program in programs.items():
        # Locked above and unchanged since: one without a threshold, or suspended, is left alone.
        if program.loss_threshold_amount is None or not program.is_active:
            continue
        added = [e.loss_amount for e in events if e.program_id == pk]
        program_loss_threshold_check(pk, actor=actor, added=added)
    return events


def _loss_audit(actor: User | None, d: _Default, loss: LossBreakdown, event: LossEvent) -> AuditLog:
    ratios = (event.insurer_ratio, event.government_ratio, event.bank_ratio)
    shares = {"insurer": event.insurer_share, "government": event.government_share, "bank": event.bank_share}
    return audit_row(
        actor=actor,
        action="loss.record",
        obj=event,
        amount=loss.loss_amount,
        reason=d.reason,
        payload={
            "loan": d.loan.pk,
            "default_on": d.default_on,
            "unpaid_principal": loss.unpaid_principal,
            "unpaid_interest": loss.unpaid_interest,
            "accrued_interest": loss.accrued_interest,
            "accrued_from": loss.accrual_from,
            "accrued_days": loss.days,
            "ratios": {"insurer": ratios[0], "government": ratios[1], "bank": ratios[2]},
            "shares": shares,
        },
    )


def _loss_entry(
    event: LossEvent, loan: Loan, insurer_id: int, keeper_id: int | None, actor: User | None
) -> Entry:
    """The ledger entry of services.ledger "loss at default": the unpaid principal and interest move
    to the clearing account, which the three shares then clear."""
    interest = event.unpaid_interest + event.accrued_interest
    return Entry(
        kind=EntryKind.LOSS,
        booked_on=event.default_on,
        source=event,
        loan=loan,
        program=event.program,
        actor=actor,
        memo=f"loss at default of loan {loan.pk} on {event.default_on}",
        legs=[
            Leg(DEFAULT_CLEARING, LOANS_RECEIVABLE, event.unpaid_principal, loan.bank_id),
            Leg(DEFAULT_CLEARING, INTEREST_INCOME, interest, loan.bank_id),
            Leg(CLAIM_INSURER, DEFAULT_CLEARING, event.insurer_share, loan.bank_id),
            Leg(CLAIM_FUND, DEFAULT_CLEARING, event.government_share, loan.bank_id),
            Leg(BANK_CREDIT_LOSS, DEFAULT_CLEARING, event.bank_share, loan.bank_id),
            Leg(INSURER_CLAIMS_EXPENSE, INSURER_PAYABLE, event.insurer_share, insurer_id),
            Leg(FUND_LOSS_EXPENSE, FUND_PAYABLE, event.government_share, keeper_id),
        ],
    )
