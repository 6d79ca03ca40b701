"""Annual fees (DOMAIN.md section 10a): fee years from the filing-date anniversary, the grace of six
months and its surcharge, around a 29 February filing; the SME's payment over the API."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from fintech.models import AuditLog, FeeSchedule, PatentFeePayment
from fintech.rules import fees
from fintech.selectors.collateral import FeeTables, patent_fee_lines
from tests.factories import PatentFactory, SmeFactory, UserFactory, make_patent_number

D = Decimal
LEAP = date(2020, 2, 29)
# The NDRC and MOF notice that sets CNIPA's fees (its number is written with tortoise-shell brackets).
FEE_NOTICE = "发改价格〔2017〕270号"  # noqa: RUF001


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


def _years(*spans: tuple[int, int, str]) -> dict[int, Decimal]:
    return {year: D(amount) for first, last, amount in spans for year in range(first, last + 1)}


# DOMAIN.md section 10a, the rule book's default table, written out year by year (CNY).
RULE_BOOK = {
    "invention": _years(
        (1, 3, "900.00"),
        (4, 6, "1200.00"),
        (7, 9, "2000.00"),
        (10, 12, "4000.00"),
        (13, 15, "6000.00"),
        (16, 20, "8000.00"),
    ),
    "utility_model": _years((1, 3, "600.00"), (4, 5, "900.00"), (6, 8, "1200.00"), (9, 10, "2000.00")),
    # "design as utility model, 11-15 from the table": 3,000 (docs/rules.md names the source)
    "design": _years(
        (1, 3, "600.00"), (4, 5, "900.00"), (6, 8, "1200.00"), (9, 10, "2000.00"), (11, 15, "3000.00")
    ),
}


@pytest.mark.django_db
def test_every_fee_year_of_the_seeded_table_is_the_rule_books():
    # given the table the migration seeded, with its source and no SME reduction
    table = FeeSchedule.objects.get()
    assert (table.valid_from, table.sme_reduction_rate) == (date(2017, 7, 1), D("0"))
    assert FEE_NOTICE in table.source
    tables = FeeTables()
    # when the code reads each fee year of each type's term (20, 10, and 15 for a design filed
    # from 2021-06-01), then each amount is the rule book's
    code = {
        patent_type: {
            year: tables.fee(patent_type, year, date(2025, 4, 1))
            for year in range(1, fees.last_fee_year(patent_type, date(2021, 6, 1)) + 1)
        }
        for patent_type in RULE_BOOK
    }
    assert code == RULE_BOOK
    # each year falls in exactly one row of the table (no overlap, no gap)
    rows = list(table.rows.values_list("patent_type", "year_from", "year_to"))
    for patent_type, years in RULE_BOOK.items():
        spans = [range(a, b + 1) for t, a, b in rows if t == patent_type]
        assert sorted(y for span in spans for y in span) == sorted(years), patent_type
    # past the term there is no fee: an invention's year 21, a utility model's year 11
    for patent_type, year in (("invention", 21), ("utility_model", 11), ("design", 16)):
        with pytest.raises(LookupError):
            tables.fee(patent_type, year, date(2025, 4, 1))


@pytest.mark.django_db
def test_a_designs_fee_lines_for_years_11_to_15():
    # a design filed 2021-06-01 (15-year term, expires 2036-05-31), granted 2021-12-01, fees paid
    # through year 10 before the platform
    design = PatentFactory(
        patent_type="design",
        application_number=make_patent_number(2021, 3),
        filing_date=date(2021, 6, 1),
        grant_date=date(2021, 12, 1),
        fees_paid_through_year=10,
    )
    lines = patent_fee_lines(design, date(2031, 6, 1))
    # year 11 due on the 10th anniversary, 2031-06-01; years 11-15 at 3,000.00, the last year 15
    assert [(x.fee_year, x.due_on, x.amount) for x in lines if x.fee_year >= 10] == [
        (10, date(2030, 6, 1), D("2000.00")),
        (11, date(2031, 6, 1), D("3000.00")),
        (12, date(2032, 6, 1), D("3000.00")),
        (13, date(2033, 6, 1), D("3000.00")),
        (14, date(2034, 6, 1), D("3000.00")),
        (15, date(2035, 6, 1), D("3000.00")),
    ]


def test_the_late_surcharge_by_month_of_grace_on_an_invention_year_11_fee():
    # invention year 11: 4,000.00, due 2030-06-10, grace to 2030-12-10; month m of grace runs to
    # due + m months: 0 in month 1, then 5 % of 4,000.00 = 200.00 per further started month
    due = date(2030, 6, 10)
    fee = D("4000.00")
    paid = {
        date(2030, 6, 10): "0.00",  # on the due date
        date(2030, 7, 10): "0.00",  # last day of month 1
        date(2030, 7, 11): "200.00",  # month 2
        date(2030, 8, 11): "400.00",  # month 3
        date(2030, 9, 11): "600.00",  # month 4
        date(2030, 10, 11): "800.00",  # month 5
        date(2030, 11, 11): "1000.00",  # month 6
        date(2030, 12, 10): "1000.00",  # the last day of grace: 25 %
    }
    assert {day: fees.surcharge_amount(fee, due, day) for day in paid} == {d: D(a) for d, a in paid.items()}
    assert fees.grace_ends_on(due) == date(2030, 12, 10)


def test_the_rule_books_table_and_its_source_are_in_the_docs():
    text = (Path(__file__).resolve().parents[3] / "docs" / "rules.md").read_text(encoding="utf-8")
    assert FEE_NOTICE in text
    assert "```figures id=annual-fee-table" in text
    for line in (
        "invention 1-3 = 900.00",
        "invention 10-12 = 4000.00",
        "invention 13-15 = 6000.00",
        "invention 16-20 = 8000.00",
        "utility_model 9-10 = 2000.00",
        "design 11-15 = 3000.00",
    ):
        assert line in text


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
