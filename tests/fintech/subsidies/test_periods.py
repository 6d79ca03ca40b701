"""A subsidy run needs a period that has ended (its last day before today): before that, some of
its installments are not due yet and a run would be approved and reported short. The API answers
400 `period_not_ended`, the admin shows the same message on the period, and nothing is written.
A preview (API and admin) computes the figures so far with the run's own SQL and saves nothing.

Figures of the June 2024 loan (tests/fintech/subsidies/test_interest.py, by hand): 2024Q3 #1 718.75,
#2 735.76, #3 721.18, 2,175.69 in all, three interest entitlements."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from fintech.errors import PeriodNotEnded
from fintech.models import AuditLog, SubsidyEntitlement, SubsidyRun
from fintech.services import subsidies as services
from tests.builders import active_loan
from tests.factories import UserFactory, wuhan_program

from .helpers import INTEREST_ONLY, D, pay, regulator_org

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/subsidy-runs/"


@pytest.fixture
def today(monkeypatch):
    """Set the business date the run's period is compared with."""

    def set_to(day: date) -> None:
        monkeypatch.setattr(services, "business_today", lambda: day)

    return set_to


@pytest.fixture
def june_loan():
    # the June 2024 loan with #1-#3 (due 2024-07-01, 08-01, 09-01) paid on their due dates
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    return loan


def nothing_written() -> bool:
    return not (
        SubsidyRun.objects.exists()
        or SubsidyEntitlement.objects.exists()
        or AuditLog.objects.filter(action__startswith="subsidy_run").exists()
    )


@pytest.mark.parametrize("day", [date(2024, 7, 1), date(2024, 9, 29), date(2024, 9, 30)])
def test_a_run_of_a_period_that_has_not_ended_is_refused(regulators, today, june_loan, day):
    # given today is inside 2024Q3, up to and including its last day 2024-09-30
    today(day)

    # when a regulator starts 2024Q3 (outside a request: the message in English, as asked)
    with translation.override("en"), pytest.raises(PeriodNotEnded) as refused:
        services.subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3")

    # then the period is refused, naming the first day a run may start, and nothing is written
    assert refused.value.fields["period"] == [
        "The period 2024Q3 has not ended: it runs to 2024-09-30, so a run may start from 2024-10-01 "
        f"(today is {day.isoformat()}). A preview shows the figures so far without saving them."
    ]
    assert nothing_written()


def test_a_future_period_is_refused_too(regulators, today):
    today(date(2024, 9, 30))
    with pytest.raises(PeriodNotEnded):
        services.subsidy_run_start(actor=regulators.starter, program_id=wuhan_program().pk, period="2025Q1")
    assert nothing_written()


def test_a_run_starts_the_day_after_the_period_ends(
    regulators, today, june_loan, django_capture_on_commit_callbacks
):
    # given today is 2024-10-01, the first day after 2024Q3
    today(date(2024, 10, 1))

    # when a regulator starts 2024Q3
    with django_capture_on_commit_callbacks(execute=True):
        run = services.subsidy_run_start(
            actor=regulators.starter, program_id=wuhan_program().pk, period="2024Q3"
        )

    # then it computes the quarter's 2,175.69
    run.refresh_from_db()
    assert (run.status, run.interest_total, run.entitlements_count) == ("computed", D("2175.69"), 3)


