"""GET /api/v1/reports/subsidies/: grouped by bank, insurer, region or enterprise, as JSON, CSV and
XLSX with the same rows and totals, equal to the sum of the entitlements counted.

The book (June 2024 loans of 1,000,000.00 at 4.5 %, interest monthly; Q3 2024 figures by hand in
test_interest.py: #1 718.75, #2 735.76, #3 721.18):
- bank 1 / insurer 1: SME A, 12 months, #1-#3 on time: 2,175.69 interest;
  SME B, 3 months, all on time and settled 2024-09-01: 2,175.69 interest + premium subsidy
  round(5,000.00 x 40 %) = 2,000.00
- bank 2 / insurer 2: SME C, 12 months, #1-#2 on time: 718.75 + 735.76 = 1,454.51 interest
Totals: interest 2,175.69 x 2 + 1,454.51 = 5,805.89; premium 2,000.00; all 7,805.89.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db.models import Sum
from openpyxl import load_workbook

from fintech.models import Organization, SubsidyEntitlement, User
from fintech.services.subsidies import subsidy_run_approve
from tests.builders import Cast, active_loan
from tests.factories import OrganizationFactory, SmeFactory, UserFactory

from .helpers import INTEREST_ONLY, D, pay, regulator, regulator_org, set_program

pytestmark = pytest.mark.django_db

REPORT = "/api/v1/reports/subsidies/"
COLUMNS = [
    "group_id",
    "group",
    "interest_amount",
    "premium_amount",
    "total_amount",
    "clawback_amount",
    "net_amount",
    "loans",
    "enterprises",
]


@dataclass
class Book:
    bank1: Organization
    bank2: Organization
    insurer1: Organization
    insurer2: Organization
    smes: list[Organization]


def _people(bank: User, insurer: User, appraiser: User) -> Cast:
    return Cast(sme=UserFactory(organization=SmeFactory()), bank=bank, insurer=insurer, appraiser=appraiser)


def june_loan(people: Cast, term_months: int = 12):
    loan, _ = active_loan(
        method=INTEREST_ONLY,
        term_months=term_months,
        disbursed_on=date(2024, 6, 1),
        valuation_on=date(2024, 5, 20),
        people=people,
    )
    return loan


@pytest.fixture
def book(compute) -> Book:
    staff = {
        name: UserFactory(organization=OrganizationFactory(kind=kind, name=name), is_staff=True)
        for name, kind in (
            ("Bank One", "bank"),
            ("Bank Two", "bank"),
            ("Insurer One", "insurer"),
            ("Insurer Two", "insurer"),
            ("Appraiser", "appraiser"),
        )
    }
    first = _people(staff["Bank One"], staff["Insurer One"], staff["Appraiser"])
    second = _people(staff["Bank One"], staff["Insurer One"], staff["Appraiser"])
    third = _people(staff["Bank Two"], staff["Insurer Two"], staff["Appraiser"])
    a, b, c = june_loan(first), june_loan(second, term_months=3), june_loan(third)
    pay(a, first, [1, 2, 3])
    pay(b, second, [1, 2, 3])
    pay(c, third, [1, 2])
    run = compute("2024Q3")
    assert (run.interest_total, run.premium_total) == (D("5805.89"), D("2000.00"))
    org = {name: user.organization for name, user in staff.items()}
    return Book(
        org["Bank One"],
        org["Bank Two"],
        org["Insurer One"],
        org["Insurer Two"],
        [p.sme.organization for p in (first, second, third)],
    )


def _json(client: Any, query: str) -> list[dict[str, Any]]:
    r = client.get(f"{REPORT}?{query}")
    assert r.status_code == 200, r.content
    assert isinstance(r.json(), list)
    return r.json()


def _csv(client: Any, query: str) -> list[dict[str, Any]]:
    r = client.get(f"{REPORT}?{query}&format=csv")
    assert r.status_code == 200, r.content
    assert r.streaming and r["Content-Type"].startswith("text/csv")
    text = b"".join(r.streaming_content).decode("utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    assert next(reader) == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in reader]


def _xlsx(client: Any, query: str) -> list[dict[str, Any]]:
    r = client.get(f"{REPORT}?{query}&format=xlsx")
    assert r.status_code == 200, r.content
    assert r.streaming and "spreadsheetml" in r["Content-Type"]
    sheet = load_workbook(io.BytesIO(b"".join(r.streaming_content)), read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == COLUMNS
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def _normal(rows: list[dict[str, Any]]) -> list[tuple[str, str, Decimal, Decimal, Decimal, int, int]]:
    """Rows of any format as (group id, group, interest, premium, total, loans, enterprises)."""
    return [
        (
            str(r["group_id"]),
            str(r["group"]),
            *(Decimal(str(r[c])).quantize(D("0.01")) for c in COLUMNS[2:5]),
            int(r["loans"]),
            int(r["enterprises"]),
        )
        for r in rows
    ]


def test_by_bank_as_json(book, client_for, regulators):
    rows = _json(client_for(regulators.starter), "period=2024Q3&group_by=bank")
    # bank 1: interest 2,175.69 + 2,175.69 = 4,351.38, premium 2,000.00, total 6,351.38, 2 loans,
    # 2 SMEs; bank 2: 1,454.51 interest, 1 loan, 1 SME
    assert rows == [
        {
            "group_id": book.bank1.pk,
            "group": "Bank One",
            "interest_amount": "4351.38",
            "premium_amount": "2000.00",
            "total_amount": "6351.38",
            "clawback_amount": "0.00",
            "net_amount": "6351.38",
            "loans": 2,
            "enterprises": 2,
        },
        {
            "group_id": book.bank2.pk,
            "group": "Bank Two",
            "interest_amount": "1454.51",
            "premium_amount": "0.00",
            "total_amount": "1454.51",
            "clawback_amount": "0.00",
            "net_amount": "1454.51",
            "loans": 1,
            "enterprises": 1,
        },
    ]


@pytest.mark.parametrize("group_by", ["bank", "insurer", "region", "enterprise"])
def test_the_three_formats_agree_and_equal_the_entitlements(book, client_for, regulators, group_by):
    client = client_for(regulators.starter)
    query = f"period=2024Q3&group_by={group_by}"

    as_json, as_csv, as_xlsx = (_normal(f(client, query)) for f in (_json, _csv, _xlsx))

    # the same rows in every format
    assert as_json == as_csv == as_xlsx
    # whose totals equal the sum of the entitlements: 5,805.89 + 2,000.00 = 7,805.89
    assert sum(r[4] for r in as_json) == D("7805.89")
    assert sum(r[4] for r in as_json) == SubsidyEntitlement.objects.aggregate(s=Sum("amount"))["s"]
    assert (sum(r[2] for r in as_json), sum(r[3] for r in as_json)) == (D("5805.89"), D("2000.00"))


def test_groups(book, client_for, regulators):
    client = client_for(regulators.starter)
    by_region = _normal(_json(client, "period=2024Q3&group_by=region"))
    assert by_region == [("420100", "Wuhan", D("5805.89"), D("2000.00"), D("7805.89"), 3, 3)]
    by_insurer = _normal(_json(client, "period=2024Q3&group_by=insurer"))
    assert [(r[1], r[4]) for r in by_insurer] == [
        ("Insurer One", D("6351.38")),
        ("Insurer Two", D("1454.51")),
    ]
    by_sme = {r[0]: r[2:] for r in _normal(_json(client, "period=2024Q3&group_by=enterprise"))}
    a, b, c = (str(s.pk) for s in book.smes)
    assert by_sme == {
        a: (D("2175.69"), D("0.00"), D("2175.69"), 1, 1),
        b: (D("2175.69"), D("2000.00"), D("4175.69"), 1, 1),
        c: (D("1454.51"), D("0.00"), D("1454.51"), 1, 1),
    }


def test_cancelled_entitlements_do_not_count_and_status_filters(book, client_for, regulators):
    client = client_for(regulators.starter)
    # given the premium subsidy cancelled (a correction)
    SubsidyEntitlement.objects.filter(kind="premium").update(status="cancelled")

    # then the report leaves it out: 7,805.89 - 2,000.00 = 5,805.89
    assert sum(r[4] for r in _normal(_json(client, "period=2024Q3&group_by=region"))) == D("5805.89")
    # and ?status=cancelled shows only it
    cancelled = _normal(_json(client, "period=2024Q3&group_by=region&status=cancelled"))
    assert [(r[3], r[5]) for r in cancelled] == [(D("2000.00"), 1)]

    # when the run is approved, ?status=approved counts every approved entitlement and
    # ?status=computed none
    run = SubsidyEntitlement.objects.first().run
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    approved = _normal(_json(client, "period=2024Q3&group_by=region&status=approved"))
    assert [r[4] for r in approved] == [D("5805.89")]
    assert _json(client, "period=2024Q3&group_by=region&status=computed") == []


def test_other_periods_and_scopes(book, client_for, regulators):
    # another quarter is empty; no period means every period
    assert _json(client_for(regulators.starter), "period=2024Q4&group_by=bank") == []
    assert len(_json(client_for(regulators.starter), "group_by=bank")) == 2
    # a regulator of another region sees nothing; the platform everything; SMEs and banks may not
    assert _json(client_for(regulator(regulator_org("420200"))), "period=2024Q3&group_by=bank") == []
    platform = UserFactory(organization=OrganizationFactory(kind="platform"))
    assert len(_json(client_for(platform), "period=2024Q3&group_by=bank")) == 2
    sme_user = UserFactory(organization=book.smes[0])
    bank_user = UserFactory(organization=book.bank1)
    for user in (sme_user, bank_user):
        r = client_for(user).get(f"{REPORT}?period=2024Q3&group_by=bank&format=csv")
        assert r.status_code == 403
        assert r.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("period=2024Q3", "group_by"),
        ("period=2024Q3&group_by=city", "group_by"),
        ("period=2024Q3&group_by=bank&format=pdf", "format"),
        ("period=2024Q3&group_by=bank&format=csv&status=lost", "status"),
        ("period=2024-Q3&group_by=bank&format=csv", "period"),
        ("period=Q3&group_by=bank&format=xlsx", "period"),
    ],
)
def test_bad_parameters_are_a_400_json_error(client_for, regulators, query, field):
    r = client_for(regulators.starter).get(f"{REPORT}?{query}")
    assert r.status_code == 400
    assert r["Content-Type"].startswith("application/json")
    assert field in r.json()["fields"]


def test_a_quarter_report_counts_the_monthly_periods_inside_it(compute, client_for, regulators):
    # given a programme paying by month, the June loan with #1-#3 on time, July and August computed
    set_program(subsidy_period="month")
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    compute("2024-07")
    compute("2024-08")

    client = client_for(regulators.starter)
    # then 2024Q3 counts July's #1 (718.75) and August's #2 (735.76): 1,454.51; 2024-07 only July's
    assert _normal(_json(client, "period=2024Q3&group_by=region"))[0][4] == D("1454.51")
    assert _normal(_json(client, "period=2024-07&group_by=region"))[0][4] == D("718.75")


def test_the_report_is_one_aggregate_query_and_the_list_does_not_grow_with_the_page(
    book, client_for, regulators
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = client_for(regulators.starter)

    def count(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    # three groups or one: the same number of queries (the user's lookups, then one aggregate)
    assert count(f"{REPORT}?period=2024Q3&group_by=enterprise") == count(
        f"{REPORT}?period=2024Q3&group_by=region"
    )
    # a page of 2 or of 10 entitlements: the same number of queries
    assert count("/api/v1/subsidies/?page_size=2") == count("/api/v1/subsidies/?page_size=10")


def test_a_name_that_looks_like_a_formula_stays_text_and_money_stays_numbers_in_the_files(
    book, client_for, regulators
):
    # given SME A registered under a name that a spreadsheet would run as a formula
    hostile = '=HYPERLINK("http://x","y")'
    sme = book.smes[0]
    sme.name = hostile
    sme.save(update_fields=["name"])
    client = client_for(regulators.starter)
    query = "period=2024Q3&group_by=enterprise"

    # when the regulator pulls the report by enterprise in each format
    as_json = {r["group_id"]: r for r in _json(client, query)}
    as_csv = {int(r["group_id"]): r for r in _csv(client, query)}
    r = client.get(f"{REPORT}?{query}&format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    by_id = {row[0].value: row for row in sheet.iter_rows(min_row=2)}

    # then the files carry the name as quoted text, never a formula
    assert as_csv[sme.pk]["group"] == "'" + hostile
    group, interest, premium, total = by_id[sme.pk][1:5]
    loans = by_id[sme.pk][COLUMNS.index("loans")]
    assert (group.value, group.data_type) == ("'" + hostile, "s")
    assert all(row[1].data_type == "s" for row in by_id.values())
    # and the money is a number with two places shown: SME A's 2,175.69 interest, no premium
    assert (interest.value, interest.data_type, interest.number_format) == (2175.69, "n", "#,##0.00")
    assert (premium.value, total.value, loans.value) == (0, 2175.69, 1)
    # while the JSON report carries the name as registered
    assert as_json[sme.pk]["group"] == hostile
    assert as_json[sme.pk]["total_amount"] == "2175.69"
