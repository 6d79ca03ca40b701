"""A repayment reversed after its installment earned an interest subsidy (DOMAIN.md 8a), figures
worked by hand.

The loan: 1,000,000.00 at 4.5 %, equal principal over 12 months, disbursed 2025-02-20 (tests.builders
.active_loan). LPR 1Y 3.10 % (from 2024-10-21) is below 4.5 %, so each day counts 3.10 %:
    #1 2025-02-20..03-20, 28 days: 1,000,000.00 x 28 x 0.031 = 868,000; / 360 x 25 % = 602.777...
       -> 602.78
    #2 2025-03-20..04-20, 31 days: 916,666.67 x 0.961 = 880,916.67987; / 1,440 = 611.7477 -> 611.75
    #3 2025-04-20..05-20, 30 days: 833,333.34 x 0.93 = 775,000.0062; / 1,440 = 538.1944 -> 538.19
"""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client
from django.urls import reverse

from fintech.models import (
    AuditLog,
    Installment,
    JournalEntry,
    Posting,
    SubsidyClawback,
    SubsidyEntitlement,
    SubsidyRun,
)
from fintech.selectors.ledger import account_balance, trial_balance
from fintech.services.repayments import repayment_record, repayment_reverse
from fintech.services.subsidies import subsidy_run_approve, subsidy_run_pay
from tests.builders import active_loan

from .helpers import D, by_seq, pay, regulator

pytestmark = pytest.mark.django_db


def _legs(entry: JournalEntry) -> list[tuple[str, str, D, int | None]]:
    return [
        (p.debit_account_id, p.credit_account_id, p.amount, p.organization_id) for p in entry.postings.all()
    ]


def _balanced() -> None:
    tb = trial_balance(Posting.objects.all(), as_of=date(2026, 12, 31))
    assert tb.total_debit == tb.total_credit


def _first_paid_and_subsidised(compute, regulators):
    loan, people = active_loan()
    pay(loan, people, [1])
    run = compute("2025Q1")
    assert by_seq(run, loan) == {1: D("602.78")}
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    return loan, people, run


def test_reversal_before_the_subsidy_is_paid_cancels_it(compute, regulators):
    # given installment 1 paid on time and its 602.78 subsidy approved (accrued in the ledger)
    loan, people, run = _first_paid_and_subsidised(compute, regulators)
    government = regulators.checker.organization_id
    # when the bank reverses the repayment on 2025-04-02 (the transfer bounced)
    repayment_reverse(
        actor=people.bank,
        repayment_id=loan.repayments.get().pk,
        reversed_on=date(2025, 4, 2),
        reason="transfer bounced",
    )
    # then the entitlement is cancelled with the reason, and the run's total drops to 0.00
    entitlement = SubsidyEntitlement.objects.get(loan=loan)
    assert entitlement.status == "cancelled" and "transfer bounced" in entitlement.cancel_reason
    run.refresh_from_db()
    assert run.interest_total == D("0.00")
    # and the accrual is given back: subsidies payable <- subsidy expense 602.78
    cancel = JournalEntry.objects.get(kind="subsidy_cancel")
    assert _legs(cancel) == [("2003", "5004", D("602.78"), government)]
    assert account_balance("2003") == D("0.00") and account_balance("5004") == D("0.00")
    assert AuditLog.objects.filter(
        action="subsidy_entitlement.cancel", from_state="approved", to_state="cancelled"
    ).exists()
    # and paying the run pays nothing to anyone
    subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2025, 4, 10), reference="T-1")
    assert account_balance("1004", organization_id=loan.sme_id) == account_balance(
        "1004", organization_id=loan.sme_id, as_of=date(2025, 4, 9)
    )
    assert not JournalEntry.objects.filter(kind="subsidy_payment").exists()  # every leg was 0.00
    # and the installment, repaid late on 04-10 (83,333.33 + 3,500.00), is paid late: it earns nothing
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("86833.33"), paid_on=date(2025, 4, 10))
    assert Installment.objects.get(loan=loan, seq=1).status == "paid_late"
    _balanced()


