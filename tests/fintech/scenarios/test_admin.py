"""The regulator's scenario screens: the start form calls the same service as the API; the result
page draws the histogram and the forecast with the project's Chart.js, with tables and downloads;
only regulators (and platform staff) see the screens, and only their programmes' scenarios."""

from __future__ import annotations

from datetime import date

import pytest
from django.test import Client

from fintech.models import Scenario
from fintech.services import scenarios as services
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory, wuhan_program
from tests.fintech.subsidies.helpers import INTEREST_ONLY, pay, regulator_org

pytestmark = pytest.mark.django_db

ADMIN = "/admin/fintech/scenario/"


@pytest.fixture(autouse=True)
def _as_of(monkeypatch):
    monkeypatch.setattr(services, "business_today", lambda: date(2025, 6, 30))


def browser(user):
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def form(**extra):
    return {
        "program": wuhan_program().pk,
        "name": "bad year",
        "horizon_months": 6,
        "paths": 500,
        "seed": 3,
        "pd_a": "0.01",
        "pd_b": "0.03",
        "pd_c": "0.06",
        "recovery_rate": "0.30",
        "correlation": "0.15",
        "insurer_share": "0.50",
        "government_share": "0.30",
        "bank_share": "0.20",
        "what_if_shares": "0.60:0.20:0.20, 0.45:0.30:0.25",
        "benchmark_path": "2025-09-20 0.0290",
        **extra,
    }


def test_a_regulator_starts_a_scenario_and_sees_charts_tables_and_downloads(
    django_capture_on_commit_callbacks,
):
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2025, 1, 15), valuation_on=date(2025, 1, 5)
    )
    pay(loan, people, [1, 2, 3, 4, 5])
    user = UserFactory(organization=regulator_org(), is_staff=True)
    client = browser(user)
    page = client.get(f"{ADMIN}add/")
    assert page.status_code == 200 and b"Observed in the book" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(f"{ADMIN}add/", form())
    scenario = Scenario.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"/{scenario.pk}/change/")
    scenario.refresh_from_db()
    assert scenario.status == "computed"
    assert scenario.parameters["benchmark"] == {
        "mode": "path",
        "path": [{"effective_on": "2025-09-20", "rate": "0.029"}],
    }
    assert [s["shares"] for s in scenario.results["what_if"]] == [
        {"insurer": "0.60", "government": "0.20", "bank": "0.20"},
        {"insurer": "0.45", "government": "0.30", "bank": "0.25"},
    ]
    page = client.get(f"{ADMIN}{scenario.pk}/change/")
    html = page.content.decode()
    assert 'src="/static/fintech/vendor/chartjs-4.6.2/chart.umd.min.js"' in html
    assert 'id="scenario-histogram"' in html and 'id="scenario-forecast"' in html
    assert "0.50:0.30:0.20" in html and "0.60:0.20:0.20" in html and "0.45:0.30:0.25" in html
    # the forecast with the entered benchmark, 2.90 % from 20 September (1,000,000 x rate-days / 360
    # x 25 %): Q3 unchanged at 625.00 + 645.83 + 645.83 = 1,916.66 (#8 ends 15 September); Q4 #9
    # 15 Sep-15 Oct = 5 days at 3.00 % + 25 at 2.90 % = 0.875 -> 607.64, #10 31 days at 2.90 % =
    # 0.899 -> 624.31, #11 30 days = 0.87 -> 604.17: 1,836.12
    assert [(r["period"], r["interest_subsidy"]) for r in scenario.forecast] == [
        ("2025Q3", "1916.66"),
        ("2025Q4", "1836.12"),
    ]
    assert "1836.12" in html
    r = client.get(f"{ADMIN}{scenario.pk}/download/forecast.csv")
    assert r.status_code == 200 and b"".join(r.streaming_content).decode("utf-8-sig").startswith("period,")


def test_the_form_shows_the_service_errors_and_creates_nothing():
    client = browser(UserFactory(organization=regulator_org(), is_staff=True))
    r = client.post(f"{ADMIN}add/", form(bank_share="0.30", what_if_shares="0.6:0.2:0.3"))
    assert r.status_code == 200
    assert b"The shares must sum to 1" in r.content
    assert Scenario.objects.count() == 0


def test_other_roles_and_regions_do_not_see_the_screens(django_capture_on_commit_callbacks):
    user = UserFactory(organization=regulator_org(), is_staff=True)
    with django_capture_on_commit_callbacks(execute=True):
        browser(user).post(f"{ADMIN}add/", form())
    scenario = Scenario.objects.get()
    bank = UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True)
    assert browser(bank).get(ADMIN).status_code == 403
    assert browser(bank).get(f"{ADMIN}add/").status_code == 403
    assert browser(bank).get(f"{ADMIN}{scenario.pk}/download/results.csv").status_code == 403
    elsewhere = UserFactory(organization=regulator_org("420200"), is_staff=True)
    assert browser(elsewhere).get(f"{ADMIN}{scenario.pk}/change/").status_code == 404
    assert browser(elsewhere).get(f"{ADMIN}{scenario.pk}/download/results.csv").status_code == 404
