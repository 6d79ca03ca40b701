"""The nightly collateral watch (DOMAIN.md section 10a): a fee finding raised once over three
nights and resolved by the cure; coverage before and after an added patent; the auto-lapse at the
end of grace; the queue over the API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.models import Finding, Loan, Patent
from fintech.selectors.collateral import loan_cover
from fintech.services.collateral import (
    collateral_watch,
    fee_payment_record,
    finding_patent_add,
    patent_event_record,
)
from fintech.services.repayments import repayment_record
from tests.builders import active_loan
from tests.factories import PatentFactory, make_patent_number

D = Decimal
pytestmark = pytest.mark.django_db


def _loan_with_fee_due():
    """The standard loan; its invention (filed 2020-04-01) has fees paid through year 5: year 6,
    1,200.00, is due 2025-04-01, grace until 2025-10-01."""
    loan, people = active_loan()
    patent = loan.pledge.items.get().patent
    Patent.objects.filter(pk=patent.pk).update(fees_paid_through_year=5)
    return loan, people, patent


def _watch(as_of: date) -> dict[str, int]:
    """One night's watch over every loan (its own job, no longer a part of the daily close)."""
    return collateral_watch(Loan.objects.all(), as_of)


def test_fee_in_grace_raised_once_over_three_nights_and_resolved_by_the_payment(client_for):
    loan, people, patent = _loan_with_fee_due()
    # 2025-03-10: the fee is due in 22 days (<= 30): an info finding with amount and deadline
    run = _watch(date(2025, 3, 10))
    due = Finding.objects.get(loan=loan, kind="fee_due")
    assert (due.severity, due.amount, due.deadline_on) == ("info", D("1200.00"), date(2025, 4, 1))
    assert run["findings_raised"] == 1
    # three nights in grace: one warning, first seen 04-02, last seen 04-04; the info one resolved
    for night in (date(2025, 4, 2), date(2025, 4, 3), date(2025, 4, 4)):
        _watch(night)
    grace = Finding.objects.get(loan=loan, kind="fee_in_grace")
    assert (grace.severity, grace.status, grace.first_seen_on, grace.last_seen_on) == (
        "warning",
        "open",
        date(2025, 4, 2),
        date(2025, 4, 4),
    )
    assert (grace.amount, grace.deadline_on) == (D("1200.00"), date(2025, 10, 1))  # month 1: no surcharge
    due.refresh_from_db()
    assert (due.status, due.resolved_on) == ("resolved", date(2025, 4, 2))
    # the bank and the insurer see it in their queue, counted by severity
    for user in (people.bank, people.insurer):
        counts = client_for(user).get("/api/v1/findings/counts/").json()
        assert counts == {"info": 0, "warning": 1, "critical": 0}
    listed = client_for(people.bank).get("/api/v1/findings/?status=open").json()["results"]
    assert [(f["kind"], f["amount"], f["deadline_on"]) for f in listed] == [
        ("fee_in_grace", "1200.00", "2025-10-01")
    ]
    # the cure: the SME pays 1,200.00 on 2025-04-04 (first month of grace); the next night resolves it
    fee_payment_record(
        actor=people.sme, patent_id=patent.pk, fee_year=6, amount=D("1200.00"), paid_on=date(2025, 4, 4)
    )
    run = _watch(date(2025, 4, 5))
    grace.refresh_from_db()
    assert (grace.status, grace.resolved_on, run["findings_resolved"]) == ("resolved", date(2025, 4, 5), 1)
    assert Finding.objects.filter(kind="fee_in_grace").count() == 1
    # a re-run of a night changes nothing (no duplicate)
    assert _watch(date(2025, 4, 5))["findings_raised"] == 0
    assert Finding.objects.filter(loan=loan).count() == 2


def test_watch_lapses_a_patent_whose_grace_ended_unpaid():
    loan, _people, patent = _loan_with_fee_due()
    counts = collateral_watch(Loan.objects.filter(pk=loan.pk), date(2025, 10, 2))
    patent.refresh_from_db()
    # lapsed as of the fee's due date; a critical finding at once
    assert (patent.status, patent.lapsed_on) == ("lapsed", date(2025, 4, 1))
    legal = Finding.objects.get(loan=loan, kind="legal_status")
    assert (legal.severity, legal.first_seen_on) == ("critical", date(2025, 4, 1))
    # the watch raised the coverage shortfall (0.00 / 1,000,000.00); the lapse raised the legal one
    assert counts == {"findings_raised": 1, "findings_resolved": 0}
    assert Finding.objects.get(loan=loan, kind="coverage_shortfall").severity == "critical"
    # the same night again: nothing new
    assert collateral_watch(Loan.objects.filter(pk=loan.pk), date(2025, 10, 2))["findings_raised"] == 0


