"""Every business date the API takes lies in a sane window (issue 10, hole 4): not before the first
day the rule book can speak of (rules.dates), never in the future, 400 in the error shape otherwise,
and nothing written."""

from __future__ import annotations

from datetime import date, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from fintech.models import AuditLog, CloseRun, FundMovement, Patent
from fintech.rules.dates import PATENT_LAW_IN_FORCE, PROGRAMME_EPOCH, date_window_problem
from tests.factories import make_patent_number
from tests.fintech.risk_pool.helpers import active_world, client_for, risk_snapshot

pytestmark = pytest.mark.django_db


def test_the_window_of_business_dates():
    today = date(2026, 1, 10)
    assert date_window_problem(today, today=today) is None
    assert date_window_problem(PROGRAMME_EPOCH, today=today) is None
    assert date_window_problem(PROGRAMME_EPOCH - timedelta(days=1), today=today) == "early"
    assert date_window_problem(date(1, 1, 1), today=today) == "early"
    assert date_window_problem(today + timedelta(days=1), today=today) == "future"
    assert date_window_problem(PATENT_LAW_IN_FORCE, today=today, earliest=PATENT_LAW_IN_FORCE) is None


@pytest.mark.parametrize("received_on", ["0001-01-01", "1900-01-01", "2015-10-23"])
def test_a_fund_top_up_dated_before_the_programme_epoch_is_refused(received_on):
    world = active_world()
    before = risk_snapshot()

    response = client_for(world.regulator).post(
        "/api/v1/risk-fund/top-ups/",
        {"program": world.program.pk, "amount": "1.00", "received_on": received_on},
        format="json",
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "date_out_of_range"
    assert body["fields"] == {"received_on": ["A business date may not lie before 2015-10-24."]}
    assert risk_snapshot() == before
    assert not FundMovement.objects.exists()


def test_a_fund_top_up_on_the_epoch_is_accepted():
    world = active_world()
    response = client_for(world.regulator).post(
        "/api/v1/risk-fund/top-ups/",
        {"program": world.program.pk, "amount": "1.00", "received_on": "2015-10-24"},
        format="json",
    )
    assert response.status_code == 201, response.json()


@pytest.mark.parametrize(("filing", "grant"), [("1985-03-31", "1987-01-01"), ("0001-01-01", "2000-01-01")])
def test_a_patent_filed_before_the_patent_law_is_refused(filing, grant):
    world = active_world()
    before = (Patent.objects.count(), AuditLog.objects.count())

    response = client_for(world.sme).post(
        "/api/v1/patents/",
        {
            "application_number": make_patent_number(2003, 1, 9901),
            "patent_type": "invention",
            "title": "Old",
            "filing_date": filing,
            "grant_date": grant,
            "patentees": [{"name": world.sme.organization.name, "uscc": world.sme.organization.uscc}],
        },
        format="json",
    )

    assert response.status_code == 400, response.json()
    assert response.json()["code"] == "date_out_of_range"
    assert response.json()["fields"] == {"filing_date": ["A business date may not lie before 1985-04-01."]}
    assert (Patent.objects.count(), AuditLog.objects.count()) == before


@pytest.mark.parametrize(
    ("as_of", "code"),
    [("0001-01-01", "date_out_of_range"), ("2015-10-23", "date_out_of_range"), ("tomorrow", "future_date")],
)
def test_a_report_date_outside_the_window_is_refused(as_of, code):
    world = active_world()
    if as_of == "tomorrow":
        as_of = (timezone.localdate() + timedelta(days=1)).isoformat()

    response = client_for(world.regulator).get(f"/api/v1/reports/trial-balance/?as_of={as_of}")

    assert response.status_code == 400
    assert response.json()["code"] == code
    assert list(response.json()["fields"]) == ["as_of"]


@pytest.mark.django_db(transaction=True)
def test_close_day_refuses_a_date_before_the_epoch_and_writes_nothing():
    with pytest.raises(CommandError, match="may not lie before 2015-10-24"):
        call_command("close_day", "--as-of", "2000-01-01", stdout=StringIO())
    assert not CloseRun.objects.exists()
