"""The scenario endpoints (API.md "Scenarios (regulator)"): a regulator starts a scenario on a
live book, reads its results and forecast, downloads them; other roles are refused; bad
parameters are 400s that create nothing; the stored result never changes."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from fintech.models import AuditLog, Scenario
from fintech.services import scenarios as services
from tests.builders import active_loan
from tests.factories import OrganizationFactory, SmeFactory, UserFactory, wuhan_program
from tests.fintech.subsidies.helpers import INTEREST_ONLY, pay, regulator, regulator_org

pytestmark = pytest.mark.django_db

URL = "/api/v1/scenarios/"
D = Decimal
AS_OF = date(2025, 6, 30)


@pytest.fixture(autouse=True)
def _as_of(monkeypatch):
    # The scenario's as-of date is the business date it starts on; fix it to 30 June 2025.
    monkeypatch.setattr(services, "business_today", lambda: AS_OF)


@pytest.fixture
def book():
    """1,000,000 interest-only at 4.5 % from 2025-01-15 for 12 months, #1-#5 paid on time."""
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2025, 1, 15), valuation_on=date(2025, 1, 5)
    )
    pay(loan, people, [1, 2, 3, 4, 5])
    return loan


@pytest.fixture
def start(client_for, django_capture_on_commit_callbacks):
    def post(user, body):
        with django_capture_on_commit_callbacks(execute=True):
            return client_for(user).post(URL, body, format="json")

    return post


def body(**extra):
    return {
        "program": wuhan_program().pk,
        "horizon_months": 6,
        "paths": 1000,
        "seed": 5,
        "pd_by_grade": {"A": "0.01", "B": "0.03", "C": "0.06"},
        "recovery_rate": "0.30",
        "correlation": "0.15",
        **extra,
    }


def test_a_regulator_runs_a_scenario_and_reads_the_figures(book, start, client_for):
    user = regulator()
    # when the regulator starts a 6-month scenario with a 6:2:2 what-if
    r = start(user, body(what_if_shares=[{"insurer": "0.6", "government": "0.2", "bank": "0.2"}]))
    # then 202, computed in process (no broker), every path done
    assert r.status_code == 202, r.json()
    got = client_for(user).get(f"{URL}{r.json()['id']}/").json()
    assert (got["status"], got["paths_done"], got["paths_total"], got["as_of"]) == (
        "computed",
        1000,
        1000,
        "2025-06-30",
    )
    # the parameters are stored as entered, with the programme's shares and subsidy terms
    assert got["parameters"]["shares"] == {"insurer": "0.50", "government": "0.30", "bank": "0.20"}
    assert got["parameters"]["recovery_rate"] == "0.30"
    assert got["book"]["loans"] == 1
    assert got["book"]["exposure"] == "1000000.00"
    # the figures per party add up for the expected loss (each path split to the fen)
    el = got["results"]["expected_loss"]
    assert D(el["insurer"]) + D(el["government"]) + D(el["bank"]) - D(el["total"]) in (
        D("-0.01"),
        D(0),
        D("0.01"),
    )
    assert got["results"]["what_if"][0]["shares"] == {"insurer": "0.60", "government": "0.20", "bank": "0.20"}
    assert got["results"]["what_if"][0]["expected_loss"]["total"] == el["total"]
    assert sum(b["paths"] for b in got["results"]["histogram"]) == 1000
    # the forecast per quarter (hand-worked in test_engine: 1,916.66 and 1,895.83 on time)
    assert [(f["period"], f["interest_subsidy"]) for f in got["forecast"]] == [
        ("2025Q3", "1916.66"),
        ("2025Q4", "1895.83"),
    ]
    # the transitions are audited: start, running, computed
    actions = list(
        AuditLog.objects.filter(action__startswith="scenario.")
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["scenario.start", "scenario.running", "scenario.computed"]


def test_the_same_seed_gives_the_same_result_and_a_past_result_never_moves(book, start, client_for):
    user = regulator()
    one = client_for(user).get(f"{URL}{start(user, body()).json()['id']}/").json()
    two = client_for(user).get(f"{URL}{start(user, body()).json()['id']}/").json()
    assert one["status"] == "computed" and one["results"]
    assert one["results"] == two["results"] and one["forecast"] == two["forecast"]
    # a redelivered task finds the scenario computed and changes nothing
    services.scenario_compute(one["id"])
    assert Scenario.objects.get(pk=one["id"]).results == one["results"]


def test_downloads_csv_and_xlsx(book, start, client_for):
    user = regulator()
    scenario_id = start(user, body()).json()["id"]
    r = client_for(user).get(f"{URL}{scenario_id}/download/?table=forecast&format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode("utf-8-sig"))))
    assert rows[0][:3] == ["period", "interest_subsidy", "premium_subsidy"]
    assert [row[:2] for row in rows[1:]] == [["2025Q3", "1916.66"], ["2025Q4", "1895.83"]]
    r = client_for(user).get(f"{URL}{scenario_id}/download/?table=results&format=xlsx")
    sheet = load_workbook(io.BytesIO(b"".join(r.streaming_content))).active
    header, first = [c.value for c in sheet[1]], [c.value for c in sheet[2]]
    assert header == ["shares", "measure", "insurer", "government", "bank", "total"]
    assert first[:2] == ["0.50:0.30:0.20", "expected_loss"]
    r = client_for(user).get(f"{URL}{scenario_id}/download/?table=nope&format=csv")
    assert (r.status_code, r.json()["fields"]) == (
        400,
        {"table": ["表须为以下之一：results, forecast, histogram。"]},  # noqa: RUF001
    )


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"shares": {"insurer": "0.5", "government": "0.3", "bank": "0.3"}}, "shares"),
        ({"what_if_shares": [{"insurer": "0.45", "government": "0.30", "bank": "0.20"}]}, "what_if_shares.0"),
        ({"pd_by_grade": {"A": "1.5", "B": "0.03", "C": "0.06"}}, "pd_by_grade.A"),
        ({"pd_by_grade": {"A": "0.01"}}, "pd_by_grade"),
        ({"recovery_rate": "1e-1"}, "recovery_rate"),
        ({"correlation": "1"}, "correlation"),
        ({"paths": 10}, "paths"),
        ({"horizon_months": 0}, "horizon_months"),
        ({"seed": -1}, "seed"),
        ({"pd_by_industry": {"mining": {"A": "0.02"}}}, "pd_by_industry.mining"),
        (
            {"benchmark": {"mode": "path", "path": [{"effective_on": "2025-01-01", "rate": "0.03"}]}},
            "benchmark.path.0.effective_on",
        ),
        ({"program": 999999}, "program"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_field_and_create_nothing(book, start, extra, field):
    r = start(regulator(), body(**extra))
    assert r.status_code == 400, r.json()
    assert field in r.json()["fields"], r.json()
    assert set(r.json()) >= {"code", "message", "fields"}
    assert Scenario.objects.count() == 0


def test_an_idempotency_key_replays_the_start(book, client_for, django_capture_on_commit_callbacks):
    user = regulator()
    with django_capture_on_commit_callbacks(execute=True):
        one = client_for(user).post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="stress-1")
        two = client_for(user).post(URL, body(), format="json", HTTP_IDEMPOTENCY_KEY="stress-1")
    assert (one.status_code, two.status_code) == (202, 202)
    assert one.json()["id"] == two.json()["id"]
    assert Scenario.objects.count() == 1


