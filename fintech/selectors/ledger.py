"""Reads of the ledger: the trial balance, a loan's statement, and the reconciliation of the ledger
with the operational tables (installments, repayments), which the tests hold to the fen.

Balances are signed debit minus credit (asset and expense accounts are positive when they hold
money; liability, fund and income accounts negative).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum

from fintech.models import EntryKind, Loan, Posting
from fintech.models.ledger import (
    BANK_CASH,
    INTEREST_INCOME,
    LOANS_RECEIVABLE,
    SME_CASH,
    SME_INTEREST_EXPENSE,
    SME_LOANS_PAYABLE,
)
from fintech.money import ZERO


@dataclass(frozen=True)
class TrialBalanceRow:
    code: str
    name: str
    name_zh: str
    kind: str
    debit: Decimal
    credit: Decimal

    @property
    def balance(self) -> Decimal:
        return self.debit - self.credit


@dataclass(frozen=True)
class TrialBalance:
    as_of: date
    accounts: list[TrialBalanceRow]
    total_debit: Decimal
    total_credit: Decimal


def trial_balance(postings: QuerySet[Posting], *, as_of: date) -> TrialBalance:
    """Per account with postings booked on or before `as_of`: its total debits and total credits
    (one aggregate query per side). Every posting debits one account and credits another with the
    same amount, so the two totals are equal."""
    booked = postings.filter(entry__booked_on__lte=as_of)
    sides: dict[str, dict[str, Decimal]] = {}
    names: dict[str, tuple[str, str, str]] = {}
    for side in ("debit", "credit"):
        rows = (
            booked.values(f"{side}_account")
            .annotate(total=Sum("amount"))
            .values_list(
                f"{side}_account",
                f"{side}_account__name",
                f"{side}_account__name_zh",
                f"{side}_account__kind",
                "total",
            )
            .order_by()
        )
        for code, name, name_zh, kind, total in rows:
            sides.setdefault(code, {"debit": ZERO, "credit": ZERO})[side] = total
            names[code] = (name, name_zh, kind)
    accounts = [
        TrialBalanceRow(code, *names[code], debit=sides[code]["debit"], credit=sides[code]["credit"])
        for code in sorted(sides)
    ]
    return TrialBalance(
        as_of=as_of,
        accounts=accounts,
        total_debit=sum((a.debit for a in accounts), ZERO),
        total_credit=sum((a.credit for a in accounts), ZERO),
    )


@dataclass(frozen=True)
class StatementLine:
    entry_id: int
    booked_on: date
    kind: str
    memo: str
    debit_account: str
    credit_account: str
    amount: Decimal
    organization_id: int | None
    balance: Decimal  # the loan receivable (1101) after this line


def loan_statement(loan: Loan) -> list[StatementLine]:
    """The loan's postings in booking order (business date, then entry, then posting) with the
    running balance of its loan receivable (account 1101)."""
    balance = ZERO
    lines: list[StatementLine] = []
    rows = (
        Posting.objects.filter(loan=loan)
        .select_related("entry")
        .order_by("entry__booked_on", "entry_id", "id")
    )
    for p in rows:
        if p.debit_account_id == LOANS_RECEIVABLE:
            balance += p.amount
        elif p.credit_account_id == LOANS_RECEIVABLE:
            balance -= p.amount
        lines.append(
            StatementLine(
                entry_id=p.entry_id,
                booked_on=p.entry.booked_on,
                kind=p.entry.kind,
                memo=p.entry.memo,
                debit_account=p.debit_account_id,
                credit_account=p.credit_account_id,
                amount=p.amount,
                organization_id=p.organization_id,
                balance=balance,
            )
        )
    return lines


# --- reconciliation with the operational tables ---------------------------------------------------


def account_balance(
    code: str, *, loan: Loan | None = None, organization_id: int | None = None, as_of: date | None = None
) -> Decimal:
    """Debits minus credits of one account, optionally for one loan, one party, up to a date."""
    qs = Posting.objects.all()
    if loan is not None:
        qs = qs.filter(loan=loan)
    if organization_id is not None:
        qs = qs.filter(organization_id=organization_id)
    if as_of is not None:
        qs = qs.filter(entry__booked_on__lte=as_of)
    debit = qs.filter(debit_account_id=code).aggregate(s=Sum("amount"))["s"] or ZERO
    credit = qs.filter(credit_account_id=code).aggregate(s=Sum("amount"))["s"] or ZERO
    return debit - credit


def loan_outstanding_principal(loan: Loan) -> Decimal:
    """Principal still owed according to the schedule: sum of (principal_due - principal_paid)."""
    row = loan.installments.aggregate(due=Sum("principal_due"), paid=Sum("principal_paid"))
    return (row["due"] or ZERO) - (row["paid"] or ZERO)


@dataclass(frozen=True)
class LoanReconciliation:
    """Each figure twice: from the ledger and from the operational tables."""

    receivable: tuple[Decimal, Decimal]  # 1101 for the loan vs outstanding principal
    sme_payable: tuple[Decimal, Decimal]  # 2004 (credit balance) vs outstanding principal
    interest_income: tuple[Decimal, Decimal]  # 4001 (credit balance) vs interest paid on installments
    sme_interest_expense: tuple[Decimal, Decimal]  # 5005 vs interest paid on installments
    bank_cash: tuple[Decimal, Decimal]  # 1001 of the bank for the loan vs repaid - disbursed
    sme_cash: tuple[Decimal, Decimal]  # 1004 of the SME for the loan vs disbursed - repaid

    def mismatches(self) -> list[str]:
        return [name for name, (ledger, books) in vars(self).items() if ledger != books]


def loan_reconciliation(loan: Loan) -> LoanReconciliation:
    """The ledger against the schedule for a disbursed loan that has not defaulted (at default the
    receivable moves to the defaulted-loans clearing account). The premium the SME paid for the
    policy is left out of its cash."""
    row = loan.installments.aggregate(
        principal_due=Sum("principal_due"),
        principal_paid=Sum("principal_paid"),
        interest_paid=Sum("interest_paid"),
    )
    principal_paid = row["principal_paid"] or ZERO
    interest_paid = row["interest_paid"] or ZERO
    outstanding = (row["principal_due"] or ZERO) - principal_paid
    disbursed = loan.principal if loan.disbursed_on is not None else ZERO
    # A partial prepayment's principal left the schedule when it was rebuilt (it is not an
    # installment's payment); every prepayment's fee is cash besides the installments.
    prepaid = loan.prepayments.aggregate(principal=Sum("principal", filter=Q(kind="partial")), fee=Sum("fee"))
    repaid = principal_paid + interest_paid + (prepaid["principal"] or ZERO) + (prepaid["fee"] or ZERO)
    return LoanReconciliation(
        receivable=(account_balance(LOANS_RECEIVABLE, loan=loan), outstanding),
        sme_payable=(-account_balance(SME_LOANS_PAYABLE, loan=loan), outstanding),
        interest_income=(-account_balance(INTEREST_INCOME, loan=loan), interest_paid),
        sme_interest_expense=(account_balance(SME_INTEREST_EXPENSE, loan=loan), interest_paid),
        bank_cash=(account_balance(BANK_CASH, loan=loan, organization_id=loan.bank_id), repaid - disbursed),
        sme_cash=(
            account_balance(SME_CASH, loan=loan, organization_id=loan.sme_id)
            - _premium_paid_through_loan(loan),
            disbursed - repaid,
        ),
    )


def _premium_paid_through_loan(loan: Loan) -> Decimal:
    """The SME cash legs of the loan's premium entries (a premium paid once the loan was approved
    names the loan): not a loan cash flow, so left out of the loan's cash check."""
    qs = Posting.objects.filter(loan=loan, organization_id=loan.sme_id, entry__kind=EntryKind.PREMIUM)
    debit = qs.filter(debit_account_id=SME_CASH).aggregate(s=Sum("amount"))["s"] or ZERO
    credit = qs.filter(credit_account_id=SME_CASH).aggregate(s=Sum("amount"))["s"] or ZERO
    return debit - credit
