"""The risk-pool tests' world: an active loan taken through the real services to default, and
the parties around it (two members each of the bank, the insurer and the Wuhan regulator, so a
second person can approve).

The loss of the standard default, worked by hand (DOMAIN.md section 10): 1,000,000.00 at 4.5 %,
equal principal over 12 months, disbursed 2025-02-20, nothing repaid, default on 2025-07-01.
- Installments due by then: 03-20, 04-20, 05-20, 06-20. Unpaid principal: all 1,000,000.00.
- Their interest (actual/360): 1,000,000.00 x 0.045 x 28/360 = 3,500.00;
  916,666.67 x 0.045 x 31/360 = 3,552.0833 -> 3,552.08; 833,333.34 x 0.045 x 30/360 = 3,125.0000 ->
  3,125.00; 750,000.01 x 0.045 x 31/360 = 2,906.2500 -> 2,906.25; unpaid interest 13,083.33.
- Accrued 06-20 -> 07-01 (11 days) on the 666,666.68 scheduled after installment 4:
  666,666.68 x 0.045 x 11/360 = 916.6667 -> 916.67.
- Loss 1,000,000.00 + 13,083.33 + 916.67 = 1,014,000.00, split 5:3:2 exactly into
  507,000.00 / 304,200.00 / 202,800.00.

The defaults service is built in parallel: `declare_default` calls it when it is importable and
otherwise writes the same rows it would (the loss event and the fund's draw) with these figures.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, cast

from django.db import transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from fintech.models import (
    Application,
    AuditLog,
    FundMovement,
    FundMovementKind,
    Installment,
    JournalEntry,
    Loan,
    LoanStatus,
    LossEvent,
    Organization,
    OrganizationKind,
    Posting,
    Program,
    Recovery,
    Region,
    Settlement,
    User,
)
from fintech.money import ZERO
from fintech.rules.loss import InstallmentPaid, loss_at_default, split_loss
from fintech.rules.schedules import PlannedInstallment
from fintech.selectors.risk_pool import fund_balance
from fintech.services.transitions import application_lock, application_transition
from tests.factories import OrganizationFactory, UserFactory, wuhan_program
from tests.loan_builder import Cast, active_loan

D = Decimal
DEFAULT_ON = date(2025, 7, 1)
LOSS = D("1014000.00")
INSURER_SHARE, GOVERNMENT_SHARE, BANK_SHARE = D("507000.00"), D("304200.00"), D("202800.00")


@dataclass
class World:
    loan: Loan
    program: Program
    sme: User
    bank: User
    bank_2: User
    insurer: User
    insurer_2: User
    regulator: User
    regulator_2: User
    other_regulator: User  # Huangshi (420200): not the SME's region, not served by the programme
    other_insurer: User
    platform: User
    people: Cast  # the loan builder's cast (with the appraiser), for more loans of the same parties


def make_user(org: Organization, **extra: Any) -> User:
    return cast(User, UserFactory(organization=org, **extra))


def client_for(user: User) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def active_world() -> World:
    """The standard loan, active, with every party's users (nothing has defaulted yet)."""
    loan, people = active_loan()
    cast_: Cast = people
    regulator_org = OrganizationFactory(
        kind=OrganizationKind.REGULATOR, name="Wuhan Finance Bureau 武汉市财政局"
    )
    other_regulator_org = OrganizationFactory(
        kind=OrganizationKind.REGULATOR,
        name="Huangshi Finance Bureau",
        region=Region.objects.get(code="420200"),
    )
    return World(
        loan=loan,
        program=wuhan_program(),
        sme=cast_.sme,
        bank=cast_.bank,
        bank_2=make_user(cast_.bank.organization, is_staff=True),  # type: ignore[arg-type]
        insurer=cast_.insurer,
        insurer_2=make_user(cast_.insurer.organization, is_staff=True),  # type: ignore[arg-type]
        regulator=make_user(regulator_org, is_staff=True),
        regulator_2=make_user(regulator_org, is_staff=True),
        other_regulator=make_user(other_regulator_org, is_staff=True),
        other_insurer=make_user(OrganizationFactory(kind=OrganizationKind.INSURER), is_staff=True),
        platform=make_user(OrganizationFactory(kind=OrganizationKind.PLATFORM), is_staff=True),
        people=cast_,
    )


