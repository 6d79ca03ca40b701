"""The risk-pool report for regulators: loss events with their shares, recoveries, settlements
and net losses, their totals, and the fund; as JSON, CSV and XLSX with the same figures."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from openpyxl import load_workbook

from fintech.services.risk_pool import (
    fund_top_up_record,
    recovery_record,
    settlement_approve,
    settlement_record,
)
from tests.factories import OrganizationFactory

from .helpers import World, another_loan, client_for, declare_default, make_user

D = Decimal
pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/risk-pool/"


@pytest.fixture
def book(world: World) -> tuple[World, World]:
    """Two defaults on 2025-07-01, and what followed (every date below is the business date).

    - 2025-06-01 top-up 200,000.00.
    - Loan 1 (the standard loan): loss 1,014,000.00 = 507,000.00 / 304,200.00 / 202,800.00; the
      fund draws 304,200.00 with 200,000.00 in it: 104,200.00 unfunded.
    - Loan 2: 500,000.00, same terms. Installments 1-4 (41,666.67 principal each): interest
      500,000.00 x 0.045 x 28/360 = 1,750.00; 458,333.33 x 0.045 x 31/360 = 1,776.0416 -> 1,776.04;
      416,666.66 x 0.045 x 30/360 = 1,562.4999 -> 1,562.50; 374,999.99 x 0.045 x 31/360 =
      1,453.1249 -> 1,453.12; unpaid interest 6,541.66. Accrued 11 days on 333,333.32: 458.3333 ->
      458.33. Loss 506,999.99: 50,699,999 fen x 0.5 / 0.3 / 0.2 = 25,349,999.5 / 15,209,999.7 /
      10,139,999.8, two fen left to .8 (bank) and .7 (fund): 253,499.99 / 152,100.00 / 101,400.00.
      The fund is already 104,200.00 short: all 152,100.00 is unfunded.
    - 2025-08-15 recovery of 100,000.03 on loan 1: 50,000.01 / 30,000.01 / 20,000.01.
    - 2025-08-20 the insurer's settlement of 200,000.00 on loan 1, approved; 2025-08-25 a fund
      settlement of 10,000.00 on loan 1, still pending (not settled).
    - 2025-10-10 recovery of 50,000.05 on loan 2 (in Q4): 25,000.03 / 15,000.01 / 10,000.01.
    """
    fund_top_up_record(
        actor=world.regulator,
        program_id=world.program.pk,
        amount=D("200000.00"),
        received_on=date(2025, 6, 1),
    )
    first = declare_default(world)
    second_world = another_loan(world, D("500000.00"))
    second = declare_default(second_world)
    assert (second.loss_amount, second.insurer_share, second.government_share, second.bank_share) == (
        D("506999.99"),
        D("253499.99"),
        D("152100.00"),
        D("101400.00"),
    )
    assert (first.unfunded_amount, second.unfunded_amount) == (D("104200.00"), D("152100.00"))
    recovery_record(
        actor=world.bank,
        loan_id=world.loan.pk,
        amount=D("100000.03"),
        received_on=date(2025, 8, 15),
        source="a",
    )
    paid = settlement_record(
        actor=world.insurer, loan_id=world.loan.pk, party="insurer", amount=D("200000.00"),
        paid_on=date(2025, 8, 20), reference="CLM-1",
    )  # fmt: skip
    settlement_approve(actor=world.insurer_2, settlement_id=paid.pk)
    settlement_record(
        actor=world.regulator, loan_id=world.loan.pk, party="government", amount=D("10000.00"),
        paid_on=date(2025, 8, 25), reference="FUND-1",
    )  # fmt: skip
    recovery_record(
        actor=world.bank, loan_id=second_world.loan.pk, amount=D("50000.05"), received_on=date(2025, 10, 10),
        source="b",
    )  # fmt: skip
    return world, second_world


def _parties(insurer, government, bank=None, total=None):
    out = {"insurer": insurer, "government": government}
    if bank is not None:
        out["bank"] = bank
    if total is not None:
        out["total"] = total
    return out


def test_the_quarterly_report_in_json(book):
    # given the book above
    world, second = book

    # when a Wuhan regulator asks for 2025Q3
    response = client_for(world.regulator).get(URL, {"period": "2025Q3"})

    # then both losses (defaulted in Q3), recovered and settled as of 2025-09-30
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["period"] == "2025Q3"
    assert body["loss_events"] == [
        {
            "loan": world.loan.pk,
            "program": world.program.pk,
            "sme": world.sme.organization_id,
            "sme_name": world.sme.organization.name,
            "bank": world.bank.organization_id,
            "bank_name": world.bank.organization.name,
            "insurer": world.insurer.organization_id,
            "insurer_name": world.insurer.organization.name,
            "default_on": "2025-07-01",
            "loss_amount": "1014000.00",
            "insurer_share": "507000.00",
            "government_share": "304200.00",
            "bank_share": "202800.00",
            "recovered": _parties("50000.01", "30000.01", "20000.01", "100000.03"),
            "net": _parties("456999.99", "274199.99", "182799.99"),
            "settled": _parties("200000.00", "0.00"),
            "unfunded_amount": "104200.00",
        },
        {
            "loan": second.loan.pk,
            "program": world.program.pk,
            "sme": world.sme.organization_id,
            "sme_name": world.sme.organization.name,
            "bank": world.bank.organization_id,
            "bank_name": world.bank.organization.name,
            "insurer": world.insurer.organization_id,
            "insurer_name": world.insurer.organization.name,
            "default_on": "2025-07-01",
            "loss_amount": "506999.99",
            "insurer_share": "253499.99",
            "government_share": "152100.00",
            "bank_share": "101400.00",
            "recovered": _parties("0.00", "0.00", "0.00", "0.00"),  # its recovery came in Q4
            "net": _parties("253499.99", "152100.00", "101400.00"),
            "settled": _parties("0.00", "0.00"),
            "unfunded_amount": "152100.00",
        },
    ]
    assert body["totals"] == {
        "loss_events": 2,
        "loss_amount": "1520999.99",
        "insurer_share": "760499.99",
        "government_share": "456300.00",
        "bank_share": "304200.00",
        "recovered": _parties("50000.01", "30000.01", "20000.01", "100000.03"),
        "net": _parties("710499.98", "426299.99", "284199.99"),
        "settled": _parties("200000.00", "0.00"),
        "unfunded_amount": "256300.00",
    }
    # and the fund: no top-up in Q3, draws 304,200.00 + 152,100.00, the fund's 30,000.01 back;
    # balance on 2025-09-30 = 200,000.00 - 456,300.00 + 30,000.01 = -226,299.99, all of it unfunded
    assert body["fund"] == {
        "balance": "-226299.99",
        "top_ups": "0.00",
        "draws": "456300.00",
        "recoveries": "30000.01",
        "unfunded": "226299.99",
    }


def test_without_a_period_the_report_covers_all_time(book):
    world, _ = book

    body = client_for(world.regulator).get(URL).json()

    # then the Q4 recovery counts too (25,000.03 / 15,000.01 / 10,000.01 on loan 2)
    assert body["period"] is None
    assert body["totals"]["recovered"] == _parties("75000.04", "45000.02", "30000.02", "150000.08")
    assert body["totals"]["net"] == _parties("685499.95", "411299.98", "274199.98")
    # and the fund: 200,000.00 - 456,300.00 + 30,000.01 + 15,000.01 = -211,299.98
    assert body["fund"] == {
        "balance": "-211299.98",
        "top_ups": "200000.00",
        "draws": "456300.00",
        "recoveries": "45000.02",
        "unfunded": "211299.98",
    }


def test_a_month_and_a_quarter_without_defaults(book):
    world, _ = book
    client = client_for(world.regulator)

    july = client.get(URL, {"period": "2025-07"}).json()
    q4 = client.get(URL, {"period": "2025Q4"}).json()

    assert july["totals"]["loss_events"] == 2
    assert july["fund"]["draws"] == "456300.00"
    assert (q4["loss_events"], q4["totals"]["loss_events"], q4["totals"]["loss_amount"]) == ([], 0, "0.00")
    # Q4's only movement is the fund's 15,000.01 of the October recovery
    assert q4["fund"] == {
        "balance": "-211299.98",
        "top_ups": "0.00",
        "draws": "0.00",
        "recoveries": "15000.01",
        "unfunded": "211299.98",
    }


def _file_totals(rows: list[list[object]]) -> dict[str, Decimal]:
    header, *_, totals = rows
    assert totals[0] == "TOTAL"
    return {
        str(name): D(str(value))
        for name, value in zip(header[1:], totals[1:], strict=True)
        if value not in ("", None)
    }


def _json_totals(body: dict) -> dict[str, Decimal]:
    totals = body["totals"]
    flat = {
        name: D(totals[name]) for name in ("loss_amount", "insurer_share", "government_share", "bank_share")
    }
    for group in ("recovered", "net", "settled"):
        flat.update({f"{group}_{party}": D(v) for party, v in totals[group].items() if party != "total"})
    flat["unfunded_amount"] = D(totals["unfunded_amount"])
    return flat


def test_json_csv_and_xlsx_carry_the_same_totals(book):
    world, second = book
    client = client_for(world.regulator)

    # when the regulator pulls the quarter in each format
    body = client.get(URL, {"period": "2025Q3"}).json()
    as_csv = client.get(URL, {"period": "2025Q3", "format": "csv"})
    as_xlsx = client.get(URL, {"period": "2025Q3", "format": "xlsx"})

    # then the CSV is streamed as a file: a header, one row per loss event, then the totals
    assert as_csv.status_code == 200
    assert as_csv.streaming
    assert as_csv["Content-Type"] == "text/csv; charset=utf-8"
    assert as_csv["Content-Disposition"] == 'attachment; filename="risk-pool-2025Q3.csv"'
    csv_rows = list(csv.reader(io.StringIO(b"".join(as_csv.streaming_content).decode("utf-8-sig"))))
    assert len(csv_rows) == 4
    assert csv_rows[1][:3] == [
        str(world.loan.pk),
        str(world.sme.organization_id),
        world.sme.organization.name,
    ]
    assert csv_rows[1][7:] == [
        "2025-07-01", "1014000.00", "507000.00", "304200.00", "202800.00",
        "50000.01", "30000.01", "20000.01", "456999.99", "274199.99", "182799.99",
        "200000.00", "0.00", "104200.00",
    ]  # fmt: skip
    # and the XLSX likewise, with numbers in the money columns
    assert as_xlsx.status_code == 200
    assert as_xlsx["Content-Disposition"] == 'attachment; filename="risk-pool-2025Q3.xlsx"'
    sheet = load_workbook(io.BytesIO(b"".join(as_xlsx.streaming_content)), read_only=True).active
    xlsx_rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert len(xlsx_rows) == 4
    assert xlsx_rows[2][0] == second.loan.pk

    # and the totals agree, figure for figure
    expected = _json_totals(body)
    assert expected["loss_amount"] == D("1520999.99")
    assert _file_totals(csv_rows) == expected
    assert _file_totals(xlsx_rows) == expected


def test_a_regulator_of_another_region_sees_nothing(book):
    world, _ = book

    body = client_for(world.other_regulator).get(URL).json()

    assert body["loss_events"] == []
    assert body["totals"]["loss_events"] == 0
    assert body["totals"]["loss_amount"] == "0.00"
    assert body["fund"] == {
        "balance": "0.00",
        "top_ups": "0.00",
        "draws": "0.00",
        "recoveries": "0.00",
        "unfunded": "0.00",
    }
    rows = list(csv.reader(io.StringIO(
        b"".join(client_for(world.other_regulator).get(URL, {"format": "csv"}).streaming_content)
        .decode("utf-8-sig")
    )))  # fmt: skip
    assert len(rows) == 2  # the header and a totals row of zeros
    assert rows[1][8:] == ["0.00"] * 13


def test_the_platform_sees_everything_and_the_programme_filter_narrows(book):
    world, _ = book
    client = client_for(world.platform)

    everything = client.get(URL, {"period": "2025Q3"}).json()
    same = client.get(URL, {"period": "2025Q3", "program": world.program.pk}).json()
    none = client.get(URL, {"period": "2025Q3", "program": 999999}).json()

    assert everything["totals"]["loss_events"] == 2
    assert same == {**everything, "program": world.program.pk}
    assert (none["totals"]["loss_events"], none["fund"]["draws"]) == (0, "0.00")


@pytest.mark.parametrize("who", ["sme", "bank", "insurer"])
def test_only_regulators_and_the_platform_pull_the_report(book, who):
    world, _ = book
    response = client_for(getattr(world, who)).get(URL)
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "2025Q5"}, "period"),
        ({"period": "2025-13"}, "period"),
        ({"period": "Q3-2025"}, "period"),
        ({"period": "2025Q3", "format": "pdf"}, "format"),
        ({"period": "2025Q5", "format": "csv"}, "period"),
        ({"program": "wuhan"}, "program"),
        ({"program": "99999999999999999999999"}, "program"),
        ({"program": "\u0661"}, "program"),  # ARABIC-INDIC DIGIT ONE: a digit to isdigit(), not an id
    ],
)
def test_bad_period_format_or_programme_is_a_400_in_json(world, params, field):
    response = client_for(world.regulator).get(URL, params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert list(response.json()["fields"]) == [field]


def test_an_anonymous_caller_is_a_401(world):
    from rest_framework.test import APIClient

    assert APIClient().get(URL).status_code == 401


def test_the_query_count_does_not_grow_with_the_loss_events(book):
    # given the two losses, then a third
    world, _ = book
    client = client_for(world.regulator)

    def queries(fmt: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(URL, {"format": fmt})
            if fmt == "csv":
                b"".join(response.streaming_content)
        assert response.status_code == 200
        return len(captured)

    before = {fmt: queries(fmt) for fmt in ("json", "csv", "xlsx")}
    declare_default(another_loan(world, D("300000.00")))

    # then every format asks the same number of queries, whatever the number of rows
    assert {fmt: queries(fmt) for fmt in ("json", "csv", "xlsx")} == before
    # the user and its organisation, the rows, three totals (losses, recoveries, settlements), the fund
    assert before["json"] == 7


def test_every_regulator_of_the_region_sees_its_losses(book):
    # a regulator of Wuhan in another organisation sees the same losses
    colleague = make_user(OrganizationFactory(kind="regulator"))
    assert client_for(colleague).get(URL).json()["totals"]["loss_events"] == 2


def test_names_that_look_like_formulas_stay_text_in_the_files(book):
    # given an SME whose registered name starts like a spreadsheet formula
    world, _ = book
    sme = world.sme.organization
    sme.name = '=HYPERLINK("http://evil.example","x")'
    sme.save(update_fields=["name"])
    client = client_for(world.regulator)

    # when the report is pulled as CSV and XLSX
    as_csv = b"".join(client.get(URL, {"format": "csv"}).streaming_content).decode("utf-8-sig")
    sheet = load_workbook(io.BytesIO(b"".join(client.get(URL, {"format": "xlsx"}).streaming_content))).active

    # then the name is quoted text, never a formula
    assert list(csv.reader(io.StringIO(as_csv)))[1][2] == "'" + sme.name
    assert (sheet["C2"].value, sheet["C2"].data_type) == ("'" + sme.name, "s")
    # while JSON carries the name as registered
    assert client.get(URL).json()["loss_events"][0]["sme_name"] == sme.name
