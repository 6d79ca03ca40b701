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
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any, cast

from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from fintech.models import (
    Application,
    AuditLog,
    FundMovement,
    JournalEntry,
    Loan,
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
from fintech.services.defaults import loan_default_declare
from tests.builders import Cast, active_loan
from tests.factories import OrganizationFactory, UserFactory, wuhan_program

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
    """The loan defaults on `default_on` (the bank declares it through the defaults service)."""
    event = loan_default_declare(
        actor=world.bank, loan_id=world.loan.pk, default_on=default_on, reason="90 days past due"
    )
    world.loan.refresh_from_db()
    return cast(LossEvent, event)


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