def test_coverage_before_and_after_an_added_patent():
    loan, people, patent = _loan_with_fee_due()
    patent_event_record(actor=None, patent_id=patent.pk, code="invalidation", event_on=date(2025, 6, 1))
    # before: the only patent is invalidated: 0.00 / 1,000,000.00 -> shortfall
    _watch(date(2025, 6, 2))
    shortfall = Finding.objects.get(loan=loan, kind="coverage_shortfall")
    assert shortfall.detail["coverage"] == "0.000000"
    # the bank pledges a further invention of the SME, appraised 2,000,000.00 on 2025-06-02
    extra = PatentFactory(
        owner=loan.sme,
        application_number=make_patent_number(2021, 1),
        filing_date=date(2021, 5, 10),
        grant_date=date(2023, 1, 10),
    )
    finding_patent_add(
        actor=people.bank,
        finding_id=shortfall.pk,
        patent_id=extra.pk,
        value=D("2000000.00"),
        valued_on=date(2025, 6, 2),
    )
    # after: 2,000,000.00 x (1 - 0) x 1 (no term used yet) / 1,000,000.00 = 2.000000 -> ok
    cover = loan_cover(loan, date(2025, 6, 2))
    assert (cover.collateral_value, cover.coverage, cover.level) == (D("2000000.00"), D("2.000000"), "ok")
    counts = _watch(date(2025, 6, 3))
    shortfall.refresh_from_db()
    assert (shortfall.status, shortfall.resolved_on) == ("resolved", date(2025, 6, 3))
    assert counts["findings_resolved"] == 1


def test_coverage_api_shows_the_patents_and_the_level(client_for):
    loan, people, _patent = _loan_with_fee_due()
    body = client_for(people.insurer).get(f"/api/v1/loans/{loan.pk}/collateral/?as_of=2025-05-31").json()
    # year 6's fee (due 2025-04-01) is in grace on 2025-05-31: haircut 20 %;
    # 3,040,287.70 x (1 - 0.20) x 5418 / 5537 days of remaining term = 2,379,957.20; / 1,000,000.00
    assert (body["collateral_value"], body["outstanding_principal"], body["coverage"], body["level"]) == (
        "2379957.20",
        "1000000.00",
        "2.379957",
        "ok",
    )
    assert (body["patents"][0]["state"], body["patents"][0]["haircut"]) == ("fee_in_grace", "0.2")
    # paid through year 6: in force, no haircut: 3,040,287.70 x 5418 / 5537 = 2,974,946.50
    Patent.objects.filter(pk=_patent.pk).update(fees_paid_through_year=6)
    body = client_for(people.bank).get(f"/api/v1/loans/{loan.pk}/collateral/?as_of=2025-05-31").json()
    assert (body["collateral_value"], body["coverage"], body["patents"][0]["state"]) == (
        "2974946.50",
        "2.974947",
        "in_force",
    )
    assert client_for(people.insurer).get(f"/api/v1/loans/{loan.pk}/collateral/?as_of=x").status_code == 400


def test_coverage_before_and_after_a_repayment_of_principal():
    loan, people = active_loan()
    # on 2025-03-21 the invention has 5489 of its 5537 days of remaining term (from 2025-02-01):
    # 3,040,287.70 x 5489 / 5537 = 3,013,931.58
    before = loan_cover(loan, date(2025, 3, 21))
    assert (before.collateral_value, before.outstanding_principal, before.coverage) == (
        D("3013931.58"),
        D("1000000.00"),
        D("3.013932"),
    )
    # installment 1 paid on its due date: 83,333.33 principal + 3,500.00 interest (28 days at 4.5 %)
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("86833.33"), paid_on=date(2025, 3, 20))
    after = loan_cover(loan, date(2025, 3, 21))
    # 3,013,931.58 / 916,666.67 = 3.287925
    assert (after.outstanding_principal, after.coverage) == (D("916666.67"), D("3.287925"))
