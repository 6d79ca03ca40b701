"""The demo book tells a true story: every record's dates follow its flow, every status is reached,
the default is the close's on the crossing day, every finished quarter is run, approved and paid,
and the totals agree with the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models import Sum

from fintech.demo.book import book_start
from fintech.demo.cast import FUND_TOP_UP, SMES
from fintech.models import (
    Application,
    ApplicationStatus,
    Installment,
    Loan,
    LoanStatus,
    Organization,
    PatentValuation,
    PremiumPayment,
    Repayment,
    SubsidyEntitlement,
    SubsidyRun,
)
from fintech.rules.sme_size import classify_enterprise
from fintech.rules.subsidies import period_containing
from fintech.selectors.ledger import account_balance, loan_reconciliation
from fintech.services.common import business_today
from fintech.services.ledger import (
    BANK_CREDIT_LOSS,
    FUND_CASH,
    FUND_PAYABLE,
    INSURER_PAYABLE,
    LOANS_RECEIVABLE,
    PREMIUM_INCOME,
    SME_SUBSIDY_INCOME,
)

ZERO = Decimal("0.00")


def _seed(address: str) -> str:
    out = StringIO()
    call_command("seed_demo", f"--address={address}", stdout=out)
    return out.getvalue()


def _dates_follow_the_flow(today: date) -> None:
    for app in Application.objects.exclude(status="draft").select_related("valuation"):
        assert app.submitted_on is not None and app.submitted_on <= today, app
        valued = app.valuation.valuation_date
        if valued is not None:
            assert app.submitted_on <= valued, app
    for loan in Loan.objects.select_related("application__valuation", "policy"):
        app = loan.application
        valued = app.valuation.valuation_date
        assert app.submitted_on <= valued <= loan.approved_on <= today, loan
        if loan.disbursed_on is None:
            continue
        registered = loan.pledge.registered_on
        assert loan.approved_on <= loan.policy.premium_paid_on <= loan.disbursed_on, loan
        assert loan.approved_on <= registered <= loan.disbursed_on, loan
        assert loan.disbursed_on <= app.valuation.valid_until, loan
        paid_on = list(Repayment.objects.filter(loan=loan).order_by("pk").values_list("paid_on", flat=True))
        assert paid_on == sorted(paid_on), loan  # reported in the order they happened
        assert all(loan.disbursed_on <= d <= today for d in paid_on), loan
        for row in Installment.objects.filter(loan=loan, paid_on__isnull=False):
            assert row.paid_on in paid_on
            assert row.status == (
                "paid" if row.paid_on <= row.due_on + timedelta(days=loan.grace_days) else "paid_late"
            )


def _the_default(today: date) -> None:
    loan = Loan.objects.select_related("loss_event").get(status="defaulted")
    event = loan.loss_event
    first_unpaid = Installment.objects.filter(loan=loan, paid_on__isnull=True).order_by("seq").first()
    assert first_unpaid is not None
    # the close of the crossing day (due + 91 days) defaulted it, and says so
    assert event.default_on == first_unpaid.due_on + timedelta(days=loan.default_days_past_due + 1)
    assert event.reason.startswith(f"Daily close {event.default_on}: installment due {first_unpaid.due_on}")
    assert event.declared_by_id is None  # the close, not a person
    assert event.insurer_share + event.government_share + event.bank_share == event.loss_amount
    recoveries = list(event.recoveries.all())
    assert recoveries and all(event.default_on < r.received_on <= today for r in recoveries)
    settlements = list(event.settlements.all())
    assert {s.party for s in settlements} == {"insurer", "government"}
    for s in settlements:
        assert event.default_on < s.paid_on <= today
        assert s.status == "approved" and s.approved_by_id not in (None, s.created_by_id)


def _every_status_and_variety() -> None:
    assert set(Application.objects.values_list("status", flat=True)) == set(ApplicationStatus.values)
    assert set(Loan.objects.values_list("status", flat=True)) == set(LoanStatus.values)
    assert {"paid", "paid_late", "overdue", "due"} <= set(
        Installment.objects.values_list("status", flat=True)
    )
    loans = Loan.objects.exclude(status="approved")
    assert loans.values("bank").distinct().count() >= 2
    assert loans.values("policy__insurer").distinct().count() >= 2
    assert set(PatentValuation.objects.values_list("method", flat=True)) == {
        "relief_from_royalty",
        "market",
        "cost",
    }
    assert set(Application.objects.exclude(risk_grade="").values_list("risk_grade", flat=True)) == {
        "A",
        "B",
        "C",
    }
    smes = Organization.objects.filter(uscc__in=[s.uscc for s in SMES])
    sizes = {
        classify_enterprise(o.industry, o.employees or 0, o.annual_revenue or ZERO, o.total_assets or ZERO)
        for o in smes
    }
    assert sizes >= {"micro", "small", "medium"}
    assert len({o.industry for o in smes}) >= 3


def _every_finished_quarter_is_paid(today: date) -> None:
    first = Loan.objects.exclude(disbursed_on=None).order_by("disbursed_on").first()
    assert first is not None and first.disbursed_on == book_start(today)
    period = period_containing(first.disbursed_on, "quarter")
    current = period_containing(today, "quarter")
    expected = []
    while period.start < current.start:
        expected.append(period.label)
        period = period_containing(period.end + timedelta(days=1), "quarter")
    runs = list(SubsidyRun.objects.order_by("period_start"))
    assert [r.period for r in runs] == expected
    for run in runs:
        assert run.status == "paid", run
        assert run.period_end < run.paid_on <= today
        assert run.approved_by_id not in (None, run.started_by_id)  # four eyes
    assert not SubsidyEntitlement.objects.exclude(status="paid").exists()


def _totals_agree_with_the_ledger() -> None:
    lent = Loan.objects.filter(status__in=["active", "settled"])
    for loan in lent:
        assert loan_reconciliation(loan).mismatches() == [], loan
    outstanding = Installment.objects.filter(loan__in=lent).aggregate(
        due=Sum("principal_due"), paid=Sum("principal_paid")
    )
    assert account_balance(LOANS_RECEIVABLE) == outstanding["due"] - outstanding["paid"]
    premiums = PremiumPayment.objects.aggregate(s=Sum("amount"))["s"]
    assert -account_balance(PREMIUM_INCOME) == premiums
    subsidies = SubsidyEntitlement.objects.filter(status="paid").aggregate(s=Sum("amount"))["s"]
    assert subsidies > 0
    assert -account_balance(SME_SUBSIDY_INCOME) == subsidies
    # the loss: both shares settled, so nothing is owed to the bank; the fund paid its share and
    # got its part of the recovery back; the bank bears its share less its part of the recovery
    event = Loan.objects.get(status="defaulted").loss_event
    recovered = event.recoveries.aggregate(g=Sum("government_part"), b=Sum("bank_part"))
    assert account_balance(INSURER_PAYABLE) == ZERO
    assert account_balance(FUND_PAYABLE) == ZERO
    assert account_balance(FUND_CASH) == FUND_TOP_UP - event.government_share + recovered["g"]
    assert account_balance(BANK_CREDIT_LOSS) == event.bank_share - recovered["b"]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_demo_book_tells_a_consistent_story():
    # given an empty book, when the demo is seeded for a server on another address
    output = _seed("0.0.0.0:9000")
    today = business_today()

    # then every part of the story holds
    _dates_follow_the_flow(today)
    _the_default(today)
    _every_status_and_variety()
    _every_finished_quarter_is_paid(today)
    _totals_agree_with_the_ledger()
    # and what it prints names the address served
    assert "Admin: http://0.0.0.0:9000/admin/" in output
    assert "API docs: http://0.0.0.0:9000/api/v1/docs/" in output
    assert "8000" not in output
