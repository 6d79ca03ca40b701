"""Extension (展期, DOMAIN.md 8a) across a year end, figures worked by hand.

The loan: 1,000,000.00 at 4.5 %, equal principal over 6 months, disbursed 2025-06-15 (due on the
15th, maturity 2025-12-15): round(1,000,000 / 6) = 166,666.67 a month. Installments 1-4 paid on
their due dates leave 1,000,000.00 - 4 x 166,666.67 = 333,333.32.

The bank agrees on 2025-10-20 to extend to 2026-03-15 (3 extra months, within the programme's 12);
the insurer endorses at 2 %: premium round(333,333.32 x 0.02 x 3 / 12) = round(1,666.6666) =
1,666.67, paid on 2025-11-01, when the extension takes effect. The schedule from installment 5
(2025-10-15..11-15, the first period still open) is rebuilt on 333,333.32 over 5 installments:
round(333,333.32 / 5) = round(66,666.664) = 66,666.66, the last 333,333.32 - 4 x 66,666.66 =
66,666.68; interest round(opening x 0.045 x days / 360):

    seq  period                  days  opening      principal   interest
    5    2025-10-15..2025-11-15  31    333,333.32   66,666.66   1,291.67  (1,291.66661)
    6    2025-11-15..2025-12-15  30    266,666.66   66,666.66   1,000.00  (999.999975)
    7    2025-12-15..2026-01-15  31    200,000.00   66,666.66     775.00
    8    2026-01-15..2026-02-15  31    133,333.34   66,666.66     516.67  (516.66668)
    9    2026-02-15..2026-03-15  28     66,666.68   66,666.68     233.33  (233.33338)

Installments 7-9 fall due after the old maturity: extended, no interest subsidy by default.
With the programme's switch on, 2026Q1 (LPR 3.00 %, below 4.5 %) gives x rate-days / 1,440:
    #7 200,000.00 x 0.93 = 186,000 -> 129.17; #8 133,333.34 x 0.93 = 124,000.0062 -> 86.11;
    #9 66,666.68 x 0.84 = 56,000.0112 -> 38.89
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.errors import (
    ExtensionBeyondLimit,
    ExtensionExists,
    InvalidInput,
    MaturityAfterPatentExpiry,
    RoleNotAllowed,
)
from fintech.models import (
    AuditLog,
    Installment,
    JournalEntry,
    Loan,
    LoanExtension,
    Patent,
    Posting,
    ScheduleVersion,
)
from fintech.selectors.ledger import loan_reconciliation, trial_balance
from fintech.services.extensions import loan_extension_endorse, loan_extension_request
from fintech.services.policies import premium_payment_record
from tests.builders import active_loan
from tests.fintech.subsidies.conftest import compute, regulators  # noqa: F401  (fixtures)
from tests.fintech.subsidies.helpers import pay, set_program

D = Decimal
pytestmark = pytest.mark.django_db


def _six_months():
    return active_loan(term_months=6, disbursed_on=date(2025, 6, 15), valuation_on=date(2025, 6, 1))


def _extended(loan, people):
    pay(loan, people, [1, 2, 3, 4])
    extension = loan_extension_request(
        actor=people.bank, loan_id=loan.pk, new_maturity_on=date(2026, 3, 15), agreed_on=date(2025, 10, 20)
    )
    loan_extension_endorse(
        actor=people.insurer,
        extension_id=extension.pk,
        premium_rate=D("0.02"),
        endorsed_on=date(2025, 10, 25),
    )
    return extension


def test_an_extension_across_the_year_end(db):
    loan, people = _six_months()
    extension = _extended(loan, people)
    extension.refresh_from_db()
    assert (extension.status, extension.extra_months, extension.premium) == ("endorsed", 3, D("1666.67"))
    # the schedule is unchanged until the premium is paid
    assert Installment.objects.filter(loan=loan).count() == 6
    # when the endorsement premium is paid (in two parts) through the policy's premium payments
    premium_payment_record(
        actor=people.insurer, policy_id=loan.policy_id, amount=D("666.67"), paid_on=date(2025, 10, 28)
    )
    assert LoanExtension.objects.get(pk=extension.pk).status == "endorsed"
    premium_payment_record(
        actor=people.insurer, policy_id=loan.policy_id, amount=D("1000.00"), paid_on=date(2025, 11, 1)
    )
    # then the extension takes effect on 11-01 and the schedule is rebuilt (module docstring)
    extension.refresh_from_db()
    assert (extension.status, extension.effective_on, extension.schedule_version) == (
        "effective",
        date(2025, 11, 1),
        2,
    )
    rows = list(Installment.objects.filter(loan=loan, seq__gte=5).order_by("seq"))
    assert [
        (r.seq, r.due_on, r.opening_principal, r.principal_due, r.interest_due, r.after_extension)
        for r in rows
    ] == [
        (5, date(2025, 11, 15), D("333333.32"), D("66666.66"), D("1291.67"), False),
        (6, date(2025, 12, 15), D("266666.66"), D("66666.66"), D("1000.00"), False),
        (7, date(2026, 1, 15), D("200000.00"), D("66666.66"), D("775.00"), True),
        (8, date(2026, 2, 15), D("133333.34"), D("66666.66"), D("516.67"), True),
        (9, date(2026, 3, 15), D("66666.68"), D("66666.68"), D("233.33"), True),
    ]
    loan = Loan.objects.get(pk=loan.pk)
    assert (loan.maturity_on, loan.schedule_version, loan.pledge.debt_end_on) == (
        date(2026, 3, 15),
        2,
        date(2026, 3, 15),
    )
    assert len(ScheduleVersion.objects.get(loan=loan, version=1).rows) == 6
    # and the premium is booked as premium, the transitions audited
    assert JournalEntry.objects.filter(kind="premium", loan=loan).count() >= 2
    assert AuditLog.objects.filter(
        action="loanextension.endorse", from_state="pending", to_state="endorsed"
    ).exists()
    assert AuditLog.objects.filter(
        action="loanextension.take_effect", from_state="endorsed", to_state="effective"
    ).exists()
    # and the rebuilt schedule is repaid to the last fen: the loan settles on 2026-03-15
    pay(loan, people, [5, 6, 7, 8, 9])
    loan = Loan.objects.get(pk=loan.pk)
    assert (loan.status, loan.settled_on) == ("settled", date(2026, 3, 15))
    assert loan_reconciliation(loan).mismatches() == []
    tb = trial_balance(Posting.objects.all(), as_of=date(2026, 12, 31))
    assert tb.total_debit == tb.total_credit


def test_extended_installments_earn_a_subsidy_only_with_the_programme_switch(compute):  # noqa: F811
    loan, people = _six_months()
    _extended(loan, people)
    premium_payment_record(
        actor=people.insurer, policy_id=loan.policy_id, amount=D("1666.67"), paid_on=date(2025, 11, 1)
    )
    pay(loan, people, [5, 6, 7, 8, 9])
    # by default 2026Q1 (#7, #8, #9 all extended) earns nothing
    assert compute("2026Q1").interest_total == D("0.00")
    # with the switch on, a new run of the period adds them (module docstring)
    set_program(subsidise_extended_installments=True)
    run = compute("2026Q1")
    assert {e.installment.seq: e.amount for e in run.entitlements.select_related("installment")} == {
        7: D("129.17"),
        8: D("86.11"),
        9: D("38.89"),
    }


def test_the_limits_of_the_rule_book(db):
    loan, people = _six_months()
    request = lambda new, agreed=date(2025, 10, 20): loan_extension_request(  # noqa: E731
        actor=people.bank, loan_id=loan.pk, new_maturity_on=new, agreed_on=agreed
    )
    # more than 12 months after the old maturity (2025-12-15): 2026-12-15 is 12, 2027-01-15 is 13
    with pytest.raises(ExtensionBeyondLimit):
        request(date(2027, 1, 15))
    # not a monthly due date of the loan
    with pytest.raises(InvalidInput):
        request(date(2026, 3, 14))
    # after a pledged patent expires
    Patent.objects.filter(pk__in=loan.application.patents.values("pk")).update(expires_on=date(2026, 2, 1))
    with pytest.raises(MaturityAfterPatentExpiry):
        request(date(2026, 3, 15))
    # only the bank agrees it; at most once
    with pytest.raises(RoleNotAllowed):
        loan_extension_request(
            actor=people.insurer,
            loan_id=loan.pk,
            new_maturity_on=date(2026, 1, 15),
            agreed_on=date(2025, 10, 20),
        )
    extension = request(date(2026, 1, 15))
    with pytest.raises(ExtensionExists):
        request(date(2026, 1, 15))
    # only the policy's insurer endorses it, within the premium band (0.5 % to 3 %)
    with pytest.raises(RoleNotAllowed):
        loan_extension_endorse(actor=people.bank, extension_id=extension.pk, premium_rate=D("0.02"))
    with pytest.raises(InvalidInput):
        loan_extension_endorse(actor=people.insurer, extension_id=extension.pk, premium_rate=D("0.031"))
    assert LoanExtension.objects.get(pk=extension.pk).status == "pending"


def test_extensions_over_the_api(db, client_for):
    loan, people = _six_months()
    pay(loan, people, [1, 2, 3, 4])
    bank, insurer = client_for(people.bank), client_for(people.insurer)
    body = {"new_maturity_on": "2026-03-15", "agreed_on": "2025-10-20"}
    created = bank.post(
        f"/api/v1/loans/{loan.pk}/extensions/", body, format="json", HTTP_IDEMPOTENCY_KEY="x1"
    )
    assert created.status_code == 201 and created.json()["status"] == "pending"
    again = bank.post(f"/api/v1/loans/{loan.pk}/extensions/", body, format="json", HTTP_IDEMPOTENCY_KEY="x1")
    assert again.json() == created.json()
    assert bank.post(f"/api/v1/loans/{loan.pk}/extensions/", body, format="json").status_code == 409
    ext = created.json()["id"]
    assert (
        bank.post(f"/api/v1/extensions/{ext}/endorse/", {"premium_rate": "0.02"}, format="json").status_code
        == 403
    )
    endorsed = insurer.post(
        f"/api/v1/extensions/{ext}/endorse/",
        {"premium_rate": "0.02", "endorsed_on": "2025-10-25"},
        format="json",
    )
    assert endorsed.status_code == 200 and endorsed.json()["premium"] == "1666.67"
    paid = insurer.post(
        f"/api/v1/policies/{loan.policy_id}/premium-payments/",
        {"amount": "1666.67", "paid_on": "2025-11-01"},
        format="json",
    )
    assert paid.status_code == 201
    assert bank.get(f"/api/v1/extensions/{ext}/").json()["status"] == "effective"
    assert len(bank.get(f"/api/v1/loans/{loan.pk}/schedule/").json()) == 9
    assert len(bank.get(f"/api/v1/loans/{loan.pk}/schedule/?version=1").json()) == 6
