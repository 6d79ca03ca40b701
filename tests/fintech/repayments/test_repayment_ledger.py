"""Repayments are booked to the ledger; a wrong one is taken back by a reversal (a reversing entry,
never a delete). Figures: see conftest.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.utils import translation

from fintech.errors import DatesOutOfOrder, FutureDate, InvalidInput, InvalidTransition, RoleNotAllowed
from fintech.models import AuditLog, JournalEntry, RepaymentReversal
from fintech.models.repayments import Repayment
from fintech.selectors.ledger import account_balance, loan_outstanding_principal, loan_reconciliation
from fintech.services.repayments import (
    DuplicateTransactionId,
    RepaymentAlreadyReversed,
    RepaymentNotLatest,
    repayment_record,
    repayment_reverse,
)
from tests.factories import OrganizationFactory, UserFactory

from .conftest import TOTAL_OWED, installments, legs, snapshot

D = Decimal
pytestmark = pytest.mark.django_db

DUE = [(seq, D("0.00"), D("0.00"), None, "due") for seq in range(1, 13)]


def test_a_repayment_books_both_parties_legs(book):
    # given the book's loan (installment 1: 83,333.33 principal + 3,500.00 interest)
    loan, bank = book.loan, book.bank
    # when the bank reports 90,000.00 on 2025-03-20: installment 1 in full, then 3,166.67 of the
    # interest of installment 2 (3,552.08 due)
    r = repayment_record(actor=bank, loan_id=loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20))
    # then one entry books principal 83,333.33 and interest 3,500.00 + 3,166.67 = 6,666.67
    entry = JournalEntry.objects.get(kind="repayment")
    assert (entry.booked_on, entry.source_type, entry.source_id, entry.loan_id, entry.created_by) == (
        date(2025, 3, 20),
        "fintech.repayment",
        str(r.pk),
        loan.pk,
        bank,
    )
    assert legs(entry) == [
        ("1001", "1101", D("83333.33"), loan.bank_id),
        ("1001", "4001", D("6666.67"), loan.bank_id),
        ("2004", "1004", D("83333.33"), loan.sme_id),
        ("5005", "1004", D("6666.67"), loan.sme_id),
    ]
    # and the ledger agrees with the schedule: 1,000,000.00 - 83,333.33 outstanding
    assert loan_outstanding_principal(loan) == D("916666.67")
    assert account_balance("1101", loan=loan) == D("916666.67")
    rec = loan_reconciliation(loan)
    assert rec.receivable == (D("916666.67"), D("916666.67"))
    assert rec.bank_cash == (D("-910000.00"), D("-910000.00"))
    assert rec.mismatches() == []


def test_an_interest_only_repayment_books_no_principal_leg(book):
    # given the book's loan; when 3,500.00 is paid, all of it interest of installment 1
    repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=D("3500.00"), paid_on=date(2025, 3, 1))
    # then the entry has only the two interest legs (a leg of 0.00 is not written)
    assert legs(JournalEntry.objects.get(kind="repayment")) == [
        ("1001", "4001", D("3500.00"), book.loan.bank_id),
        ("5005", "1004", D("3500.00"), book.loan.sme_id),
    ]


def test_a_transaction_id_is_applied_once_per_bank(book):
    # given a repayment with the bank's transaction id TX-1
    repayment_record(
        actor=book.bank,
        loan_id=book.loan.pk,
        amount=D("100.00"),
        paid_on=date(2025, 3, 1),
        transaction_id="TX-1",
    )
    before = snapshot()
    # when the same id is reported again
    with pytest.raises(DuplicateTransactionId):
        repayment_record(
            actor=book.bank,
            loan_id=book.loan.pk,
            amount=D("100.00"),
            paid_on=date(2025, 3, 1),
            transaction_id="TX-1",
        )
    # then nothing changed
    assert snapshot() == before


def test_reversal_restores_the_installments_and_posts_the_mirror_entry(book):
    # given a repayment of 90,000.00 on 2025-03-10 that completed installment 1 on time and paid
    # 3,166.67 of the interest of installment 2
    loan, bank = book.loan, book.bank
    assert installments(loan) == DUE
    r = repayment_record(actor=bank, loan_id=loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 10))
    assert installments(loan)[:2] == [
        (1, D("83333.33"), D("3500.00"), date(2025, 3, 10), "paid"),
        (2, D("0.00"), D("3166.67"), None, "due"),
    ]
    # when the bank takes it back on 2025-03-15 (before installment 1 fell due on 2025-03-20)
    reversal = repayment_reverse(
        actor=bank, repayment_id=r.pk, reversed_on=date(2025, 3, 15), reason="Booked to the wrong account"
    )
    # then the schedule is exactly as before the repayment
    assert installments(loan) == DUE
    # and the repayment and its allocations are still there, marked by the reversal row
    assert Repayment.objects.filter(pk=r.pk).count() == 1
    assert r.allocations.count() == 2
    assert (reversal.repayment_id, reversal.reversed_on, reversal.reason, reversal.reversed_by) == (
        r.pk,
        date(2025, 3, 15),
        "Booked to the wrong account",
        bank,
    )
    # and a reversing entry mirrors the repayment's, on the reversal date
    original = JournalEntry.objects.get(kind="repayment")
    mirror = JournalEntry.objects.get(kind="reversal")
    assert (mirror.reverses, mirror.booked_on, mirror.source_type, mirror.source_id) == (
        original,
        date(2025, 3, 15),
        "fintech.repaymentreversal",
        str(reversal.pk),
    )
    assert legs(mirror) == [
        ("1101", "1001", D("83333.33"), loan.bank_id),
        ("4001", "1001", D("6666.67"), loan.bank_id),
        ("1004", "2004", D("83333.33"), loan.sme_id),
        ("1004", "5005", D("6666.67"), loan.sme_id),
    ]
    rec = loan_reconciliation(loan)
    assert rec.receivable == (D("1000000.00"), D("1000000.00"))
    assert rec.mismatches() == []
    row = AuditLog.objects.get(action="repayment.reverse")
    assert (
        row.object_type,
        row.object_id,
        row.actor,
        row.from_state,
        row.to_state,
        row.reason,
        row.amount,
    ) == (
        "fintech.repayment",
        str(r.pk),
        bank,
        "applied",
        "reversed",
        "Booked to the wrong account",
        D("90000.00"),
    )


def test_a_reversal_after_the_due_date_leaves_the_installment_overdue(book):
    # given 90,000.00 paid on the due date of installment 1 (2025-03-20)
    r = repayment_record(
        actor=book.bank, loan_id=book.loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20)
    )
    # when it is reversed on 2025-03-25
    repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 25), reason="Bounced")
    # then installment 1 is past due and unpaid again: overdue; installment 2 (due 2025-04-20) due
    assert installments(book.loan)[:2] == [
        (1, D("0.00"), D("0.00"), None, "overdue"),
        (2, D("0.00"), D("0.00"), None, "due"),
    ]


def test_reversing_twice_is_refused_and_changes_nothing(book):
    r = repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=D("1000.00"), paid_on=date(2025, 3, 1))
    repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 2), reason="Duplicate")
    before = snapshot()
    with pytest.raises(RepaymentAlreadyReversed) as info:
        repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 2), reason="Again")
    assert info.value.status_code == 409
    assert snapshot() == before


def test_only_the_latest_standing_repayment_may_be_reversed(book):
    # given two repayments: 1,000.00 then 2,000.00
    loan, bank = book.loan, book.bank
    first = repayment_record(actor=bank, loan_id=loan.pk, amount=D("1000.00"), paid_on=date(2025, 3, 1))
    second = repayment_record(actor=bank, loan_id=loan.pk, amount=D("2000.00"), paid_on=date(2025, 3, 2))
    before = snapshot()
    # when the first is reversed while the second stands: refused, nothing changed
    with pytest.raises(RepaymentNotLatest):
        repayment_reverse(actor=bank, repayment_id=first.pk, reversed_on=date(2025, 3, 3), reason="Wrong")
    assert snapshot() == before
    # then the second, then the first may be reversed, and the schedule is back to untouched
    repayment_reverse(actor=bank, repayment_id=second.pk, reversed_on=date(2025, 3, 3), reason="Wrong")
    repayment_reverse(actor=bank, repayment_id=first.pk, reversed_on=date(2025, 3, 3), reason="Wrong")
    assert installments(loan) == DUE
    assert loan_reconciliation(loan).mismatches() == []


def test_a_repayment_that_settled_the_loan_cannot_be_reversed(book):
    # given the loan paid off in one repayment of 1,024,541.67 (it settled)
    r = repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=TOTAL_OWED, paid_on=date(2025, 3, 20))
    before = snapshot()
    # when the bank tries to reverse it: refused (409), the settlement is not reopened
    with translation.override("en"), pytest.raises(InvalidTransition) as info:
        repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 21), reason="Wrong")
    assert info.value.status_code == 409
    assert (
        info.value.message
        == "Cannot reverse the repayment: the loan is 'Settled' (settled loans are not reopened)."
    )
    assert snapshot() == before


def test_reversal_inputs_and_roles(book):
    r = repayment_record(
        actor=book.bank, loan_id=book.loan.pk, amount=D("1000.00"), paid_on=date(2025, 3, 10)
    )
    other_bank = UserFactory(organization=OrganizationFactory(kind="bank"))
    before = snapshot()
    with pytest.raises(DatesOutOfOrder):
        repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 9), reason="Wrong")
    with pytest.raises(FutureDate):
        repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2999, 1, 1), reason="Wrong")
    with pytest.raises(InvalidInput):
        repayment_reverse(actor=book.bank, repayment_id=r.pk, reversed_on=date(2025, 3, 10), reason="  ")
    with pytest.raises(RoleNotAllowed):
        repayment_reverse(actor=other_bank, repayment_id=r.pk, reversed_on=date(2025, 3, 10), reason="Wrong")
    with pytest.raises(RoleNotAllowed):
        repayment_reverse(
            actor=book.people.sme, repayment_id=r.pk, reversed_on=date(2025, 3, 10), reason="Wrong"
        )
    assert snapshot() == before
    assert RepaymentReversal.objects.count() == 0


# --- through the API ------------------------------------------------------------------------------


def test_api_reversal_body_and_replay(book, client_for):
    loan = book.loan
    r = repayment_record(actor=book.bank, loan_id=loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 10))
    api = client_for(book.bank)
    body = {"reversed_on": "2025-03-15", "reason": "Booked to the wrong account"}
    first = api.post(
        f"/api/v1/repayments/{r.pk}/reversal/", body, format="json", HTTP_IDEMPOTENCY_KEY="rev-1"
    )
    assert first.status_code == 201
    reversal = RepaymentReversal.objects.get()
    assert first.json() == {
        "id": reversal.pk,
        "repayment": r.pk,
        "loan": loan.pk,
        "amount": "90000.00",
        "reversed_on": "2025-03-15",
        "reason": "Booked to the wrong account",
        "journal_entry": JournalEntry.objects.get(kind="reversal").pk,
        "allocations": [
            {"seq": 1, "principal": "83333.33", "interest": "3500.00"},
            {"seq": 2, "principal": "0.00", "interest": "3166.67"},
        ],
    }
    # when the same request is replayed with the same key: the first answer, nothing changes
    before = snapshot()
    again = api.post(
        f"/api/v1/repayments/{r.pk}/reversal/", body, format="json", HTTP_IDEMPOTENCY_KEY="rev-1"
    )
    assert (again.status_code, again.json(), again["Idempotent-Replayed"]) == (201, first.json(), "true")
    assert snapshot() == before
    # and without the key, a second reversal is a 409 in the error shape
    twice = api.post(f"/api/v1/repayments/{r.pk}/reversal/", body, format="json")
    assert twice.status_code == 409
    assert twice.json() == {
        "code": "repayment_already_reversed",
        "message": f"还款 {r.pk} 已被冲正。",  # the platform's language by default
    }
    assert snapshot() == before


def test_api_reversal_scoping_and_input(book, client_for):
    r = repayment_record(
        actor=book.bank, loan_id=book.loan.pk, amount=D("1000.00"), paid_on=date(2025, 3, 10)
    )
    body = {"reversed_on": "2025-03-15", "reason": "Wrong"}
    other_bank = UserFactory(organization=OrganizationFactory(kind="bank"))
    before = snapshot()
    # another bank does not see the repayment; the SME and the insurer see it but may not reverse it
    assert (
        client_for(other_bank).post(f"/api/v1/repayments/{r.pk}/reversal/", body, format="json").status_code
        == 404
    )
    assert (
        client_for(book.people.sme)
        .post(f"/api/v1/repayments/{r.pk}/reversal/", body, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(book.people.insurer)
        .post(f"/api/v1/repayments/{r.pk}/reversal/", body, format="json")
        .status_code
        == 403
    )
    assert (
        client_for(book.bank).post("/api/v1/repayments/999999/reversal/", body, format="json").status_code
        == 404
    )
    bad = client_for(book.bank).post(
        f"/api/v1/repayments/{r.pk}/reversal/", {"reversed_on": "15/03/2025"}, format="json"
    )
    assert bad.status_code == 400
    assert set(bad.json()["fields"]) == {"reversed_on", "reason"}
    assert snapshot() == before


def test_api_repayment_replay_changes_nothing_in_the_ledger(book, client_for):
    # given a repayment posted with an Idempotency-Key
    api = client_for(book.bank)
    url = f"/api/v1/loans/{book.loan.pk}/repayments/"
    body = {"amount": "90000.00", "paid_on": "2025-03-20", "transaction_id": "TX-9"}
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert first.status_code == 201
    assert first.json()["allocations"] == [
        {"seq": 1, "principal": "83333.33", "interest": "3500.00"},
        {"seq": 2, "principal": "0.00", "interest": "3166.67"},
    ]
    before = snapshot()
    # when it is replayed: the first response, and no row anywhere (repayment, entry, postings)
    again = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-1")
    assert (again.status_code, again.json()) == (201, first.json())
    assert snapshot() == before
    # and the same bank transaction id under another key is a duplicate (409), nothing written
    dup = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-2")
    assert (dup.status_code, dup.json()["code"]) == (409, "duplicate_transaction_id")
    assert snapshot() == before