def test_reversal_after_the_subsidy_is_paid_claws_it_back_in_the_next_run(compute, regulators):
    # given installment 1's 602.78 paid to the SME on 2025-04-05
    loan, people, run = _first_paid_and_subsidised(compute, regulators)
    subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2025, 4, 5), reference="T-1")
    government = regulators.checker.organization_id
    # when the repayment is reversed on 2025-04-08
    repayment_reverse(
        actor=people.bank,
        repayment_id=loan.repayments.get().pk,
        reversed_on=date(2025, 4, 8),
        reason="transfer bounced",
    )
    # then a clawback of 602.78 waits for the next run: the government's expense becomes a
    # receivable, the SME's income a payable
    clawback = SubsidyClawback.objects.get()
    assert (clawback.amount, clawback.status, clawback.run_id) == (D("602.78"), "pending", None)
    assert _legs(JournalEntry.objects.get(kind="subsidy_clawback")) == [
        ("1204", "5004", D("602.78"), government),
        ("4004", "2005", D("602.78"), loan.sme_id),
    ]
    _balanced()
    # given installment 1 repaid late on 04-10 (earns nothing), 2 and 3 on their due dates
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("86833.33"), paid_on=date(2025, 4, 10))
    pay(loan, people, [2, 3])
    # when the 2025Q2 run is computed, approved and paid
    q2 = compute("2025Q2")
    # then it holds #2 611.75 and #3 538.19 (1,149.94) and the clawback of 602.78
    assert by_seq(q2, loan) == {2: D("611.75"), 3: D("538.19")}
    assert (q2.interest_total, q2.clawback_total) == (D("1149.94"), D("602.78"))
    subsidy_run_approve(actor=regulators.checker, run_id=q2.pk)
    subsidy_run_pay(actor=regulators.checker, run_id=q2.pk, paid_on=date(2025, 7, 5), reference="T-2")
    # and the payment nets it: the SME receives 1,149.94 - 602.78 = 547.16 in cash; the budget pays
    # 547.16 and the netted 602.78 clears the receivable
    payment = JournalEntry.objects.get(kind="subsidy_payment", source_id=str(q2.pk))
    assert _legs(payment) == [
        ("2003", "1005", D("547.16"), government),
        ("2003", "1204", D("602.78"), government),
        ("1004", "4004", D("1149.94"), loan.sme_id),
        ("2005", "1004", D("602.78"), loan.sme_id),
    ]
    clawback.refresh_from_db()
    assert (clawback.status, clawback.netted_amount, clawback.receivable_amount, clawback.run_id) == (
        "netted",
        D("602.78"),
        D("0.00"),
        q2.pk,
    )
    assert account_balance("1204") == D("0.00") and account_balance("2005") == D("0.00")
    # the SME's subsidy income is what it keeps: 602.78 - 602.78 + 1,149.94
    assert -account_balance("4004", organization_id=loan.sme_id) == D("1149.94")
    _balanced()


def test_a_clawback_the_next_run_cannot_net_stays_a_receivable(compute, regulators, client_for):
    loan, people, run = _first_paid_and_subsidised(compute, regulators)
    subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2025, 4, 5), reference="T-1")
    repayment_reverse(
        actor=people.bank,
        repayment_id=loan.repayments.get().pk,
        reversed_on=date(2025, 4, 8),
        reason="bounced",
    )
    # given nothing else paid on time: the 2025Q2 run has no entitlement for the SME
    q2 = compute("2025Q2")
    assert (q2.interest_total, q2.clawback_total) == (D("0.00"), D("602.78"))
    subsidy_run_approve(actor=regulators.checker, run_id=q2.pk)
    subsidy_run_pay(actor=regulators.checker, run_id=q2.pk, paid_on=date(2025, 7, 5), reference="T-2")
    # then nothing is netted: the whole 602.78 is a receivable from the SME, on both books
    clawback = SubsidyClawback.objects.get()
    assert (clawback.status, clawback.netted_amount, clawback.receivable_amount) == (
        "receivable",
        D("0.00"),
        D("602.78"),
    )
    assert account_balance("1204") == D("602.78") and -account_balance("2005") == D("602.78")
    _balanced()
    # and the report shows the clawback as such, against the entitlement it takes back
    rows = client_for(regulators.starter).get("/api/v1/reports/subsidies/?group_by=enterprise").json()
    mine = next(r for r in rows if r["group_id"] == loan.sme_id)
    assert (mine["total_amount"], mine["clawback_amount"], mine["net_amount"]) == ("602.78", "602.78", "0.00")
    assert SubsidyRun.objects.get(pk=q2.pk).clawback_total == D("602.78")


def test_the_admin_shows_the_clawback_and_the_cancel_reason(compute, regulators, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    loan, people, run = _first_paid_and_subsidised(compute, regulators)
    subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2025, 4, 5), reference="T-1")
    repayment_reverse(
        actor=people.bank,
        repayment_id=loan.repayments.get().pk,
        reversed_on=date(2025, 4, 8),
        reason="bounced",
    )
    client = Client(headers={"accept-language": "en"})
    client.force_login(regulator(regulators.starter.organization, is_staff=True))
    page = client.get(reverse("admin:fintech_subsidyclawback_changelist"))
    assert page.status_code == 200
    assert [c.amount for c in page.context["cl"].result_list] == [D("602.78")]
    assert "bounced" in page.content.decode()


def test_a_second_reversal_on_a_clawed_back_installment_claws_nothing_twice(compute, regulators, client_for):
    # given installment 1's 602.78 paid on 2025-04-05 and clawed back when R1 was reversed on 04-08
    loan, people, run = _first_paid_and_subsidised(compute, regulators)
    subsidy_run_pay(actor=regulators.checker, run_id=run.pk, paid_on=date(2025, 4, 5), reference="T-1")
    repayment_reverse(
        actor=people.bank,
        repayment_id=loan.repayments.get().pk,
        reversed_on=date(2025, 4, 8),
        reason="bounced",
    )
    # and installment 1 repaid again late on 04-10 (83,333.33 + 3,500.00 = 86,833.33)
    r2 = repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("86833.33"), paid_on=date(2025, 4, 10))
    # when that second repayment is reversed too
    response = client_for(people.bank).post(
        f"/api/v1/repayments/{r2.pk}/reversal/",
        {"reversed_on": "2025-04-12", "reason": "bounced again"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="rev-r2",
    )
    # then it succeeds, and the one clawback of 602.78 stays the only one (nothing to take back twice)
    assert response.status_code == 201, response.content
    assert [c.amount for c in SubsidyClawback.objects.all()] == [D("602.78")]
    assert JournalEntry.objects.filter(kind="subsidy_clawback").count() == 1
    assert Installment.objects.get(loan=loan, seq=1).status != "paid"
    _balanced()
