"""Eligibility at submission and at pledge time (DOMAIN.md sections 3 and 4): the SME, its region,
the patents' legal status and remaining term, pledges and co-owners, the programme."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from fintech.models import Application, Organization, Patent, Patentee, Program
from fintech.rules.schedules import add_months
from fintech.services.patents import patent_status_set, patentee_consent_record
from tests.factories import make_uscc

from .helpers import (
    World,
    advance,
    create_application,
    make_party,
    pledge,
    refused,
    register_patent,
    snapshot,
    submit,
    today,
)


def _submit(world: World, app_id: int) -> Any:
    return world.sme.client.post(f"/api/v1/applications/{app_id}/submit/", format="json")


def test_sme_whose_figures_now_make_it_large_is_400(world: World) -> None:
    # given a draft of a software company that has since grown to 450 employees and revenue
    # 150,000,000.00 (software_it: an SME has fewer than 300 employees OR revenue under 100 million)
    case = advance(world, "draft")
    Organization.objects.filter(pk=world.sme.id).update(employees=450, annual_revenue=Decimal("150000000.00"))
    before = snapshot()
    # when it submits
    r = _submit(world, case.application)
    # then
    assert refused(r, 400) == {
        "code": "not_an_sme",
        "message": "software_it: an SME has fewer than 300 employees or revenue under 100,000,000.00 CNY;"
        " the applicant has 450 employees and revenue of 150,000,000.00 CNY, so it is not an SME"
        " (不属于中小微企业).",
    }
    assert snapshot() == before


def test_sme_at_the_ceiling_on_one_count_only_is_still_an_sme(world: World) -> None:
    # given 450 employees but revenue of 99,999,999.99: below one of the ceilings, so still an SME
    case = advance(world, "draft")
    Organization.objects.filter(pk=world.sme.id).update(employees=450, annual_revenue=Decimal("99999999.99"))
    # when it submits
    body = submit(world, case.application)
    # then
    assert body["status"] == "valuation"


def test_region_not_served_is_400(world: World) -> None:
    # given an SME registered in Huangshi (420200) applying to the Wuhan programme (serves 420100)
    hs = make_party("sme", region="420200")
    huangshi = World(
        program=world.program,
        sme=hs,
        bank=world.bank,
        insurer=world.insurer,
        appraiser=world.appraiser,
        regulator=world.regulator,
    )
    case = advance(huangshi, "draft")
    before = snapshot()
    # when it submits
    r = _submit(huangshi, case.application)
    # then
    assert refused(r, 400) == {
        "code": "not_eligible",
        "message": "Programme wuhan does not serve region 420200.",
        "fields": {"program": ["Your region is not served by this programme."]},
    }
    assert snapshot() == before


@pytest.mark.parametrize(
    ("status", "label"),
    [
        ("lapsed", "Lapsed (annual fee unpaid)"),
        ("invalidated", "Invalidated"),
        ("preserved", "Under preservation"),
        ("disputed", "Ownership dispute"),
        ("waived", "Waived"),
    ],
)
def test_patent_not_in_force_is_400(world: World, status: str, label: str) -> None:
    # given a draft whose patent the platform has since marked as not in force
    case = advance(world, "draft")
    patent = Patent.objects.get(pk=case.patents[0])
    patent_status_set(actor=None, patent=patent, status=status, reason="CNIPA gazette")
    before = snapshot()
    # when the SME submits
    r = _submit(world, case.application)
    # then
    number = patent.application_number
    assert refused(r, 400) == {
        "code": "patent_not_eligible",
        "message": f"Patent {number} is {label}, not in force.",
        "fields": {"patents": [f"{number} is not in force."]},
    }
    assert snapshot() == before


def _utility_model_expiring(world: World, expires: date) -> dict:
    """A utility model (10-year term: expiry = filing + 10 years - 1 day) expiring on `expires`."""
    filed = (expires + timedelta(days=1)).replace(year=expires.year - 9 - 1)
    patent = register_patent(
        world.sme, patent_type="utility_model", filing_date=filed, grant_date=filed + timedelta(days=300)
    )
    assert patent["expires_on"] == expires.isoformat()
    return patent


def test_not_enough_remaining_term_is_400(world: World) -> None:
    # given a patent expiring the day before today + 24 months (the Wuhan minimum remaining term)
    needed = add_months(today(), 24)
    patent = _utility_model_expiring(world, needed - timedelta(days=1))
    app = create_application(world, [patent["id"]])
    before = snapshot()
    # when the SME submits
    r = _submit(world, app["id"])
    # then
    number = patent["application_number"]
    assert refused(r, 400) == {
        "code": "patent_not_eligible",
        "message": f"Patent {number} expires on {needed - timedelta(days=1)}; the programme needs 24 months"
        f" of remaining term (until {needed}).",
        "fields": {"patents": [f"{number}: not enough remaining term."]},
    }
    assert snapshot() == before


def test_exactly_the_minimum_remaining_term_is_enough(world: World) -> None:
    # given a patent expiring on today + 24 months
    patent = _utility_model_expiring(world, add_months(today(), 24))
    app = create_application(world, [patent["id"]])
    # when the SME submits
    body = submit(world, app["id"])
    # then
    assert body["status"] == "valuation"


def test_patent_under_an_active_pledge_is_409(world: World) -> None:
    # given a disbursed loan whose pledge stays active after the loan defaulted (the pledge is released
    # only when the claim is closed), so its application is no longer open
    first = advance(world, "active")
    Application.objects.filter(pk=first.application).update(status="defaulted")
    second = create_application(world, first.patents)
    before = snapshot()
    # when the SME submits a new application pledging the same patent
    r = _submit(world, second["id"])
    # then
    number = Patent.objects.get(pk=first.patents[0]).application_number
    assert refused(r, 409) == {
        "code": "patent_already_pledged",
        "message": f"Patent {number} is already under an active pledge.",
    }
    assert snapshot() == before


def test_patent_offered_in_another_open_application_is_409(world: World) -> None:
    # given a submitted application for a patent, and a draft for the same patent
    first = advance(world, "valuation")
    second = create_application(world, first.patents)
    before = snapshot()
    # when the SME submits the draft
    r = _submit(world, second["id"])
    # then
    number = Patent.objects.get(pk=first.patents[0]).application_number
    assert refused(r, 409) == {
        "code": "patent_already_pledged",
        "message": f"Patent {number} is already offered in another open application.",
    }
    assert snapshot() == before


def test_patent_of_a_withdrawn_application_may_be_offered_again(world: World) -> None:
    # given an application withdrawn during its valuation
    first = advance(world, "valuation")
    r = world.sme.client.post(f"/api/v1/applications/{first.application}/withdraw/", format="json")
    assert r.status_code == 200, r.content
    # when the SME submits a new application for the same patent
    second = create_application(world, first.patents)
    # then
    assert submit(world, second["id"])["status"] == "valuation"


def test_co_owned_patent_without_the_co_owners_consent_is_409_at_pledge_time(world: World) -> None:
    # given a patent co-owned with a university whose consent is not recorded: submission is fine
    co_owner = {"name": "Huazhong University", "uscc": make_uscc(777)}
    patent = register_patent(world.sme, co_owners=(co_owner,))
    case = advance(world, "approved", patents=[patent["id"]], premium_paid=True)
    assert case.loan is not None
    before = snapshot()
    # when the bank registers the pledge
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/pledge/",
        {"registration_number": "Y2025420000321", "registered_on": "2025-02-12"},
        format="json",
    )
    # then
    assert refused(r, 409) == {
        "code": "co_owner_consent_missing",
        "message": f"Patent {patent['application_number']}: every co-owner must consent to the pledge.",
    }
    assert snapshot() == before
    # and once the co-owner's consent is recorded the pledge goes through
    patentee_consent_record(
        actor=None, patentee=Patentee.objects.get(uscc=co_owner["uscc"]), consent_on=date(2025, 2, 11)
    )
    assert pledge(world, case.loan, registered_on="2025-02-12")["patents"] == [patent["id"]]


def test_patent_lapsed_before_the_pledge_is_400(world: World) -> None:
    # given an approved loan whose patent lapsed after approval
    case = advance(world, "approved", premium_paid=True)
    patent = Patent.objects.get(pk=case.patents[0])
    patent_status_set(actor=None, patent=patent, status="lapsed", reason="annual fee unpaid")
    before = snapshot()
    # when the bank registers the pledge
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/pledge/",
        {"registration_number": "Y2025420000322", "registered_on": "2025-02-12"},
        format="json",
    )
    # then
    assert refused(r, 400) == {
        "code": "patent_not_eligible",
        "message": f"Patent {patent.application_number} is not in force.",
    }
    assert snapshot() == before


def test_programme_inactive_is_409(world: World) -> None:
    # given a draft, and the Wuhan programme since suspended
    case = advance(world, "draft")
    Program.objects.filter(pk=world.program.pk).update(is_active=False)
    before = snapshot()
    # when the SME submits
    r = _submit(world, case.application)
    # then
    assert refused(r, 409) == {
        "code": "program_suspended",
        "message": "Programme wuhan is not taking new applications.",
    }
    assert snapshot() == before
