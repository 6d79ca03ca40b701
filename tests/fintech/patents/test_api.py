"""POST/GET /api/v1/patents/ (API.md "SME side", DOMAIN.md sections 2 and 3)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from fintech.models import AuditLog, Patent, Patentee
from fintech.services.common import business_today
from tests.factories import make_patent_number
from tests.fintech.helpers import USCC_B, make_org, make_patent, make_sme, make_user, table_counts, uscc

URL = "/api/v1/patents/"

pytestmark = pytest.mark.django_db


def patent_body(owner: Any, **overrides: Any) -> dict[str, Any]:
    """An invention filed 2017-07-20 and granted 2019-03-01, owned by `owner` alone."""
    body: dict[str, Any] = {
        "application_number": "201710601862.3",
        "title": "Optical fibre coupler 光纤耦合器",
        "patent_type": "invention",
        "filing_date": "2017-07-20",
        "grant_date": "2019-03-01",
        "patentees": [{"name": owner.name, "uscc": owner.uscc}],
        "claims_count": 12,
    }
    body.update(overrides)
    return body


def _refused(client: Any, body: Any, status: int) -> dict[str, Any]:
    """Post a body that must be refused; assert the status, the error shape and that nothing changed."""
    before = table_counts()
    response = client.post(URL, body, format="json")
    assert response.status_code == status, response.content
    payload = response.json()
    assert set(payload) <= {"code", "message", "fields"}
    assert payload["code"] and payload["message"]
    assert table_counts() == before
    return payload


# --- registration --------------------------------------------------------------------------------


def test_register_patent_answers_the_stored_record(client_for, sme_user):
    # given an SME and its granted invention
    org = sme_user.organization

    # when it registers the patent
    response = client_for(sme_user).post(URL, patent_body(org), format="json")

    # then 201 with the canonical number, the computed expiry and the legal status
    assert response.status_code == 201, response.content
    patent = Patent.objects.get()
    body = response.json()
    created_at = body.pop("created_at")
    assert created_at
    assert body == {
        "id": patent.pk,
        "application_number": "201710601862.3",
        "title": "Optical fibre coupler 光纤耦合器",
        "patent_type": "invention",
        "filing_date": "2017-07-20",
        "grant_date": "2019-03-01",
        "claims_count": 12,
        "term_adjustment_days": 0,
        "expires_on": "2037-07-19",
        "status": "in_force",
        "owner": org.pk,
        "patentees": [
            {"name": org.name, "uscc": org.uscc, "pledge_consent_on": business_today().isoformat()}
        ],
        "external_id": "",
    }
    assert patent.owner == org
    assert patent.created_by == sme_user
    assert patent.expires_on == date(2037, 7, 19)


def test_register_patent_writes_one_audit_row(client_for, sme_user):
    # given an SME
    # when it registers a patent
    response = client_for(sme_user).post(URL, patent_body(sme_user.organization), format="json")

    # then one audit row records it
    assert response.status_code == 201
    row = AuditLog.objects.get()
    assert row.action == "patent.register"
    assert row.object_type == "fintech.patent"
    assert row.object_id == str(response.json()["id"])
    assert row.actor == sme_user
    assert row.actor_organization == sme_user.organization
    assert row.to_state == "in_force"
    assert row.payload == {"application_number": "201710601862.3", "patent_type": "invention"}


@pytest.mark.parametrize(
    ("typed", "canonical", "patent_type", "filing_date"),
    [
        ("CN201710601862.3", "201710601862.3", "invention", "2017-07-20"),
        ("ZL 2017 1060 1862.3", "201710601862.3", "invention", "2017-07-20"),
        ("2017106018623", "201710601862.3", "invention", "2017-07-20"),
        ("zl201710601862.3", "201710601862.3", "invention", "2017-07-20"),
        ("  201710601862.3  ", "201710601862.3", "invention", "2017-07-20"),
        ("202110100658.x", "202110100658.X", "invention", "2021-01-05"),
        ("cn 202110100658x", "202110100658.X", "invention", "2021-01-05"),
        ("201911304845.9", "201911304845.9", "invention", "2019-11-22"),
        ("ZL97101765.4", "97101765.4", "invention", "1997-02-03"),
        ("95115608x", "95115608.X", "invention", "1995-10-10"),
    ],
)
def test_register_patent_accepts_every_number_form_and_stores_it_canonical(
    client_for, sme_user, typed, canonical, patent_type, filing_date
):
    # given a valid number typed in one of the accepted forms
    body = patent_body(
        sme_user.organization,
        application_number=typed,
        patent_type=patent_type,
        filing_date=filing_date,
        grant_date=filing_date,
    )

    # when it is registered
    response = client_for(sme_user).post(URL, body, format="json")

    # then the canonical form is stored and answered
    assert response.status_code == 201, response.content
    assert response.json()["application_number"] == canonical
    assert Patent.objects.get().application_number == canonical


@pytest.mark.parametrize(
    "number",
    [
        "201910123456.7",  # DOMAIN.md: its check is X
        "201710601862.4",  # wrong check
        "201710601862",  # no check character
        "20171060186.3",  # 11 digits
        "2017106018623.3",  # 13 digits
        "201740601862.3",  # type digit 4
        "200210601862.3",  # a 12-digit number before 2003
        "97101765.5",  # legacy form, wrong check
        "04101765.4",  # legacy form, year 04
        "US201710601862.3",
        "201710601862.3.3",
        "２０１７１０６０１８６２.3",  # noqa: RUF001  (full-width digits, as typed with a Chinese IME)
        "",
    ],
)
def test_register_patent_refuses_an_invalid_number(client_for, sme_user, number):
    # given an invalid application number
    body = patent_body(sme_user.organization, application_number=number)

    # when it is registered, then 400 on application_number; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert list(payload["fields"]) == ["application_number"]


def test_register_patent_with_a_wrong_check_does_not_reveal_the_right_one(client_for, sme_user):
    # given DOMAIN.md's invalid example (its check is X)
    body = patent_body(sme_user.organization, application_number="201910123456.7", filing_date="2019-05-05")

    # when it is registered, then the message asks to re-type it and does not give the answer
    payload = _refused(client_for(sme_user), body, 400)
    message = payload["fields"]["application_number"][0]
    assert "check character" in message
    assert "X" not in message


@pytest.mark.parametrize(
    ("number", "patent_type"),
    [
        ("201710601862.3", "utility_model"),
        ("201710601862.3", "design"),
        (make_patent_number(2020, 2, 1), "invention"),
        (make_patent_number(2020, 3, 2), "utility_model"),
        (make_patent_number(2020, 8, 3), "design"),
    ],
)
def test_register_patent_refuses_a_type_the_number_contradicts(client_for, sme_user, number, patent_type):
    # given a number whose type digit is not the declared type
    filing = "2017-07-20" if number.startswith("2017") else "2020-03-03"
    body = patent_body(
        sme_user.organization,
        application_number=number,
        patent_type=patent_type,
        filing_date=filing,
        grant_date=filing,
    )

    # when it is registered, then 400 on patent_type; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert list(payload["fields"]) == ["patent_type"]


@pytest.mark.parametrize("patent_type", ["pct", "", "INVENTION", None])
def test_register_patent_refuses_an_unknown_type(client_for, sme_user, patent_type):
    # given a type that is not one of the three
    body = patent_body(sme_user.organization, patent_type=patent_type)

    # when it is registered, then 400 on patent_type
    payload = _refused(client_for(sme_user), body, 400)
    assert list(payload["fields"]) == ["patent_type"]


def test_register_patent_refuses_a_filing_year_the_number_contradicts(client_for, sme_user):
    # given a 2017 number filed, it says, in 2018
    body = patent_body(sme_user.organization, filing_date="2018-01-02", grant_date="2019-03-01")

    # when it is registered, then 400 on filing_date; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert payload["fields"] == {"filing_date": ["The application number says filing year 2017, not 2018."]}


def test_register_patent_refuses_a_grant_before_the_filing(client_for, sme_user):
    # given a grant date the day before the filing date
    body = patent_body(sme_user.organization, filing_date="2017-07-20", grant_date="2017-07-19")

    # when it is registered, then 400 on grant_date; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert payload["fields"] == {"grant_date": ["The grant date is before the filing date."]}


def test_register_patent_accepts_a_grant_on_the_filing_day(client_for, sme_user):
    # given a grant on the filing day (utility models can be granted fast)
    body = patent_body(sme_user.organization, grant_date="2017-07-20")

    # when it is registered, then it is accepted
    assert client_for(sme_user).post(URL, body, format="json").status_code == 201


def test_register_patent_refuses_a_future_grant_date(client_for, sme_user):
    # given a patent filed this year and "granted" tomorrow
    today = business_today()
    tomorrow = today + timedelta(days=1)
    number = make_patent_number(today.year, 1, 4242)
    body = patent_body(
        sme_user.organization,
        application_number=number,
        filing_date=today.isoformat(),
        grant_date=tomorrow.isoformat(),
    )

    # when it is registered, then 400 future_date on grant_date; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert payload["code"] == "future_date"
    assert list(payload["fields"]) == ["grant_date"]


def test_register_patent_refuses_a_future_filing_date(client_for, sme_user):
    # given a patent "filed" next year
    next_year = business_today().replace(month=1, day=5).replace(year=business_today().year + 1)
    number = make_patent_number(next_year.year, 1, 4243)
    body = patent_body(
        sme_user.organization,
        application_number=number,
        filing_date=next_year.isoformat(),
        grant_date=next_year.isoformat(),
    )

    # when it is registered, then 400 future_date on filing_date; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert payload["code"] == "future_date"
    assert list(payload["fields"]) == ["filing_date"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("filing_date", "2017-02-30"),
        ("filing_date", "20/07/2017"),
        ("grant_date", None),
        ("title", ""),
        ("claims_count", 0),
        ("claims_count", "many"),
        ("term_adjustment_days", -1),
        ("patentees", []),
        ("patentees", "me"),
        ("patentees", ["me"]),
    ],
)
def test_register_patent_refuses_malformed_fields(client_for, sme_user, field, value):
    # given one malformed field
    body = patent_body(sme_user.organization, **{field: value})

    # when it is registered, then 400 names that field; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert [key.split(".")[0] for key in payload["fields"]] == [field]


def test_register_patent_refuses_when_the_sme_is_not_a_patentee(client_for, sme_user):
    # given a patent whose only patentee is another enterprise
    body = patent_body(sme_user.organization, patentees=[{"name": "Someone Else", "uscc": USCC_B}])

    # when the SME registers it, then 400 patent_not_owned; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert payload["code"] == "patent_not_owned"
    assert payload["fields"] == {"patentees": ["Your enterprise must be one of the patentees."]}


def test_register_patent_refuses_a_number_already_registered_with_409(client_for, sme_user):
    # given the patent already registered by its SME
    org = sme_user.organization
    assert client_for(sme_user).post(URL, patent_body(org), format="json").status_code == 201

    # when a co-owner registers the same number in another form
    co_owner = make_sme()
    other = make_user(organization=co_owner)
    body = patent_body(
        org,
        application_number="CN2017106018623",
        patentees=[{"name": org.name, "uscc": org.uscc}, {"name": co_owner.name, "uscc": co_owner.uscc}],
    )
    payload = _refused(client_for(other), body, 409)

    # then 409 names the number
    assert payload["code"] == "already_registered"
    assert payload["fields"] == {"application_number": ["Already registered."]}


@pytest.mark.parametrize(
    ("patent_type", "filing", "expires"),
    [
        ("invention", "2020-04-01", "2040-03-31"),
        ("utility_model", "2020-02-29", "2030-02-28"),
        ("utility_model", "2020-03-01", "2030-02-28"),
        ("design", "2021-05-31", "2031-05-30"),
        ("design", "2021-06-01", "2036-05-31"),
    ],
)
def test_register_patent_computes_the_expiry(client_for, sme_user, patent_type, filing, expires):
    # given a patent of a type filed on a date
    digit = {"invention": 1, "utility_model": 2, "design": 3}[patent_type]
    number = make_patent_number(int(filing[:4]), digit, 777)
    body = patent_body(
        sme_user.organization,
        application_number=number,
        patent_type=patent_type,
        filing_date=filing,
        grant_date=filing,
    )

    # when it is registered
    response = client_for(sme_user).post(URL, body, format="json")

    # then the expiry is filing + term - 1 day, and it is in force
    assert response.status_code == 201, response.content
    assert response.json()["expires_on"] == expires
    assert response.json()["status"] == "in_force"


def test_register_patent_adds_term_adjustment_days(client_for, sme_user):
    # given an invention with 100 days of term adjustment
    body = patent_body(sme_user.organization, term_adjustment_days=100)

    # when it is registered, then the expiry moves by 100 days
    response = client_for(sme_user).post(URL, body, format="json")
    assert response.status_code == 201
    assert response.json()["expires_on"] == (date(2037, 7, 19) + timedelta(days=100)).isoformat()
    assert response.json()["term_adjustment_days"] == 100


def test_register_patent_whose_term_has_ended_is_expired(client_for, sme_user):
    # given an invention filed in 1997 (term ended 2017-02-02)
    body = patent_body(
        sme_user.organization,
        application_number="97101765.4",
        filing_date="1997-02-03",
        grant_date="1999-01-01",
    )

    # when it is registered, then it is recorded as expired
    response = client_for(sme_user).post(URL, body, format="json")
    assert response.status_code == 201
    assert (response.json()["expires_on"], response.json()["status"]) == ("2017-02-02", "expired")


def test_register_patent_lists_the_co_owners_in_order(client_for, sme_user):
    # given a patent co-owned with a university (listed first in the register)
    org = sme_user.organization
    university = uscc("12420100MA0000001")
    body = patent_body(
        org,
        patentees=[
            {"name": "Wuhan University 武汉大学", "uscc": university.lower()},
            {"name": org.name, "uscc": org.uscc},
        ],
    )

    # when the SME registers it
    response = client_for(sme_user).post(URL, body, format="json")

    # then both patentees are listed in order; only the SME's consent is recorded
    assert response.status_code == 201, response.content
    assert response.json()["patentees"] == [
        {"name": "Wuhan University 武汉大学", "uscc": university, "pledge_consent_on": None},
        {"name": org.name, "uscc": org.uscc, "pledge_consent_on": business_today().isoformat()},
    ]
    assert list(Patentee.objects.order_by("position").values_list("position", "uscc")) == [
        (1, university),
        (2, org.uscc),
    ]


@pytest.mark.parametrize("position", [0, 1])
def test_register_patent_refuses_a_patentee_with_a_bad_uscc(client_for, sme_user, position):
    # given a patentee whose USCC has a wrong check character
    org = sme_user.organization
    patentees = [{"name": org.name, "uscc": org.uscc}]
    patentees.insert(position, {"name": "Typo Co", "uscc": "91420100MA00090014"})
    body = patent_body(org, patentees=patentees)

    # when it is registered, then 400 names that patentee's USCC; nothing is written
    payload = _refused(client_for(sme_user), body, 400)
    assert list(payload["fields"]) == [f"patentees.{position}.uscc"]
    assert "check character" in payload["fields"][f"patentees.{position}.uscc"][0]


def test_register_patent_refuses_a_patentee_without_uscc(client_for, sme_user):
    # given a patentee without its code
    org = sme_user.organization
    body = patent_body(org, patentees=[{"name": org.name, "uscc": org.uscc}, {"name": "Nameless"}])

    # when it is registered, then 400 names the missing field
    payload = _refused(client_for(sme_user), body, 400)
    assert payload["fields"] == {"patentees.1.uscc": ["This field is required."]}


def test_register_patent_refuses_a_patentee_listed_twice(client_for, sme_user):
    # given the SME listed twice (once in lower case)
    org = sme_user.organization
    body = patent_body(
        org, patentees=[{"name": org.name, "uscc": org.uscc}, {"name": org.name, "uscc": org.uscc.lower()}]
    )

    # when it is registered, then 400 on patentees
    payload = _refused(client_for(sme_user), body, 400)
    assert list(payload["fields"]) == ["patentees"]


@pytest.mark.parametrize("kind", ["bank", "insurer", "appraiser", "regulator"])
def test_register_patent_by_a_non_sme_is_403(client_for, db, kind):
    # given a member of a bank (or another non-SME party) naming itself patentee
    user = make_user(organization=make_org(kind=kind))
    body = patent_body(user.organization)

    # when it registers a patent, then 403; nothing is written
    payload = _refused(client_for(user), body, 403)
    assert payload["code"] == "permission_denied"


def test_register_patent_anonymous_is_401(api, db):
    # given no credentials, when a patent is posted, then 401; nothing is written
    before = table_counts()
    assert api.post(URL, {}, format="json").status_code == 401
    assert table_counts() == before


# --- reading -------------------------------------------------------------------------------------


def test_sme_lists_only_its_own_patents(client_for, sme_user):
    # given a patent of the SME and one of another SME
    mine = make_patent(owner=sme_user.organization)
    make_patent(owner=make_sme())

    # when the SME lists its patents
    response = client_for(sme_user).get(URL)

    # then only its own is listed
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    assert [p["id"] for p in body["results"]] == [mine.pk]
    assert body["results"][0]["patentees"] == [
        {
            "name": sme_user.organization.name,
            "uscc": sme_user.organization.uscc,
            "pledge_consent_on": "2022-04-01",
        }
    ]


def test_sme_reads_its_own_patent(client_for, sme_user):
    # given a patent of the SME
    mine = make_patent(owner=sme_user.organization)

    # when it reads it, then 200 with the record
    response = client_for(sme_user).get(f"{URL}{mine.pk}/")
    assert response.status_code == 200
    assert response.json()["application_number"] == mine.application_number
    assert response.json()["expires_on"] == "2040-03-31"


def test_another_smes_patent_is_404(client_for, sme_user):
    # given a patent of another SME
    theirs = make_patent(owner=make_sme())

    # when the SME reads it, then 404 as if it did not exist
    response = client_for(sme_user).get(f"{URL}{theirs.pk}/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}
    assert client_for(sme_user).get(f"{URL}999999/").json() == response.json()


def test_a_bank_sees_no_patents_without_applications(client_for, bank_user):
    # given patents of SMEs and a bank with no application naming it
    patent = make_patent()

    # when the bank lists and reads them, then it sees none
    client = client_for(bank_user)
    assert client.get(URL).json()["count"] == 0
    assert client.get(f"{URL}{patent.pk}/").status_code == 404


def test_a_regulator_sees_the_patents_of_its_region(client_for, db):
    # given a Wuhan regulator, a Wuhan SME's patent and a Yichang SME's patent
    regulator = make_user(organization=make_org(kind="regulator", region_id="420100"))
    wuhan_patent = make_patent(owner=make_sme(region_id="420100"))
    make_patent(owner=make_sme(region_id="420500"))

    # when the regulator lists patents, then only its region's
    body = client_for(regulator).get(URL).json()
    assert [p["id"] for p in body["results"]] == [wuhan_patent.pk]


@pytest.mark.parametrize(
    ("number", "filing", "accepted"),
    [
        # ZC 0006-2003: 12-digit numbers from 2003-10-01, 8-digit numbers before.
        (make_patent_number(2003, 1, 9001), "2003-10-01", True),
        (make_patent_number(2003, 1, 9002), "2003-09-30", False),
        ("03100001.{}", "2003-09-30", True),
        ("03100002.{}", "2003-10-01", False),
    ],
)
def test_register_patent_number_form_must_match_the_filing_date(
    client_for, sme_user, number, filing, accepted
):
    # given a 2003 number in the 12-digit or the legacy 8-digit form, and a filing date around the switch
    from fintech.rules.identifiers import patent_check_character

    if "{}" in number:
        number = number.format(patent_check_character(number[:8]))
    body = patent_body(
        sme_user.organization, application_number=number, filing_date=filing, grant_date=filing
    )

    # when it is registered
    if accepted:
        # then the form that was in use on that date is accepted
        assert client_for(sme_user).post(URL, body, format="json").status_code == 201
    else:
        # then the other form is refused on filing_date; nothing is written
        payload = _refused(client_for(sme_user), body, 400)
        assert list(payload["fields"]) == ["filing_date"]
        assert "cannot have been filed on" in payload["fields"]["filing_date"][0]


def test_the_patent_list_costs_the_same_queries_for_3_or_30_patents(client_for, sme_user):
    # given an SME with 3 co-owned patents
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def add(n: int) -> None:
        for _ in range(n):
            patent = make_patent(owner=sme_user.organization)
            Patentee.objects.create(patent=patent, position=2, name="Co-owner", uscc=USCC_B)

    client = client_for(sme_user)
    add(3)
    with CaptureQueriesContext(connection) as few:
        assert client.get(URL).json()["count"] == 3

    # when it has 30
    add(27)
    with CaptureQueriesContext(connection) as many:
        body = client.get(URL).json()

    # then listing them costs the same number of queries (no query per row)
    assert body["count"] == 30
    assert all(len(p["patentees"]) == 2 for p in body["results"])
    assert len(many) == len(few)
