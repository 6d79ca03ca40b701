"""Annual fees (DOMAIN.md section 10a): fee years from the filing-date anniversary, the grace of six
months and its surcharge, around a 29 February filing; the SME's payment over the API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from fintech.models import AuditLog, FeeSchedule, PatentFeePayment
from fintech.rules import fees
from fintech.selectors.collateral import patent_fee_lines
from tests.factories import PatentFactory, SmeFactory, UserFactory, make_patent_number

D = Decimal
LEAP = date(2020, 2, 29)


def test_fee_years_of_a_29_february_filing():
    # year 1 from the filing date; year k from the (k-1)-th anniversary, 1 March in a common year
    assert fees.fee_year_due_on(LEAP, 1) == LEAP
    assert fees.fee_year_due_on(LEAP, 2) == date(2021, 3, 1)
    assert fees.fee_year_due_on(LEAP, 5) == date(2024, 2, 29)  # 2024 is a leap year
    assert fees.fee_year_on(LEAP, date(2021, 2, 28)) == 1
    assert fees.fee_year_on(LEAP, date(2021, 3, 1)) == 2
    assert fees.fee_year_on(LEAP, date(2024, 2, 28)) == 4
    assert fees.fee_year_on(LEAP, date(2024, 2, 29)) == 5


def test_grace_ends_six_months_after_the_due_date_on_the_same_day_or_the_month_end():
    assert fees.grace_ends_on(date(2021, 3, 1)) == date(2021, 9, 1)
    assert fees.grace_ends_on(date(2024, 2, 29)) == date(2024, 8, 29)
    assert fees.grace_ends_on(date(2023, 8, 31)) == date(2024, 2, 29)  # no 31 February: the month's end


def test_surcharge_grows_by_started_month_of_grace():
    due = date(2021, 3, 1)
    # on time and in the first month (up to 04-01): 0; from 04-02, month 2: 5 %; ... month 6: 25 %
    assert fees.surcharge_rate(due, date(2021, 3, 1)) == D("0")
    assert fees.surcharge_rate(due, date(2021, 4, 1)) == D("0")
    assert fees.surcharge_rate(due, date(2021, 4, 2)) == D("0.05")
    assert fees.surcharge_rate(due, date(2021, 6, 1)) == D("0.10")
    assert fees.surcharge_rate(due, date(2021, 8, 2)) == D("0.25")
    assert fees.surcharge_rate(due, date(2021, 9, 1)) == D("0.25")
    # invention year 4 (1,200.00) in month 2: 60.00; year 2 (900.00) in month 6: 225.00
    assert fees.surcharge_amount(D("1200.00"), due, date(2021, 4, 2)) == D("60.00")
    assert fees.surcharge_amount(D("900.00"), due, date(2021, 9, 1)) == D("225.00")


@pytest.mark.django_db
def test_the_seeded_table_and_its_source():
    table = FeeSchedule.objects.get()
    assert "CNIPA" in table.source and table.sme_reduction_rate == 0
    amounts = {(r.patent_type, r.year_from, r.year_to): r.amount for r in table.rows.all()}
    assert amounts[("invention", 1, 3)] == D("900.00")
    assert amounts[("invention", 16, 20)] == D("8000.00")
    assert amounts[("utility_model", 9, 10)] == D("2000.00")
    assert amounts[("design", 6, 8)] == D("1200.00")


def _leap_patent():
    """An invention filed 2020-02-29, granted 2022-06-15 (fee year 3, paid with the grant), whose fees
    were paid through year 3 before the platform."""
    owner = SmeFactory()
    return PatentFactory(
        owner=owner,
        application_number=make_patent_number(2020, 1),
        filing_date=LEAP,
        grant_date=date(2022, 6, 15),
        fees_paid_through_year=3,
    ), owner


@pytest.mark.django_db
def test_fee_schedule_of_a_leap_day_patent_in_grace():
    patent, _owner = _leap_patent()
    # on 2023-04-15, year 4 (due 2023-03-01, 1,200.00) is in month 2 of grace: surcharge 5 % = 60.00
    lines = patent_fee_lines(patent, date(2023, 4, 15))
    assert [(x.fee_year, x.status) for x in lines[:3]] == [(3, "paid"), (4, "in_grace"), (5, "due")]
    year4 = lines[1]
    assert (year4.due_on, year4.amount, year4.grace_ends_on, year4.surcharge) == (
        date(2023, 3, 1),
        D("1200.00"),
        date(2023, 9, 1),
        D("60.00"),
    )
    assert lines[2].due_on == date(2024, 2, 29)
    assert lines[-1].fee_year == 20 and lines[-1].amount == D("8000.00")
    # past the grace the unpaid year reads lapsed
    assert patent_fee_lines(patent, date(2023, 9, 2))[1].status == "lapsed"


@pytest.mark.django_db
def test_sme_pays_a_fee_in_grace_over_the_api(client_for):
    patent, owner = _leap_patent()
    sme = UserFactory(organization=owner)
    url = f"/api/v1/patents/{patent.pk}/fee-payments/"
    # paid 2023-04-02, month 2 of grace: 1,200.00 + 60.00; 1,200.00 alone is refused, nothing written
    bad = client_for(sme).post(
        url, {"fee_year": 4, "amount": "1200.00", "paid_on": "2023-04-02"}, format="json"
    )
    assert bad.status_code == 400 and "1260.00" in bad.json()["message"]
    assert PatentFeePayment.objects.count() == 0
    ok = client_for(sme).post(
        url, {"fee_year": 4, "amount": "1260.00", "paid_on": "2023-04-02"}, format="json"
    )
    assert ok.status_code == 201, ok.json()
    rows = client_for(sme).get(f"/api/v1/patents/{patent.pk}/fees/?as_of=2023-04-03").json()
    assert rows[1] == {
        "fee_year": 4,
        "due_on": "2023-03-01",
        "amount": "1200.00",
        "grace_ends_on": "2023-09-01",
        "surcharge": "60.00",
        "paid_amount": "1260.00",
        "paid_on": "2023-04-02",
        "status": "paid",
    }
    assert AuditLog.objects.filter(action="patent.fee_paid").count() == 1
    # another organisation may not pay it
    other = UserFactory(organization=SmeFactory())
    assert (
        client_for(other)
        .post(url, {"fee_year": 5, "amount": "1200.00", "paid_on": "2023-04-02"}, format="json")
        .status_code
        == 404
    )
