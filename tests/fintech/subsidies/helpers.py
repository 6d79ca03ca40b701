"""Builders shared by the subsidy tests: loans through the real services (tests.builders),
repayments through services.repayments, runs through services.subsidies."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from fintech.models import Installment, Loan, Organization, Program, SubsidyEntitlement, SubsidyRun, User
from fintech.services.repayments import repayment_record
from tests.builders import Cast
from tests.factories import OrganizationFactory, UserFactory, wuhan_program

D = Decimal
INTEREST_ONLY = "interest_monthly_principal_at_maturity"


def regulator_org(region: str = "420100") -> Organization:
    return OrganizationFactory(kind="regulator", region_id=region)


def regulator(org: Organization | None = None, **extra: Any) -> User:
    return UserFactory(organization=org or regulator_org(), **extra)


def installments(loan: Loan) -> list[Installment]:
    return list(Installment.objects.filter(loan=loan).order_by("seq"))


def pay(loan: Loan, people: Cast, seqs: Iterable[int], *, days_late: int = 0) -> None:
    """Pay each named installment in full (interest and principal) on its due date + days_late."""
    rows = {i.seq: i for i in installments(loan)}
    for seq in seqs:
        row = rows[seq]
        repayment_record(
            actor=people.bank,
            loan_id=loan.pk,
            amount=row.principal_due + row.interest_due,
            paid_on=row.due_on + timedelta(days=days_late),
        )


def pay_all_on_time(loan: Loan, people: Cast) -> None:
    pay(loan, people, [i.seq for i in installments(loan)])


def set_program(**params: Any) -> Program:
    """Edit the Wuhan programme's subsidy parameters (a run copies them when it starts)."""
    program = wuhan_program()
    for name, value in params.items():
        setattr(program, name, value)
    program.save()
    return program


def amounts(run: SubsidyRun) -> list[tuple[int, int | None, str, Decimal, Decimal, bool]]:
    """(loan, installment seq or None, kind, computed amount, amount, capped), in a stable order."""
    rows = SubsidyEntitlement.objects.filter(run=run).select_related("installment")
    out = [
        (
            e.loan_id,
            e.installment.seq if e.installment else None,
            e.kind,
            e.computed_amount,
            e.amount,
            e.capped,
        )
        for e in rows
    ]
    return sorted(out, key=lambda r: (r[0], r[1] or 0, r[2]))


def by_seq(run: SubsidyRun, loan: Loan) -> dict[int | None, Decimal]:
    """{installment seq (None for the premium subsidy): amount} of one loan in one run."""
    return {
        (e.installment.seq if e.installment else None): e.amount
        for e in SubsidyEntitlement.objects.filter(run=run, loan=loan).select_related("installment")
    }


def today() -> date:
    from fintech.services.common import business_today

    return business_today()
