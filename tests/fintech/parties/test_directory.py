"""The public directory (/organizations/) and the programmes (/programs/), with pagination."""

from __future__ import annotations

import pytest

from fintech.models import Organization, OrganizationKind, Program, Region
from tests.factories import make_uscc
from tests.fintech.helpers import make_org, make_sme

ORGS = "/api/v1/organizations/"
PROGRAMS = "/api/v1/programs/"

pytestmark = pytest.mark.django_db


def _org_json(org: Organization) -> dict[str, object]:
    return {
        "id": org.pk,
        "name": org.name,
        "kind": org.kind,
        "uscc": org.uscc,
        "region_code": org.region_id,
        "external_id": org.external_id,
    }


@pytest.fixture
def cast(db):
    """One organisation of every kind, plus an inactive bank."""
    return {
        "bank": make_org(kind="bank", name="B Bank"),
        "insurer": make_org(kind="insurer", name="I Insurer"),
        "appraiser": make_org(kind="appraiser", name="A Appraiser", external_id="AP-7"),
        "regulator": make_org(kind="regulator", name="R Regulator"),
        "platform": make_org(kind="platform", name="P Platform"),
        "sme": make_sme(name="S Sme"),
        "closed_bank": make_org(kind="bank", name="Closed Bank", is_active=False),
    }


def test_directory_lists_banks_insurers_and_appraisers_only(client_for, sme_user, cast):
    # given organisations of every kind
    # when an SME reads the directory
    response = client_for(sme_user).get(ORGS)

    # then only active banks, insurers and appraisers are listed (by kind, then name)
    assert response.status_code == 200
    assert response.json() == {
        "count": 3,
        "next": None,
        "previous": None,
        "results": [_org_json(cast["appraiser"]), _org_json(cast["bank"]), _org_json(cast["insurer"])],
    }


@pytest.mark.parametrize("kind", ["bank", "insurer", "appraiser"])
def test_directory_filters_by_kind(client_for, sme_user, cast, kind):
    # given organisations of every kind
    # when the directory is filtered by a kind
    response = client_for(sme_user).get(ORGS, {"kind": kind})

    # then only that kind is listed
    assert response.status_code == 200
    assert response.json()["results"] == [_org_json(cast[kind])]


@pytest.mark.parametrize("kind", ["sme", "regulator", "platform", "banks", "BANK"])
def test_directory_refuses_a_kind_outside_the_directory(client_for, sme_user, cast, kind):
    # given organisations of every kind
    # when the directory is filtered by a kind it does not list
    response = client_for(sme_user).get(ORGS, {"kind": kind})

    # then 400 names the parameter
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["fields"] == {"kind": [f'"{kind}" is not a valid choice.']}


def test_directory_treats_an_empty_kind_as_absent(client_for, sme_user, cast):
    # given organisations of every kind
    # when the directory is filtered by an empty kind (a form submitted blank)
    response = client_for(sme_user).get(ORGS, {"kind": ""})

    # then the whole directory is listed
    assert response.status_code == 200
    assert response.json()["count"] == 3


def test_directory_needs_authentication(api, cast):
    # given no credentials, when the directory is read, then 401
    assert api.get(ORGS).status_code == 401


def _banks(n: int) -> None:
    Organization.objects.bulk_create(
        Organization(
            kind=OrganizationKind.BANK, name=f"Bank {i:04d}", uscc=make_uscc(500000 + i), region_id="420100"
        )
        for i in range(n)
    )


def test_directory_pages_by_50_by_default(client_for, sme_user):
    # given 120 banks
    _banks(120)
    client = client_for(sme_user)

    # when the first, second and last pages are read
    first = client.get(ORGS).json()
    second = client.get(ORGS, {"page": 2}).json()
    third = client.get(ORGS, {"page": 3}).json()

    # then pages hold 50, 50 and 20 rows with links between them
    assert first["count"] == 120
    assert len(first["results"]) == 50
    assert first["previous"] is None
    assert first["next"] == "http://testserver/api/v1/organizations/?page=2"
    assert [r["name"] for r in second["results"]] == [f"Bank {i:04d}" for i in range(50, 100)]
    assert second["previous"] == "http://testserver/api/v1/organizations/"
    assert second["next"] == "http://testserver/api/v1/organizations/?page=3"
    assert len(third["results"]) == 20
    assert third["next"] is None


def test_directory_page_size_is_capped_at_200(client_for, sme_user):
    # given 250 banks
    _banks(250)
    client = client_for(sme_user)

    # when a page of 1000 is asked
    capped = client.get(ORGS, {"page_size": 1000}).json()
    # and a page of 7
    small = client.get(ORGS, {"page_size": 7}).json()

    # then at most 200 come back, and a smaller size is honoured
    assert capped["count"] == 250
    assert len(capped["results"]) == 200
    assert capped["next"] == "http://testserver/api/v1/organizations/?page=2&page_size=1000"
    assert len(small["results"]) == 7