def test_the_api_refuses_an_unended_period_with_400_in_the_error_shape(
    regulators, today, june_loan, client_for
):
    today(date(2024, 9, 30))
    r = client_for(regulators.starter).post(
        RUNS, {"program": wuhan_program().pk, "period": "2024Q3"}, format="json", HTTP_ACCEPT_LANGUAGE="en"
    )
    assert r.status_code == 400, r.content
    body = r.json()
    assert body["code"] == "period_not_ended"
    assert body["fields"]["period"][0].startswith("The period 2024Q3 has not ended: it runs to 2024-09-30")
    assert nothing_written()

    # and in Chinese for a Chinese client, the whole body in one language
    r = client_for(regulators.starter).post(
        RUNS,
        {"program": wuhan_program().pk, "period": "2024Q3"},
        format="json",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert r.json()["message"].startswith(
        "期间 2024Q3 尚未结束：截至 2024-09-30，最早可于 2024-10-01 启动计算"  # noqa: RUF001
    )


def test_the_preview_shows_the_figures_so_far_and_writes_nothing(regulators, today, june_loan, client_for):
    # given today is the quarter's last day (a run would be refused)
    today(date(2024, 9, 30))

    # when a regulator previews 2024Q3
    r = client_for(regulators.starter).get(
        f"{RUNS}preview/", {"program": wuhan_program().pk, "period": "2024Q3"}
    )

    # then the three installments' 718.75 + 735.76 + 721.18 = 2,175.69 are shown, not ended
    assert r.status_code == 200, r.content
    assert r.json() == {
        "program": wuhan_program().pk,
        "period": "2024Q3",
        "period_start": "2024-07-01",
        "period_end": "2024-09-30",
        "ended": False,
        "interest_total": "2175.69",
        "premium_total": "0.00",
        "total_amount": "2175.69",
        "entitlements_count": 3,
        "capped_count": 0,
    }
    # and nothing was written
    assert nothing_written()


def test_the_preview_is_for_regulators_only(today, client_for):
    today(date(2024, 9, 30))
    bank = UserFactory(organization__kind="bank")
    r = client_for(bank).get(f"{RUNS}preview/", {"program": wuhan_program().pk, "period": "2024Q3"})
    assert r.status_code == 403
    assert nothing_written()


# --- the admin -----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _admin_static(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture
def staff_regulator():
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(UserFactory(organization=regulator_org(), is_staff=True))
    return client


def test_the_admin_refuses_an_unended_period_on_the_form(staff_regulator, today, june_loan):
    today(date(2024, 9, 30))
    r = staff_regulator.post(
        "/admin/fintech/subsidyrun/add/",
        {"program": wuhan_program().pk, "period": "2024Q3", "_submit": "Start"},
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert (
        "The period 2024Q3 has not ended: it runs to 2024-09-30, so a run may start from 2024-10-01" in page
    )
    assert nothing_written()


def test_the_admin_preview_shows_the_figures_and_writes_nothing(staff_regulator, today, june_loan):
    today(date(2024, 9, 30))
    r = staff_regulator.post(
        "/admin/fintech/subsidyrun/add/",
        {"program": wuhan_program().pk, "period": "2024Q3", "_preview": "Preview"},
    )
    assert r.status_code == 200
    page = r.content.decode()
    assert "<th>interest subsidies</th><td>2,175.69</td>" in page
    assert "<th>entitlements</th><td>3</td>" in page
    assert "not ended: a run is refused until 2024-10-01" in page
    assert nothing_written()


# --- the run's page: parameters readable, the chunk engine for platform staff only ---------------


def test_a_regulator_reads_the_runs_parameters_and_no_chunk_counters(
    regulators, june_loan, compute, staff_regulator
):
    run = compute("2024Q3")
    page = staff_regulator.get(f"/admin/fintech/subsidyrun/{run.pk}/change/").content.decode()
    assert "<tr><th>interest subsidy rate</th><td>25 %</td></tr>" in page
    assert "<tr><th>premium subsidy rate</th><td>40 %</td></tr>" in page
    assert "chunk_size" not in page and "&quot;" not in page
    assert "Chunks" not in page and "chunks total" not in page.lower()
    listing = staff_regulator.get("/admin/fintech/subsidyrun/").content.decode()
    assert "field-progress" not in listing
    assert '<td class="field-interest_total">2,175.69</td>' in listing


def test_platform_staff_see_the_chunks(regulators, june_loan, compute):
    run = compute("2024Q3")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(UserFactory(organization__kind="platform", is_staff=True))
    listing = client.get("/admin/fintech/subsidyrun/").content.decode()
    assert '<td class="field-progress">1/1</td>' in listing
    assert client.get(f"/admin/fintech/subsidyrun/{run.pk}/change/").status_code == 200
