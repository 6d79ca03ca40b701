"""The regulator dashboard's subsidy screen (admin): subsidies by period and by region, the pipeline
by status, each with its table and its CSV / XLSX download, narrowed by the filters; the API's
report grouped by period and narrowed the same way; who may open the screen.

The book is test_reports.py's (figures worked there by hand): Q3 2024 interest 5,805.89 and premium
2,000.00 over three loans of three Wuhan SMEs:
- Bank One / Insurer One: SME A 2,175.69 interest; SME B 2,175.69 interest + 2,000.00 premium
  (its 3-month loan settled on 2024-09-01);
- Bank Two / Insurer Two: SME C 1,454.51 interest.
Each application asked for 1,000,000.00: A and C are active, B is settled.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from fintech.models import User
from tests.factories import OrganizationFactory, UserFactory

from .test_reports import book  # noqa: F401  (the hand-built book, as a fixture)

pytestmark = pytest.mark.django_db

DASHBOARD = "/admin/fintech/regulatordashboard/"


def admin_client(user: User) -> Client:
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def download(client: Client, figure: str, fmt: str, query: str = "") -> Any:
    response = client.get(f"{DASHBOARD}subsidies/download/{figure}.{fmt}{query}")
    assert response.status_code == 200, response.content
    return response


def csv_rows(response: Any) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def xlsx_rows(response: Any) -> list[tuple[Any, ...]]:
    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active
    return list(sheet.iter_rows(values_only=True))


def chart(response: Any, key: str) -> dict[str, Any]:
    charts = {c["id"]: c for c in response.context["charts"]}
    return charts[f"chart-{key}"]


def test_the_screen_shows_each_figure_as_chart_table_and_downloads(book, regulators):  # noqa: F811
    client = admin_client(regulators.starter)

    response = client.get(DASHBOARD)

    assert response.status_code == 200
    html = response.content.decode()
    # the three charts, their data in the json_script block, drawn by the static script
    for key in ("subsidies-by-period", "subsidies-by-region", "pipeline"):
        assert f'id="chart-{key}"' in html
        assert f"{DASHBOARD}subsidies/download/{key}.csv" in html
        assert f"{DASHBOARD}subsidies/download/{key}.xlsx" in html
    assert 'id="dashboard-charts"' in html and "fintech/dashboard.js" in html
    assert "<script>" not in html.replace('<script id="dashboard-charts" type="application/json">', "")
    # subsidies by period: interest and premium stacked, in CNY
    by_period = chart(response, "subsidies-by-period")
    assert by_period["labels"] == ["2024Q3"]
    assert [d["data"] for d in by_period["datasets"]] == [[5805.89], [2000.0]]
    assert chart(response, "subsidies-by-region")["labels"] == ["Wuhan"]
    # the pipeline: every status of the flow after the draft, in order; A and C active, B settled
    pipeline = chart(response, "pipeline")
    assert pipeline["labels"] == [
        "Valuation", "Underwriting", "Bank review", "Approved", "Active (disbursed)", "Settled",
        "Defaulted", "Declined", "Withdrawn",
    ]  # fmt: skip
    assert pipeline["datasets"][0]["data"] == [0, 0, 0, 0, 2, 1, 0, 0, 0]
    # the tables show the same figures, grouped, with their totals
    assert "5,805.89" in html and "7,805.89" in html and "2,000,000.00" in html
    # headline: all subsidies, then interest and premium, applications in progress, loans running
    assert response.context["headline"] == [
        ("Subsidies", "7,805.89"),
        ("Interest subsidy", "5,805.89"),
        ("Premium subsidy", "2,000.00"),
        ("Applications in progress", "0"),
        ("Loans running", "2"),
    ]


def test_downloads_carry_the_tables_rows_in_csv_and_xlsx(book, regulators):  # noqa: F811
    client = admin_client(regulators.starter)

    # by period: one row and the total (money as plain numbers, two places)
    assert csv_rows(download(client, "subsidies-by-period", "csv")) == [
        ["period", "interest subsidy (CNY)", "premium subsidy (CNY)", "total (CNY)", "loans", "SMEs"],
        ["2024Q3", "5805.89", "2000.00", "7805.89", "3", "3"],
        # (a loan counts in each period it has subsidies in: no total of loans or SMEs)
        ["Total", "5805.89", "2000.00", "7805.89", "", ""],
    ]
    # by region, as a workbook: money cells are numbers
    rows = xlsx_rows(download(client, "subsidies-by-region", "xlsx"))
    assert rows[1] == ("Wuhan", 5805.89, 2000, 7805.89, 3, 3)
    # the pipeline: count and amount requested per status; 3 x 1,000,000.00 in all
    pipeline = csv_rows(download(client, "pipeline", "csv"))
    assert pipeline[0] == ["status", "applications", "amount requested (CNY)"]
    assert ["Active (disbursed)", "2", "2000000.00"] in pipeline
    assert ["Settled", "1", "1000000.00"] in pipeline
    assert pipeline[-1] == ["Total", "3", "3000000.00"]
    # the file is named after the figure and the period
    response = download(client, "subsidies-by-period", "csv", "?period=2024Q3")
    assert response["Content-Disposition"] == 'attachment; filename="subsidies-by-period-2024Q3.csv"'


def test_filters_narrow_every_figure(book, regulators):  # noqa: F811
    client = admin_client(regulators.starter)

    # Bank Two: only SME C's 1,454.51 and its one active application
    response = client.get(DASHBOARD, {"bank": book.bank2.pk})
    assert [d["data"] for d in chart(response, "subsidies-by-period")["datasets"]] == [[1454.51], [0.0]]
    assert chart(response, "pipeline")["datasets"][0]["data"] == [0, 0, 0, 0, 1, 0, 0, 0, 0]
    # Insurer One: 2,175.69 x 2 = 4,351.38 interest and the 2,000.00 premium subsidy
    rows = csv_rows(download(client, "subsidies-by-region", "csv", f"?insurer={book.insurer1.pk}"))
    assert rows[1] == ["Wuhan", "4351.38", "2000.00", "6351.38", "2", "2"]
    # a quarter without entitlements: no rows, an empty chart, and the page says so
    response = client.get(DASHBOARD, {"period": "2024Q4"})
    assert chart(response, "subsidies-by-period")["labels"] == []
    assert "No figures for these filters." in response.content.decode()
    # a malformed period: the form says what to write, no figures are drawn
    response = client.get(DASHBOARD, {"period": "Q3"})
    assert response.status_code == 200
    assert response.context["charts"] == []
    assert "Write a quarter like 2025Q3 or a month like 2025-07." in response.content.decode()
    bad = client.get(f"{DASHBOARD}subsidies/download/pipeline.csv?period=Q3")
    assert bad.status_code == 400


def test_the_api_report_groups_by_period_and_takes_the_same_filters(book, client_for, regulators):  # noqa: F811
    api = client_for(regulators.starter)

    rows = api.get("/api/v1/reports/subsidies/", {"group_by": "period", "bank": book.bank1.pk}).json()

    assert rows == [
        {
            "group_id": "2024Q3",
            "group": "2024Q3",
            "interest_amount": "4351.38",
            "premium_amount": "2000.00",
            "total_amount": "6351.38",
            "clawback_amount": "0.00",  # no repayment of theirs was reversed
            "net_amount": "6351.38",
            "loans": 2,
            "enterprises": 2,
        }
    ]
    bad = api.get("/api/v1/reports/subsidies/", {"group_by": "period", "bank": "one"})
    assert bad.status_code == 400 and "bank" in bad.json()["fields"]


def test_other_regions_regulators_see_nothing_of_wuhan(book, regulators):  # noqa: F811
    huangshi = UserFactory(organization=OrganizationFactory(kind="regulator", region_id="420200"))

    response = admin_client(huangshi).get(DASHBOARD)

    assert response.status_code == 200
    assert chart(response, "subsidies-by-period")["labels"] == []
    assert chart(response, "pipeline")["datasets"][0]["data"] == [0] * 9
    assert response.context["headline"][0] == ("Subsidies", "0.00")


@pytest.mark.parametrize("kind", ["bank", "insurer", "appraiser"])
def test_other_members_are_refused_with_an_admin_page(book, kind):  # noqa: F811
    member = UserFactory(organization=OrganizationFactory(kind=kind))
    client = admin_client(member)

    page = client.get(DASHBOARD)
    file = client.get(f"{DASHBOARD}subsidies/download/pipeline.csv")

    assert page.status_code == 403 and file.status_code == 403
    assert page["Content-Type"].startswith("text/html")
    assert "The regulator dashboard is for regulators" in page.content.decode()
    # and the menu does not offer it
    assert DASHBOARD not in client.get("/admin/").content.decode()
