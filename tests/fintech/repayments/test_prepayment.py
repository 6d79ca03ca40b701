"""Partial prepayment with a recast (DOMAIN.md 8a), for the three repayment methods.

Every loan: 1,000,000.00 at 4.5 % over 12 months, disbursed 2025-02-20, installments 1-3 paid on
their due dates, a prepayment on 2025-06-05, 16 days into installment 4's period (2025-05-20 to
2025-06-20, 31 days), so 15 days of it run on the new principal. Installment 4 is charged
round(old x 0.045 x 16 / 360) + round(new x 0.045 x 15 / 360).

Equal principal (83,333.33 a month): old 1,000,000.00 - 3 x 83,333.33 = 750,000.01; prepaying
150,000.00 leaves 600,000.01.
    installment 4: round(1,500.00002) + round(1,125.0000187) = 1,500.00 + 1,125.00 = 2,625.00
    keep_term:  9 installments 4..12 of round(600,000.01 / 9) = round(66,666.6678) = 66,666.67,
                the last 600,000.01 - 8 x 66,666.67 = 66,666.65;
                installment 5 (30 days): round(533,333.34 x 0.045 x 30 / 360) = round(2,000.000025)
                = 2,000.00; installment 12 (31 days): round(66,666.65 x 0.045 x 31 / 360) =
                round(258.33327) = 258.33
    shorten_term: keep 83,333.33 a month: ceil(600,000.01 / 83,333.33) = ceil(7.2) = 8
                installments 4..11, the last 600,000.01 - 7 x 83,333.33 = 16,666.70, interest
                round(16,666.70 x 0.045 x 31 / 360) = round(64.58346) = 64.58; 12 dropped, the
                loan now matures 2026-01-20.

Interest monthly: old 1,000,000.00; prepaying 400,000.00 leaves 600,000.00.
    installment 4: round(1,000,000 x 0.045 x 16 / 360) + round(600,000 x 0.045 x 15 / 360)
                 = 2,000.00 + 1,125.00 = 3,125.00
    installment 5 (30 days): 600,000 x 0.045 x 30 / 360 = 2,250.00; installment 12 (31 days):
    2,325.00 interest and the 600,000.00 principal. Shortening the term does not apply.

Equal installment: i = 0.045 / 12 = 0.00375; A = round(1,000,000 i (1+i)^12 / ((1+i)^12 - 1))
= round(85,378.5216) = 85,378.52. Interest 1-3: 3,750.00, 3,443.89, 3,136.64 (round(outstanding
x i)); principal 81,628.52, 81,934.63, 82,241.88; old = 754,194.97; prepaying 200,000.00 leaves
554,194.97.
    installment 4: round(754,194.97 x 0.045 x 16 / 360) + round(554,194.97 x 0.045 x 15 / 360)
                 = round(1,508.38994) + round(1,039.11557) = 1,508.39 + 1,039.12 = 2,547.51
    keep_term: A' = round(554,194.97 i (1+i)^9 / ((1+i)^9 - 1)) = round(62,737.5537) = 62,737.55;
               installment 4's principal = A' - round(554,194.97 x i) = 62,737.55 - 2,078.23 =
               60,659.32; installment 12 clears 62,503.20 with interest round(62,503.20 x i) =
               234.39.
    shorten_term: keep A = 85,378.52: principal 4 = 85,378.52 - 2,078.23 = 83,300.29, ... the
               seventh, installment 10, clears 49,684.10 (interest round(49,684.10 x i) =
               186.32); 11 and 12 dropped, maturity 2025-12-20.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.errors import (
    AmountOverLimit,
    InstallmentsStillDue,
    InvalidInput,
    PrepaymentInPeriod,
    RepaymentNotLatest,
)
from fintech.models import AuditLog, Installment, JournalEntry, Loan, Posting, Prepayment, ScheduleVersion
from fintech.selectors.ledger import loan_reconciliation, trial_balance
from fintech.services.prepayments import loan_prepay_partial, loan_settle_early, payoff_quote
from fintech.services.repayments import repayment_record, repayment_reverse
from tests.fintech.subsidies.helpers import pay

from .conftest import legs, snapshot

D = Decimal
pytestmark = pytest.mark.django_db
ON = date(2025, 6, 5)
EP, IM, EI = "equal_principal", "interest_monthly_principal_at_maturity", "equal_installment"


def _rows(loan: Loan) -> dict[int, tuple[Decimal, Decimal, Decimal]]:
    """{seq: (opening principal, principal due, interest due)} of the schedule in force."""
    return {
        r.seq: (r.opening_principal, r.principal_due, r.interest_due)
        for r in Installment.objects.filter(loan=loan).order_by("seq")
    }


def _checked(loan: Loan) -> None:
    assert loan_reconciliation(Loan.objects.get(pk=loan.pk)).mismatches() == []
    tb = trial_balance(Posting.objects.all(), as_of=date(2026, 12, 31))
    assert tb.total_debit == tb.total_credit


def _prepay(book, amount: str, recast: str) -> Prepayment:
    pay(book.loan, book.people, [1, 2, 3])
    return loan_prepay_partial(
        actor=book.bank, loan_id=book.loan.pk, amount=D(amount), value_date=ON, recast=recast
    )


def test_equal_principal_keep_term(book):
    loan = book.loan
    prepayment = _prepay(book, "150000.00", "keep_term")
    rows = _rows(loan)
    assert len(rows) == 12
    assert rows[4] == (D("750000.01"), D("66666.67"), D("2625.00"))
    assert rows[5] == (D("533333.34"), D("66666.67"), D("2000.00"))
    assert rows[12] == (D("66666.65"), D("66666.65"), D("258.33"))
    assert sum(r[1] for s, r in rows.items() if s >= 4) == D("600000.01")
    row4 = Installment.objects.get(loan=loan, seq=4)
    assert (row4.principal_changed_on, row4.principal_after_change) == (ON, D("600000.01"))
    # the prepayment: principal 150,000.00, no fee, schedule version 2; version 1 kept
    assert (prepayment.principal, prepayment.fee, prepayment.amount, prepayment.schedule_version) == (
        D("150000.00"),
        D("0.00"),
        D("150000.00"),
        2,
    )
    assert ScheduleVersion.objects.get(loan=loan, version=1).rows[4]["principal_due"] == "83333.33"
    entry = JournalEntry.objects.get(kind="prepayment")
    assert legs(entry) == [
        ("1001", "1101", D("150000.00"), loan.bank_id),
        ("2004", "1004", D("150000.00"), loan.sme_id),
    ]
    assert AuditLog.objects.filter(action="prepayment.partial", object_id=str(loan.pk)).count() == 1
    _checked(loan)
    # and installment 4 is then paid at its new amount 66,666.67 + 2,625.00 on its due date
    repayment_record(actor=book.bank, loan_id=loan.pk, amount=D("69291.67"), paid_on=date(2025, 6, 20))
    assert Installment.objects.get(loan=loan, seq=4).status == "paid"
    _checked(loan)


def test_equal_principal_shorten_term(book):
    loan = book.loan
    _prepay(book, "150000.00", "shorten_term")
    rows = _rows(loan)
    assert sorted(rows) == list(range(1, 12))  # installment 12 dropped
    assert rows[4] == (D("750000.01"), D("83333.33"), D("2625.00"))
    assert rows[11] == (D("16666.70"), D("16666.70"), D("64.58"))
    assert Loan.objects.get(pk=loan.pk).maturity_on == date(2026, 1, 20)
    assert len(ScheduleVersion.objects.get(loan=loan, version=1).rows) == 12
    _checked(loan)


def test_interest_monthly_keep_term(make_book):
    book = make_book(method=IM)
    loan = book.loan
    _prepay(book, "400000.00", "keep_term")
    rows = _rows(loan)
    assert rows[4] == (D("1000000.00"), D("0.00"), D("3125.00"))
    assert rows[5] == (D("600000.00"), D("0.00"), D("2250.00"))
    assert rows[12] == (D("600000.00"), D("600000.00"), D("2325.00"))
    _checked(loan)


def test_interest_monthly_cannot_shorten_its_term(make_book):
    book = make_book(method=IM)
    pay(book.loan, book.people, [1, 2, 3])
    before = snapshot()
    with pytest.raises(InvalidInput) as refused:
        loan_prepay_partial(
            actor=book.bank, loan_id=book.loan.pk, amount=D("1000.00"), value_date=ON, recast="shorten_term"
        )
    assert "recast" in refused.value.fields and snapshot() == before


def test_equal_installment_keep_term(make_book):
    book = make_book(method=EI)
    loan = book.loan
    _prepay(book, "200000.00", "keep_term")
    rows = _rows(loan)
    assert rows[4] == (D("754194.97"), D("60659.32"), D("2547.51"))
    assert rows[12] == (D("62503.20"), D("62503.20"), D("234.39"))
    _checked(loan)


def test_equal_installment_shorten_term(make_book):
    book = make_book(method=EI)
    loan = book.loan
    _prepay(book, "200000.00", "shorten_term")
    rows = _rows(loan)
    assert sorted(rows) == list(range(1, 11))
    assert rows[4] == (D("754194.97"), D("83300.29"), D("2547.51"))
    assert rows[10] == (D("49684.10"), D("49684.10"), D("186.32"))
    assert Loan.objects.get(pk=loan.pk).maturity_on == date(2025, 12, 20)
    _checked(loan)


def test_a_settlement_after_a_prepayment_in_the_same_period(book):
    # given the equal-principal keep_term prepayment on 06-05 (600,000.01 left)
    loan = book.loan
    _prepay(book, "150000.00", "keep_term")
    # then a payoff on 06-10 accrues the old principal for 16 days and the new one for 5:
    # round(750,000.01 x 0.045 x 16 / 360) + round(600,000.01 x 0.045 x 5 / 360)
    # = 1,500.00 + round(375.0000063) = 1,875.00; total 600,000.01 + 1,875.00 = 601,875.01
    quote = payoff_quote(actor=book.bank, loan_id=loan.pk, on=date(2025, 6, 10))
    assert (quote.principal, quote.accrued_interest, quote.total) == (
        D("600000.01"),
        D("1875.00"),
        D("601875.01"),
    )
    loan_settle_early(actor=book.bank, loan_id=loan.pk, amount=D("601875.01"), value_date=date(2025, 6, 10))
    loan = Loan.objects.get(pk=loan.pk)
    assert (loan.status, loan.schedule_version) == ("settled", 3)
    assert Installment.objects.get(loan=loan, seq=4).interest_paid == D("1875.00")
    _checked(loan)


def test_refusals_write_nothing(book):
    loan = book.loan
    pay(loan, book.people, [1, 2])
    before = snapshot()
    # installment 3 (due 05-20) unpaid: 409
    with pytest.raises(InstallmentsStillDue):
        loan_prepay_partial(
            actor=book.bank, loan_id=loan.pk, amount=D("1000.00"), value_date=ON, recast="keep_term"
        )
    pay(loan, book.people, [3])
    before = snapshot()
    # all the principal (750,000.01) or more is a settlement, not a partial prepayment: 400
    with pytest.raises(AmountOverLimit):
        loan_prepay_partial(
            actor=book.bank, loan_id=loan.pk, amount=D("750000.01"), value_date=ON, recast="keep_term"
        )
    with pytest.raises(InvalidInput):
        loan_prepay_partial(actor=book.bank, loan_id=loan.pk, amount=D("10.00"), value_date=ON, recast="both")
    assert snapshot() == before and not Prepayment.objects.exists()
    # a second prepayment in the same accrual period: 409
    loan_prepay_partial(
        actor=book.bank, loan_id=loan.pk, amount=D("1000.00"), value_date=ON, recast="keep_term"
    )
    with pytest.raises(PrepaymentInPeriod):
        loan_prepay_partial(
            actor=book.bank,
            loan_id=loan.pk,
            amount=D("1000.00"),
            value_date=date(2025, 6, 6),
            recast="keep_term",
        )
    # the repayment before the prepayment can no longer be reversed
    last = loan.repayments.order_by("-id").first()
    with pytest.raises(RepaymentNotLatest):
        repayment_reverse(actor=book.bank, repayment_id=last.pk, reversed_on=ON, reason="bounced")


def test_prepayment_over_the_api(book, client_for):
    pay(book.loan, book.people, [1, 2])
    client = client_for(book.bank)
    url = f"/api/v1/loans/{book.loan.pk}/prepayments/"
    body = {"kind": "partial", "amount": "150000.00", "value_date": "2025-06-05", "recast": "shorten_term"}
    # installment 3 still unpaid: 409
    assert client.post(url, body, format="json").status_code == 409
    pay(book.loan, book.people, [3])
    first = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pp-1")
    again = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="pp-1")
    assert first.status_code == 201 and first.json() == again.json()
    assert first.json()["schedule_version"] == 2 and first.json()["principal"] == "150000.00"
    assert Prepayment.objects.count() == 1
    schedule = client.get(f"/api/v1/loans/{book.loan.pk}/schedule/").json()
    assert len(schedule) == 11 and schedule[3]["interest_due"] == "2625.00"
    assert len(client.get(f"/api/v1/loans/{book.loan.pk}/schedule/?version=1").json()) == 12
    assert client.get(f"/api/v1/loans/{book.loan.pk}/").json()["schedule_version"] == 2


def test_a_repeated_prepayment_on_a_due_date_is_refused(book, client_for):
    # given installments 1-3 paid, installment 3 due (and paid) on 2025-05-20
    pay(book.loan, book.people, [1, 2, 3])
    client = client_for(book.bank)
    url = f"/api/v1/loans/{book.loan.pk}/prepayments/"
    body = {"kind": "partial", "amount": "150000.00", "value_date": "2025-05-20", "recast": "keep_term"}
    # when the same partial prepayment on that due date is posted twice, without Idempotency-Key
    first = client.post(url, body, format="json")
    assert first.status_code == 201, first.content
    before = snapshot()
    again = client.post(url, body, format="json")
    # then the repeat is refused in the error shape and nothing more is written: one prepayment,
    # installments 4-12 still owe 1,000,000.00 - 3 x 83,333.33 - 150,000.00 = 600,000.01
    assert again.status_code == 409 and again.json()["code"] == "prepayment_repeated"
    assert snapshot() == before and Prepayment.objects.count() == 1
    assert sum(r[1] for seq, r in _rows(book.loan).items() if seq >= 4) == D("600000.01")