@pytest.mark.parametrize("page_size", ["0", "-1", "abc"])
def test_directory_ignores_a_nonsense_page_size(client_for, sme_user, page_size):
    # given 60 banks
    _banks(60)

    # when a nonsense page size is asked, then the default of 50 applies
    body = client_for(sme_user).get(ORGS, {"page_size": page_size}).json()
    assert len(body["results"]) == 50


def test_directory_page_past_the_end_is_404_in_the_error_shape(client_for, sme_user):
    # given 3 banks
    _banks(3)

    # when page 2 is asked, then 404 in the error shape
    response = client_for(sme_user).get(ORGS, {"page": 2})
    assert response.status_code == 404
    assert set(response.json()) == {"code", "message"}
    assert response.json()["code"] == "not_found"


def test_programs_show_the_wuhan_programme_with_every_domain_default(client_for, sme_user):
    # given the Wuhan programme loaded by the data migration
    wuhan = Program.objects.get(code="wuhan")

    # when the programmes are read
    response = client_for(sme_user).get(PROGRAMS)

    # then every parameter has its DOMAIN.md default, money and rates as strings
    assert response.status_code == 200
    body = response.json()
    assert (body["count"], body["next"], body["previous"]) == (1, None, None)
    assert body["results"] == [
        {
            "id": wuhan.pk,
            "code": "wuhan",
            "name": "武汉知识产权质押融资 (Wuhan patent-pledge financing)",
            "is_active": True,
            "regions": ["420100"],
            "insurer_share": "0.50",
            "government_share": "0.30",
            "bank_share": "0.20",
            "loss_threshold_amount": None,
            "interest_subsidy_rate": "0.25",
            "premium_subsidy_rate": "0.40",
            "subsidy_period": "quarter",
            "benchmark_mode": "daily",
            "forfeit_after_late": False,
            "annual_subsidy_cap": "500000.00",
            "loan_cap": "5000000.00",
            "min_term_months": 1,
            "max_term_months": 36,
            "premium_rate_min": "0.005",
            "premium_rate_max": "0.03",
            "min_remaining_patent_months": 24,
            "valuation_validity_months": 12,
            "pledge_rate_a": "0.50",
            "pledge_rate_b": "0.40",
            "pledge_rate_c": "0.30",
            "grace_days": 0,
            "default_days_past_due": 90,
        }
    ]
    # and the detail endpoint answers the same record
    detail = client_for(sme_user).get(f"{PROGRAMS}{wuhan.pk}/")
    assert detail.status_code == 200
    assert detail.json() == body["results"][0]


def test_programs_show_other_cities_numbers_exactly(client_for, sme_user):
    # given a Shanghai-like programme (45:30:25, 50 % premium subsidy, loss threshold)
    from decimal import Decimal

    program = Program.objects.create(
        code="shanghai",
        name="Shanghai",
        insurer_share=Decimal("0.45"),
        government_share=Decimal("0.30"),
        bank_share=Decimal("0.25"),
        premium_subsidy_rate=Decimal("0.5"),
        interest_subsidy_rate=Decimal("0.2345"),
        loss_threshold_amount=Decimal("12345678.9"),
    )

    # when it is read
    body = client_for(sme_user).get(f"{PROGRAMS}{program.pk}/").json()

    # then the numbers come back as written, money with two places
    assert (body["insurer_share"], body["government_share"], body["bank_share"]) == ("0.45", "0.30", "0.25")
    assert body["premium_subsidy_rate"] == "0.50"
    assert body["interest_subsidy_rate"] == "0.2345"
    assert body["loss_threshold_amount"] == "12345678.90"
    assert body["regions"] == []


def test_program_detail_unknown_is_404(client_for, sme_user):
    # given no programme 999999, when it is read, then 404 in the error shape
    response = client_for(sme_user).get(f"{PROGRAMS}999999/")
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_the_directory_and_programmes_cost_the_same_queries_for_any_page_size(client_for, sme_user):
    # given 120 banks and 3 programmes serving two regions each
    from decimal import Decimal

    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _banks(120)
    for code in ("a", "b"):
        program = Program.objects.create(code=code, name=code, insurer_share=Decimal("0.5"))
        program.regions.set(Region.objects.filter(code__in=["420100", "420500"]))
    client = client_for(sme_user)

    # when pages of 5 and of 100 are read
    with CaptureQueriesContext(connection) as small:
        client.get(ORGS, {"page_size": 5})
        client.get(PROGRAMS, {"page_size": 1})
    with CaptureQueriesContext(connection) as large:
        client.get(ORGS, {"page_size": 100})
        client.get(PROGRAMS, {"page_size": 100})

    # then both cost the same number of queries
    assert len(large) == len(small)
