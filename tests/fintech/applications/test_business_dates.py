"""Submission and approval carry the business date the caller supplies (API.md "Conventions": past
dates are normal, future ones refused, the flow's order kept); today when none is given."""

from __future__ import annotations

from datetime import date, timedelta

from fintech.models import Application, Loan

from .helpers import (
    World,
    advance,
    approve_body,
    create_application,
    refused,
    register_patent,
    snapshot,
    today,
)


def test_a_back_dated_submission_keeps_its_business_date(world: World) -> None:
    # given a draft application
    app = create_application(world, [register_patent(world.sme)["id"]])
    # when the SME submits it with the date it was filed on paper
    r = world.sme.client.post(
        f"/api/v1/applications/{app['id']}/submit/", {"submitted_on": "2025-01-10"}, format="json"
    )
    # then it is submitted as of that date
    assert r.status_code == 200, r.content
    assert Application.objects.get(pk=app["id"]).submitted_on == date(2025, 1, 10)


def test_a_submission_without_a_date_is_dated_today(world: World) -> None:
    app = create_application(world, [register_patent(world.sme)["id"]])
    r = world.sme.client.post(f"/api/v1/applications/{app['id']}/submit/", format="json")
    assert r.status_code == 200, r.content
    assert Application.objects.get(pk=app["id"]).submitted_on == today()


def test_a_submission_dated_tomorrow_is_400_and_changes_nothing(world: World) -> None:
    app = create_application(world, [register_patent(world.sme)["id"]])
    before = snapshot()
    tomorrow = (today() + timedelta(days=1)).isoformat()
    r = world.sme.client.post(
        f"/api/v1/applications/{app['id']}/submit/", {"submitted_on": tomorrow}, format="json"
    )
    body = refused(r, 400)
    assert body["code"] == "future_date"
    assert list(body["fields"]) == ["submitted_on"]
    assert snapshot() == before


def test_a_back_dated_approval_keeps_its_business_date(world: World) -> None:
    # given an application valued on 2025-02-01 with its policy issued
    case = advance(world, "bank_review", valued_on="2025-02-01")
    # when the bank approves it as of 2025-02-05
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/approve/",
        {**approve_body(), "approved_on": "2025-02-05"},
        format="json",
    )
    # then the loan is approved as of that date
    assert r.status_code == 201, r.content
    assert r.json()["loan"]["approved_on"] == "2025-02-05"
    assert Loan.objects.get(pk=r.json()["loan"]["id"]).approved_on == date(2025, 2, 5)


def test_an_approval_before_the_valuation_is_400_and_changes_nothing(world: World) -> None:
    case = advance(world, "bank_review", valued_on="2025-02-01")
    before = snapshot()
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/approve/",
        {**approve_body(), "approved_on": "2025-01-31"},
        format="json",
    )
    body = refused(r, 400)
    assert body["code"] == "dates_out_of_order"
    assert body["fields"] == {"approved_on": ["Not before 2025-02-01."]}
    assert snapshot() == before
