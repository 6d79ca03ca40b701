"""The ledger's reads: the trial balance (regulators, platform) and a loan's statement (its bank, its
SME, regulators, platform). Figures: see conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.services.repayments import repayment_record, repayment_reverse
from tests.factories import OrganizationFactory, UserFactory

D = Decimal
pytestmark = pytest.mark.django_db


def _account(code, name, name_zh, kind, debit, credit):
    return {"code": code, "name": name, "name_zh": name_zh, "kind": kind, "debit": debit, "credit": credit}


# The book after the premium (20,000.00), the disbursement (1,000,000.00) and a repayment of
# 90,000.00 on 2025-03-20 (principal 83,333.33, interest 3,500.00 + 3,166.67 = 6,666.67).
BOOK_ACCOUNTS = [
    _account("1001", "Bank cash", "银行存款-贷款银行", "asset", "90000.00", "1000000.00"),
    _account("1002", "Insurer cash", "银行存款-保险公司", "asset", "20000.00", "0.00"),
    # SME cash: in 1,000,000.00; out 20,000.00 premium + 90,000.00 repayment
    _account("1004", "SME cash", "企业存款", "asset", "1000000.00", "110000.00"),
    _account("1101", "Loans receivable", "贷款本金", "asset", "1000000.00", "83333.33"),
    _account("2004", "SME loans payable", "企业借款", "liability", "83333.33", "1000000.00"),
    _account("4001", "Interest income", "利息收入", "income", "0.00", "6666.67"),
    _account("4002", "Premium income", "保费收入", "income", "0.00", "20000.00"),
    _account("5005", "SME interest expense", "企业利息支出", "expense", "6666.67", "0.00"),
    _account("5006", "SME premium expense", "企业保费支出", "expense", "20000.00", "0.00"),
]


def test_trial_balance_of_a_small_book(book, platform, regulator, client_for):
    repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20))
    expected = {
        "as_of": "2025-12-31",
        "accounts": BOOK_ACCOUNTS,
        # 90,000 + 20,000 + 1,000,000 + 1,000,000 + 83,333.33 + 6,666.67 + 20,000
        "total_debit": "2220000.00",
        "total_credit": "2220000.00",
    }
    for user in (platform, regulator):  # the regulator of Wuhan, where the SME is
        response = client_for(user).get("/api/v1/reports/trial-balance/?as_of=2025-12-31")
        assert response.status_code == 200
        assert response.json() == expected


def test_trial_balance_as_of_a_date_leaves_later_entries_out(book, platform, client_for):
    # given the repayment of 2025-03-20 and its reversal on 2025-03-25
    r = repayment_record(
        actor=book.bank, loan_id=book.loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20)
    )
    repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 25), reason="Bounced")
    api = client_for(platform)
    # as of 2025-03-19: premium and disbursement only (20,000 x 2 + 1,000,000 x 2)
    before = api.get("/api/v1/reports/trial-balance/?as_of=2025-03-19").json()
    assert (before["total_debit"], before["total_credit"]) == ("2040000.00", "2040000.00")
    assert [a["code"] for a in before["accounts"]] == ["1001", "1002", "1004", "1101", "2004", "4002", "5006"]
    # as of 2025-03-25: the repayment and its mirror both count (2,040,000 + 2 x 180,000)
    after = api.get("/api/v1/reports/trial-balance/?as_of=2025-03-25").json()
    assert (after["total_debit"], after["total_credit"]) == ("2400000.00", "2400000.00")
    receivable = next(a for a in after["accounts"] if a["code"] == "1101")
    assert (receivable["debit"], receivable["credit"]) == ("1083333.33", "83333.33")


def test_trial_balance_scoping_and_input(book, client_for):
    repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20))
    elsewhere = UserFactory(organization=OrganizationFactory(kind="regulator", region_id="420200"))
    # a regulator of Huangshi sees none of the Wuhan book
    assert client_for(elsewhere).get("/api/v1/reports/trial-balance/?as_of=2025-12-31").json() == {
        "as_of": "2025-12-31",
        "accounts": [],
        "total_debit": "0.00",
        "total_credit": "0.00",
    }
    # banks, SMEs and insurers may not pull it
    for user in (book.bank, book.people.sme, book.people.insurer):
        assert client_for(user).get("/api/v1/reports/trial-balance/").status_code == 403
    bad = client_for(elsewhere).get("/api/v1/reports/trial-balance/?as_of=2025-13-01")
    assert (bad.status_code, bad.json()["fields"]) == (400, {"as_of": ["请按 YYYY-MM-DD 格式输入日期。"]})


def test_statement_lines_and_running_balance(book, regulator, platform, client_for):
    loan = book.loan
    r = repayment_record(actor=book.bank, loan_id=loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20))
    repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 25), reason="Bounced")
    bank, sme, insurer = loan.bank_id, loan.sme_id, loan.policy.insurer_id
    for user in (book.bank, book.people.sme, regulator, platform):
        response = client_for(user).get(f"/api/v1/loans/{loan.pk}/statement/")
        assert response.status_code == 200
        body = response.json()
        lines = [
            (
                line["booked_on"],
                line["kind"],
                line["debit_account"],
                line["credit_account"],
                line["amount"],
                line["organization"],
                line["balance"],
            )
            for line in body["lines"]
        ]
        # the premium (paid after the approval, so its entry names the loan) leaves the receivable at 0
        assert lines == [
            ("2025-02-01", "premium", "1002", "4002", "20000.00", insurer, "0.00"),
            ("2025-02-01", "premium", "5006", "1004", "20000.00", sme, "0.00"),
            ("2025-02-20", "disbursement", "1101", "1001", "1000000.00", bank, "1000000.00"),
            ("2025-02-20", "disbursement", "1004", "2004", "1000000.00", sme, "1000000.00"),
            ("2025-03-20", "repayment", "1001", "1101", "83333.33", bank, "916666.67"),
            ("2025-03-20", "repayment", "1001", "4001", "6666.67", bank, "916666.67"),
            ("2025-03-20", "repayment", "2004", "1004", "83333.33", sme, "916666.67"),
            ("2025-03-20", "repayment", "5005", "1004", "6666.67", sme, "916666.67"),
            ("2025-03-25", "reversal", "1101", "1001", "83333.33", bank, "1000000.00"),
            ("2025-03-25", "reversal", "4001", "1001", "6666.67", bank, "1000000.00"),
            ("2025-03-25", "reversal", "1004", "2004", "83333.33", sme, "1000000.00"),
            ("2025-03-25", "reversal", "1004", "5005", "6666.67", sme, "1000000.00"),
        ]
        assert (body["loan"], body["account"], body["balance"]) == (loan.pk, "1101", "1000000.00")
        reversal_line = next(line for line in body["lines"] if line["kind"] == "reversal")
        assert reversal_line["memo"] == f"reversal of repayment {r.pk} of loan {loan.pk}"


def test_statement_is_not_shown_to_others(book, client_for):
    loan = book.loan
    other_bank = UserFactory(organization=OrganizationFactory(kind="bank"))
    elsewhere = UserFactory(organization=OrganizationFactory(kind="regulator", region_id="420200"))
    assert client_for(other_bank).get(f"/api/v1/loans/{loan.pk}/statement/").status_code == 404
    assert client_for(elsewhere).get(f"/api/v1/loans/{loan.pk}/statement/").status_code == 404
    assert client_for(book.people.insurer).get(f"/api/v1/loans/{loan.pk}/statement/").status_code == 403
    assert client_for(book.bank).get("/api/v1/loans/999999/statement/").status_code == 404
