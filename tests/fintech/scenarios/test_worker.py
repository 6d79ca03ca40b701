"""A scenario computed by a real Celery worker through the Redis broker (needs CELERY_BROKER_URL
and PostgreSQL; skipped otherwise, never under CI): the worker moves it pending -> running ->
computed with every path counted, and its figures equal those of the same parameters computed in
process (a fixed seed reproduces across processes)."""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import Scenario
from fintech.services import scenarios as services
from tests import celery_worker as harness
from tests.builders import active_loan
from tests.factories import wuhan_program
from tests.fintech.subsidies.helpers import INTEREST_ONLY, pay, regulator

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

queue = harness.queue
workers = harness.workers
through_the_broker = harness.through_the_broker

PARAMETERS = {
    "horizon_months": 6,
    "paths": 2000,
    "seed": 99,
    "what_if_shares": [{"insurer": "0.6", "government": "0.2", "bank": "0.2"}],
}


@pytest.fixture
def book(monkeypatch):
    monkeypatch.setattr(services, "business_today", lambda: date(2025, 6, 30))
    for _ in range(2):
        loan, people = active_loan(
            method=INTEREST_ONLY, disbursed_on=date(2025, 1, 15), valuation_on=date(2025, 1, 5)
        )
        pay(loan, people, [1, 2, 3, 4, 5])


def test_a_scenario_computed_by_a_real_worker_matches_the_in_process_result(
    book, workers, through_the_broker
):
    user = regulator()
    worker = workers()
    scenario = services.scenario_start(actor=user, program_id=wuhan_program().pk, raw=PARAMETERS)
    worker.wait_for(
        lambda: (
            Scenario.objects.values_list("status", flat=True).get(pk=scenario.pk) in ("computed", "failed")
        ),
        "the scenario to be computed",
    )
    by_worker = Scenario.objects.get(pk=scenario.pk)
    assert (by_worker.status, by_worker.paths_done, by_worker.paths_total) == ("computed", 2000, 2000)
    # the same parameters in process
    local = Scenario.objects.create(
        program=by_worker.program,
        as_of=by_worker.as_of,
        parameters=by_worker.parameters,
        book={"fund_balance": by_worker.book["fund_balance"], "observed_recovery_rate": None},
        paths_total=2000,
        started_by=user,
    )
    services.scenario_compute(local.pk)
    local.refresh_from_db()
    assert local.status == "computed"
    assert (local.results, local.forecast) == (by_worker.results, by_worker.forecast)