def declare_default(world: World, default_on: date = DEFAULT_ON) -> LossEvent:
    """The loan defaults on `default_on`: through the defaults service when it exists."""
    try:
        from fintech.services.defaults import loan_default_declare
    except ImportError:
        return _loss_event_direct(world, default_on)
    event = loan_default_declare(
        actor=world.bank, loan_id=world.loan.pk, default_on=default_on, reason="90 days past due"
    )
    world.loan.refresh_from_db()
    return cast(LossEvent, event)


@transaction.atomic
def _loss_event_direct(world: World, default_on: date) -> LossEvent:
    """The rows the defaults service writes, computed with the same rules (rules.loss)."""
    loan = world.loan
    rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    plan = [
        PlannedInstallment(
            r.seq, r.start_on, r.due_on, r.days, r.opening_principal, r.principal_due, r.interest_due
        )
        for r in rows
    ]
    paid = {r.seq: InstallmentPaid(r.principal_paid, r.interest_paid) for r in rows}
    assert loan.disbursed_on is not None
    loss = loss_at_default(plan, paid, loan.disbursed_on, loan.annual_rate, default_on)
    program = Program.objects.select_for_update().get(pk=loan.program_id)
    ratios = (program.insurer_share, program.government_share, program.bank_share)
    insurer, government, bank = split_loss(loss.loss_amount, ratios)
    balance = fund_balance(program.pk)
    event = LossEvent.objects.create(
        loan=loan,
        program=program,
        default_on=default_on,
        declared_by=world.bank,
        reason="90 days past due",
        unpaid_principal=loss.unpaid_principal,
        unpaid_interest=loss.unpaid_interest,
        accrued_interest=loss.accrued_interest,
        loss_amount=loss.loss_amount,
        insurer_ratio=ratios[0],
        government_ratio=ratios[1],
        bank_ratio=ratios[2],
        insurer_share=insurer,
        government_share=government,
        bank_share=bank,
        fund_balance_before=balance,
        unfunded_amount=max(government - max(balance, ZERO), ZERO),
    )
    if government > 0:
        FundMovement.objects.create(
            program=program, kind=FundMovementKind.DRAW, amount=government, on=default_on, loss_event=event
        )
    loan.status = LoanStatus.DEFAULTED
    loan.defaulted_on = default_on
    loan.save(update_fields=["status", "defaulted_on"])
    application_transition(application_lock(loan.application_id), "default", actor=world.bank)
    return event


def another_loan(world: World, principal: Decimal) -> World:
    """The same parties with a second active loan (disbursed 2025-02-20 like the first)."""
    loan, _ = active_loan(principal=principal, people=world.people)
    return replace(world, loan=loan)


def defaulted_world() -> tuple[World, LossEvent]:
    world = active_world()
    return world, declare_default(world)


def risk_snapshot() -> dict[str, Any]:
    """Everything a risk-pool write may change: equal before and after a refused one."""
    return {
        "recoveries": list(
            Recovery.objects.values_list("pk", "amount", "insurer_part", "government_part", "bank_part")
        ),
        "settlements": list(Settlement.objects.values_list("pk", "amount", "status", "approved_by_id")),
        "fund_movements": list(FundMovement.objects.values_list("pk", "kind", "amount")),
        "journal_entries": JournalEntry.objects.count(),
        "postings": Posting.objects.count(),
        "audit_rows": AuditLog.objects.count(),
        "programs": list(Program.objects.values_list("pk", "is_active")),
        "applications": list(Application.objects.values_list("pk", "status")),
    }


def postings_of(source: Any, kind: str) -> list[tuple[str, str, Decimal, int | None]]:
    """The (debit, credit, amount, organisation) legs of a source record's journal entry."""
    entry = JournalEntry.objects.get(
        kind=kind, source_type=source._meta.label_lower, source_id=str(source.pk)
    )
    return [
        (p.debit_account_id, p.credit_account_id, p.amount, p.organization_id)
        for p in entry.postings.order_by("id")
    ]
