"""The regulator dashboard's risk-pool screen (admin): loss events, recoveries and the fund per
quarter, and the risk-pool report's loss events, each with its table and downloads.

The book is test_report.py's (figures worked there by hand):
- 2025-06-01 top-up 200,000.00 (2025Q2);
- 2025-07-01 two defaults (2025Q3): losses 1,014,000.00 + 506,999.99 = 1,520,999.99, shared
  507,000.00 + 253,499.99 = 760,499.99 / 304,200.00 + 152,100.00 = 456,300.00 /
  202,800.00 + 101,400.00 = 304,200.00; the fund draws 456,300.00;
- 2025-08-15 recovery 100,000.03 = 50,000.01 / 30,000.01 / 20,000.01 (2025Q3);
- 2025-10-10 recovery 50,000.05 = 25,000.03 / 15,000.01 / 10,000.01 (2025Q4).
Fund balance: end of Q2 200,000.00; Q3 200,000.00 - 456,300.00 + 30,000.01 = -226,299.99; Q4
-226,299.99 + 15,000.01 = -211,299.98, and so on to today (no more movements).
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from fintech.models import User
from fintech.selectors.risk_pool import quarters_between
from fintech.services.common import business_today
from tests.factories import OrganizationFactory

from .helpers import client_for, make_user
from .test_report import book  # noqa: F401  (the hand-built book, as a fixture)

pytestmark = pytest.mark.django_db

PAGE = "/admin/fintech/regulatordashboard/risk-pool/"
DOWNLOAD = "/admin/fintech/regulatordashboard/risk-pool/download/"


def admin_client(user: User) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def csv_rows(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.content
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))


def charts(response: Any) -> dict[str, dict[str, Any]]:
    return {c["id"].removeprefix("chart-"): c for c in response.context["charts"]}


def test_the_quarters_from_the_first_movement_to_today(book):  # noqa: F811
    world, _ = book

    response = admin_client(world.regulator).get(PAGE)

    assert response.status_code == 200
    drawn = charts(response)
    assert set(drawn) == {"loss-events", "recoveries", "fund"}
    quarters = [q.label for q in quarters_between(date(2025, 6, 1), business_today())]
    assert quarters[:3] == ["2025Q2", "2025Q3", "2025Q4"]
    for chart in drawn.values():
        assert chart["labels"] == quarters
    # loss events: the shares of the two Q3 defaults, stacked insurer / government fund / bank
    shares = [d["data"][:3] for d in drawn["loss-events"]["datasets"]]
    assert shares == [[0, 760499.99, 0], [0, 456300.0, 0], [0, 304200.0, 0]]
    # recoveries received: Q3 and Q4, each party's part
    parts = [d["data"][:3] for d in drawn["recoveries"]["datasets"]]
    assert parts == [[0, 50000.01, 25000.03], [0, 30000.01, 15000.01], [0, 20000.01, 10000.01]]
    # the fund: balance at each quarter's end (a line), top-ups, draws and recoveries (bars)
    balance, top_ups, draws, recovered = drawn["fund"]["datasets"]
    assert balance["type"] == "line"
    assert balance["data"][:3] == [200000.0, -226299.99, -211299.98]
    assert set(balance["data"][3:]) <= {-211299.98}
    assert (top_ups["data"][:3], draws["data"][:3], recovered["data"][:3]) == (
        [200000.0, 0, 0],
        [0, 456300.0, 0],
        [0, 30000.01, 15000.01],
    )
    # the headline: two loss events, 1,520,999.99 lost, 150,000.08 recovered, the fund today
    assert response.context["headline"] == [
        ("Loss events", "2"),
        ("Losses", "1,520,999.99"),
        ("Recovered", "150,000.08"),
        ("Fund balance", "-211,299.98"),
        ("Unfunded", "211,299.98"),
    ]


def test_downloads_per_quarter(book):  # noqa: F811
    world, _ = book
    client = admin_client(world.regulator)

    losses = csv_rows(client.get(f"{DOWNLOAD}loss-events.csv?period=2025Q3"))
    recoveries = csv_rows(client.get(f"{DOWNLOAD}recoveries.csv"))
    fund = csv_rows(client.get(f"{DOWNLOAD}fund.csv?period=2025Q3"))

    assert losses == [
        ["quarter", "loss events", "loss (CNY)", "insurer share (CNY)", "government share (CNY)",
         "bank share (CNY)"],
        ["2025Q3", "2", "1520999.99", "760499.99", "456300.00", "304200.00"],
        ["Total", "2", "1520999.99", "760499.99", "456300.00", "304200.00"],
    ]  # fmt: skip
    assert recoveries[0] == [
        "quarter", "insurer part (CNY)", "government part (CNY)", "bank part (CNY)", "total (CNY)",
    ]  # fmt: skip
    assert recoveries[1:4] == [
        ["2025Q2", "0.00", "0.00", "0.00", "0.00"],
        ["2025Q3", "50000.01", "30000.01", "20000.01", "100000.03"],
        ["2025Q4", "25000.03", "15000.01", "10000.01", "50000.05"],
    ]
    # 75,000.04 + 45,000.02 + 30,000.02 = 150,000.08 in all
    assert recoveries[-1] == ["Total", "75000.04", "45000.02", "30000.02", "150000.08"]
    assert fund == [
        ["quarter", "top-ups (CNY)", "draws (CNY)", "recoveries (CNY)", "balance at the end (CNY)",
         "unfunded at the end (CNY)"],
        ["2025Q3", "0.00", "456300.00", "30000.01", "-226299.99", "226299.99"],
    ]  # fmt: skip


def test_the_report_download_is_the_apis_report(book):  # noqa: F811
    world, second = book
    client = admin_client(world.regulator)

    page = client.get(PAGE, {"period": "2025Q3"})
    mine = csv_rows(client.get(f"{DOWNLOAD}risk-pool.csv?period=2025Q3"))
    api = client_for(world.regulator).get("/api/v1/reports/risk-pool/", {"period": "2025Q3", "format": "csv"})

    # the same file as the API's, byte for byte in its rows
    assert mine == list(csv.reader(io.StringIO(b"".join(api.streaming_content).decode("utf-8-sig"))))
    assert mine[-1][0] == "TOTAL" and mine[-1][8] == "1520999.99"
    # and the page's table shows the two loss events and their totals (recovered 100,000.03 by
    # 2025-09-30, all on loan 1)
    html = page.content.decode()
    assert "1,014,000.00" in html and "506,999.99" in html and "100,000.03" in html
    workbook = client.get(f"{DOWNLOAD}risk-pool.xlsx?period=2025Q3")
    rows = list(
        load_workbook(io.BytesIO(b"".join(workbook.streaming_content))).active.iter_rows(values_only=True)
    )
    assert [r[0] for r in rows[1:]] == [world.loan.pk, second.loan.pk, "TOTAL"]


def test_the_bank_filter_keeps_its_losses_and_the_whole_fund(book):  # noqa: F811
    world, _ = book
    client = admin_client(world.regulator)
    other_bank = OrganizationFactory(kind="bank")

    mine = charts(client.get(PAGE, {"period": "2025Q3", "bank": world.bank.organization_id}))
    other = charts(client.get(PAGE, {"period": "2025Q3", "bank": other_bank.pk}))

    assert mine["loss-events"]["datasets"][0]["data"] == [760499.99]
    assert other["loss-events"]["datasets"][0]["data"] == [0]
    assert other["recoveries"]["datasets"][0]["data"] == [0]
    # the fund is the programme's: the bank filter leaves it whole
    assert other["fund"]["datasets"][0]["data"] == [-226299.99]


def test_the_insurer_is_refused(book):  # noqa: F811
    world, _ = book

    page = admin_client(world.insurer).get(PAGE)
    file = admin_client(world.insurer).get(f"{DOWNLOAD}risk-pool.csv")

    assert (page.status_code, file.status_code) == (403, 403)
    assert "The regulator dashboard is for regulators" in page.content.decode()


def test_platform_staff_see_the_dashboard(book):  # noqa: F811
    world, _ = book
    platform = make_user(world.platform.organization, is_staff=True)

    response = admin_client(platform).get(PAGE, {"period": "2025Q3"})

    assert response.status_code == 200
    assert charts(response)["loss-events"]["datasets"][1]["data"] == [456300.0]