def test_45_30_25_what_if_is_accepted(book, start):
    r = start(regulator(), body(what_if_shares=[{"insurer": "0.45", "government": "0.30", "bank": "0.25"}]))
    assert r.status_code == 202


def test_roles_and_regions(book, start, client_for, api):
    user = regulator()
    scenario_id = start(user, body()).json()["id"]
    # other roles: 403 on the list, the record and the start
    for kind in ("sme", "bank", "insurer", "appraiser"):
        org = SmeFactory() if kind == "sme" else OrganizationFactory(kind=kind)
        other = UserFactory(organization=org, is_staff=True)
        assert client_for(other).get(URL).status_code == 403
        assert client_for(other).get(f"{URL}{scenario_id}/").status_code == 403
        assert start(other, body()).status_code == 403
    # a regulator of another region: not served by the programme, so 404 and an empty list
    elsewhere = regulator(regulator_org("420200"))
    assert client_for(elsewhere).get(f"{URL}{scenario_id}/").status_code == 404
    assert (
        client_for(elsewhere).get(f"{URL}{scenario_id}/download/?table=results&format=csv").status_code == 404
    )
    assert client_for(elsewhere).get(URL).json()["count"] == 0
    assert start(elsewhere, body()).status_code == 400
    # platform staff see it
    platform = UserFactory(organization=OrganizationFactory(kind="platform"), is_staff=True)
    assert client_for(platform).get(f"{URL}{scenario_id}/").status_code == 200
    # anonymous: 401
    assert api.get(URL).status_code == 401


@pytest.mark.postgres
def test_postgresql_refuses_to_change_or_delete_a_computed_scenario(book, start, client_for):
    from django.db import DatabaseError, transaction

    scenario_id = start(regulator(), body()).json()["id"]
    assert Scenario.objects.get(pk=scenario_id).status == "computed"
    with pytest.raises(DatabaseError, match="may not change"), transaction.atomic():
        Scenario.objects.filter(pk=scenario_id).update(results={})
    with pytest.raises(DatabaseError, match="may not change"), transaction.atomic():
        Scenario.objects.filter(pk=scenario_id).delete()
