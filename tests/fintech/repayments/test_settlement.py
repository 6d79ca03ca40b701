"""Payoff quotes and early settlement (DOMAIN.md 8a) on the book of conftest.py: 1,000,000.00 at
4.5 %, equal principal over 12 months, disbursed 2025-02-20, 83,333.33 principal a month.

Installments 1-3 (due 03-20, 04-20, 05-20) paid on their due dates leave 1,000,000.00 - 3 x
83,333.33 = 750,000.01 scheduled after them. Installment 4's accrual period runs 2025-05-20 to
2025-06-20 (31 days, interest 2,906.25). A payoff on 2025-06-05, 16 days into it:

    accrued = round(750,000.01 x 0.045 x 16 / 360) = round(1,500.00002) = 1,500.00
    total   = 0 overdue + 750,000.01 + 1,500.00 + 0 fee = 751,500.01
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from fintech.errors import DatesOutOfOrder, InvalidTransition, PayoffMismatch, RoleNotAllowed
from fintech.models import (
    Application,
    AuditLog,
    Installment,
    JournalEntry,
    Loan,
    PledgedPatent,
    Policy,
    Posting,
    Prepayment,
    ScheduleVersion,
)
from fintech.selectors.ledger import loan_reconciliation, trial_balance
from fintech.services.prepayments import loan_settle_early, payoff_quote
from fintech.services.repayments import repayment_record
from tests.fintech.subsidies.helpers import pay, set_program

from .conftest import legs, snapshot

D = Decimal
pytestmark = pytest.mark.django_db
ON = date(2025, 6, 5)


def _balanced() -> None:
    tb = trial_balance(Posting.objects.all(), as_of=date(2026, 12, 31))
    assert tb.total_debit == tb.total_credit


def test_payoff_in_the_middle_of_an_accrual_period(book):
    # given installments 1-3 paid on their due dates
    pay(book.loan, book.people, [1, 2, 3])
    # when the bank asks for the payoff on 2025-06-05
    quote = payoff_quote(actor=book.bank, loan_id=book.loan.pk, on=ON)
    # then (module docstring) 750,000.01 principal + 1,500.00 accrued = 751,500.01
    assert quote.as_dict() == {
        "on": "2025-06-05",
        "overdue": "0.00",
        "principal": "750000.01",
        "accrued_interest": "1500.00",
        "prepayment_fee": "0.00",
        "total": "751500.01",
    }


def test_payoff_counts_the_unpaid_installments_and_the_fee(book):
    # given installments 1-2 paid, 3 (due 05-20: 83,333.33 + 3,125.00) not, and a 1 % fee
    set_program(prepayment_fee_rate=D("0.01"))
    pay(book.loan, book.people, [1, 2])
    quote = payoff_quote(actor=book.bank, loan_id=book.loan.pk, on=ON)
    # then overdue 86,458.33; principal after it 750,000.01; accrued 1,500.00; fee
    # round(750,000.01 x 0.01) = round(7,500.0001) = 7,500.00; total 845,458.34
    assert (quote.overdue, quote.principal, quote.accrued_interest, quote.prepayment_fee, quote.total) == (
        D("86458.33"),
        D("750000.01"),
        D("1500.00"),
        D("7500.00"),
        D("845458.34"),
    )


def test_payoff_on_a_due_date_accrues_nothing_of_the_next_period(book):
    # given installments 1-2 paid; on 2025-05-20 installment 3 is due that very day
    pay(book.loan, book.people, [1, 2])
    quote = payoff_quote(actor=book.bank, loan_id=book.loan.pk, on=date(2025, 5, 20))
    # then installment 3 (86,458.33) is in the overdue part, 750,000.01 after it, 0 days accrued
    assert (quote.overdue, quote.principal, quote.accrued_interest, quote.total) == (
        D("86458.33"),
        D("750000.01"),
        D("0.00"),
        D("836458.34"),
    )


def test_payoff_dates_outside_the_loan_are_refused(book):
    pay(book.loan, book.people, [1])
    with pytest.raises(DatesOutOfOrder):
        payoff_quote(actor=book.bank, loan_id=book.loan.pk, on=date(2025, 3, 19))  # before the repayment
    with pytest.raises(DatesOutOfOrder):
        payoff_quote(actor=book.bank, loan_id=book.loan.pk, on=date(2026, 2, 20))  # the maturity


def test_early_settlement_in_the_middle_of_a_period(book):
    # given installments 1-3 paid on their due dates
    loan = book.loan
    pay(loan, book.people, [1, 2, 3])
    # when the bank settles on 2025-06-05 with the payoff 751,500.01
    prepayment = loan_settle_early(actor=book.bank, loan_id=loan.pk, amount=D("751500.01"), value_date=ON)
    # then installment 4 keeps 1,500.00 of its 2,906.25 interest, accrual stopping on 06-05; 5-12
    # keep their principal and lose their interest; every one is paid on 06-05, on time
    rows = list(Installment.objects.filter(loan=loan, seq__gte=4).order_by("seq"))
    assert [(r.seq, r.interest_due, r.interest_paid, r.paid_on, r.status) for r in rows[:2]] == [
        (4, D("1500.00"), D("1500.00"), ON, "paid"),
        (5, D("0.00"), D("0.00"), ON, "paid"),
    ]
    assert rows[0].accrual_end_on == ON and rows[1].accrual_end_on == rows[1].start_on
    assert sum((r.principal_paid for r in rows), D(0)) == D("750000.01")
    assert all(r.status == "paid" and r.interest_due == 0 for r in rows[1:])
    # and the loan is settled on 06-05: pledge released, policy ended, application settled
    loan = Loan.objects.get(pk=loan.pk)
    assert (loan.status, loan.settled_on, loan.schedule_version) == ("settled", ON, 2)
    assert not PledgedPatent.objects.filter(pledge__loan=loan, is_active=True).exists()
    assert loan.pledge.released_on == ON
    assert Policy.objects.get(pk=loan.policy_id).status == "expired"
    assert Application.objects.get(pk=loan.application_id).status == "settled"
    # and the settlement is a prepayment whose repayment paid 751,500.01: principal 750,000.01,
    # interest 1,500.00, booked as a repayment; no fee entry (the fee is 0)
    assert (prepayment.kind, prepayment.principal, prepayment.fee, prepayment.schedule_version) == (
        "settle",
        D("750000.01"),
        D("0.00"),
        2,
    )
    entry = JournalEntry.objects.get(kind="repayment", source_id=str(prepayment.repayment_id))
    assert legs(entry) == [
        ("1001", "1101", D("750000.01"), loan.bank_id),
        ("1001", "4001", D("1500.00"), loan.bank_id),
        ("2004", "1004", D("750000.01"), loan.sme_id),
        ("5005", "1004", D("1500.00"), loan.sme_id),
    ]
    assert not JournalEntry.objects.filter(kind="prepayment").exists()
    # and the ledger agrees with the schedule (nothing outstanding) and balances
    rec = loan_reconciliation(loan)
    assert rec.receivable == (D("0.00"), D("0.00")) and rec.mismatches() == []
    _balanced()
    # and the schedule before the settlement is kept as version 1
    old = ScheduleVersion.objects.get(loan=loan, version=1)
    assert old.rows[3]["interest_due"] == "2906.25" and old.rows[3]["status"] == "due"
    assert AuditLog.objects.filter(action="prepayment.settle").count() == 1
    assert AuditLog.objects.filter(action="loan.settle", from_state="active", to_state="settled").count() == 1


def test_settlement_with_an_overdue_installment_and_a_fee(book):
    # given a 1 % fee, installments 1-2 paid and 3 unpaid (payoff 845,458.34, see above)
    set_program(prepayment_fee_rate=D("0.01"))
    loan = book.loan
    pay(loan, book.people, [1, 2])
    loan_settle_early(actor=book.bank, loan_id=loan.pk, amount=D("845458.34"), value_date=ON)
    # then installment 3 was paid 16 days late (paid_late); the others on time
    statuses = dict(Installment.objects.filter(loan=loan).values_list("seq", "status"))
    assert statuses[3] == "paid_late" and statuses[4] == "paid"
    # and the fee 7,500.00 is booked apart: bank fee income, SME fee expense
    entry = JournalEntry.objects.get(kind="prepayment")
    assert legs(entry) == [
        ("1001", "4003", D("7500.00"), loan.bank_id),
        ("5007", "1004", D("7500.00"), loan.sme_id),
    ]
    assert loan_reconciliation(Loan.objects.get(pk=loan.pk)).mismatches() == []
    _balanced()


def test_a_settlement_amount_other_than_the_payoff_is_refused_with_the_payoff(book, client_for):
    pay(book.loan, book.people, [1, 2, 3])
    before = snapshot()
    # when the bank sends one fen less
    response = client_for(book.bank).post(
        f"/api/v1/loans/{book.loan.pk}/prepayments/",
        {"kind": "settle", "amount": "751500.00", "value_date": "2025-06-05"},
        format="json",
    )
    # then 400 with the payoff in the body, nothing written
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "payoff_mismatch" and body["payoff"]["total"] == "751500.01"
    assert "amount" in body["fields"]
    assert snapshot() == before and not Prepayment.objects.exists()
    with pytest.raises(PayoffMismatch):
        loan_settle_early(actor=book.bank, loan_id=book.loan.pk, amount=D("751500.02"), value_date=ON)


def test_settlement_over_the_api_is_idempotent(book, client_for):
    pay(book.loan, book.people, [1, 2, 3])
    client = client_for(book.bank)
    url = f"/api/v1/loans/{book.loan.pk}/prepayments/"
    quote = client.get(f"/api/v1/loans/{book.loan.pk}/payoff/?on=2025-06-05")
    assert quote.status_code == 200 and quote.json()["total"] == "751500.01"
    body = {"kind": "settle", "amount": "751500.01", "value_date": "2025-06-05"}
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="settle-1")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="settle-1")
    assert first.status_code == 201 and again.status_code == 201 and first.json() == again.json()
    assert first.json()["schedule_version"] == 2
    assert Prepayment.objects.count() == 1 and JournalEntry.objects.filter(kind="repayment").count() == 4
    # a second settlement without the key meets a settled loan: 409
    assert client.post(url, body, format="json").status_code == 409
    # the schedule of version 1 stays readable; an unknown version is a 404
    v1 = client.get(f"/api/v1/loans/{book.loan.pk}/schedule/?version=1").json()
    assert v1[3]["interest_due"] == "2906.25"
    current = client.get(f"/api/v1/loans/{book.loan.pk}/schedule/").json()
    assert current[3]["interest_due"] == "1500.00"
    assert client.get(f"/api/v1/loans/{book.loan.pk}/schedule/?version=7").status_code == 404


def test_only_the_bank_settles_and_only_an_active_loan(book, client_for):
    pay(book.loan, book.people, [1, 2, 3])
    with pytest.raises(RoleNotAllowed):
        loan_settle_early(actor=book.people.sme, loan_id=book.loan.pk, amount=D("751500.01"), value_date=ON)
    # the SME may ask for its payoff, not settle through the API (403), and nothing is written
    sme = client_for(book.people.sme)
    assert sme.get(f"/api/v1/loans/{book.loan.pk}/payoff/?on=2025-06-05").status_code == 200
    before = snapshot()
    response = sme.post(
        f"/api/v1/loans/{book.loan.pk}/prepayments/",
        {"kind": "settle", "amount": "751500.01", "value_date": "2025-06-05"},
        format="json",
    )
    assert response.status_code == 403 and snapshot() == before
    loan_settle_early(actor=book.bank, loan_id=book.loan.pk, amount=D("751500.01"), value_date=ON)
    with pytest.raises(InvalidTransition):
        payoff_quote(actor=book.bank, loan_id=book.loan.pk, on=ON + timedelta(days=1))
    with pytest.raises(InvalidTransition):
        repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=D("1.00"), paid_on=ON)


def test_bad_payoff_input_is_a_400(book, client_for):
    client = client_for(book.bank)
    assert client.get(f"/api/v1/loans/{book.loan.pk}/payoff/").status_code == 400
    assert client.get(f"/api/v1/loans/{book.loan.pk}/payoff/?on=2025-13-01").status_code == 400
    response = client.post(
        f"/api/v1/loans/{book.loan.pk}/prepayments/",
        {"kind": "all", "amount": "-1", "value_date": "2025-06-05"},
        format="json",
    )
    assert response.status_code == 400 and set(response.json()["fields"]) == {"kind", "amount"}
