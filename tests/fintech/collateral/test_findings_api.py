"""The watch list over the API against the contract (API.md "Collateral watch" and "Conventions"):
the findings list paginated `{count, next, previous, results}` with its filters, counts by
severity under the severity's own names, bad filters as 400 in the one error shape; and the
regulator's programme totals, paginated, one row per programme, each loan counted once."""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import Finding, Loan, Patent, Program, Region
from fintech.services.collateral import collateral_watch, patent_event_record
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db

CONTRACT_FIELDS = {
    "id",
    "loan",
    "patent",
    "kind",
    "severity",
    "status",
    "first_seen_on",
    "last_seen_on",
    "resolved_on",
    "detail",
}


def _watch(loan: Loan, on: date) -> None:
    collateral_watch(Loan.objects.filter(pk=loan.pk), on)


@pytest.fixture
def book():
    """Two loans of the Wuhan programme, two banks:
    A: its patent lapsed on 2025-06-01 (legal_status, critical), the night of 2025-06-02 adds the
       coverage shortfall (0.00 / 1,000,000.00, critical): two open critical findings on one loan;
    B: fees paid through year 5, year 6 due 2025-04-01: the night of 2025-03-10 raises fee_due
       (info), the night of 2025-04-02 the fee in grace (warning) and resolves fee_due."""
    loan_a, people_a = active_loan()
    patent_a = loan_a.pledge.items.get().patent
    patent_event_record(actor=None, patent_id=patent_a.pk, code="lapse", event_on=date(2025, 6, 1))
    _watch(loan_a, date(2025, 6, 2))
    loan_b, people_b = active_loan()
    Patent.objects.filter(pk=loan_b.pledge.items.get().patent_id).update(fees_paid_through_year=5)
    _watch(loan_b, date(2025, 3, 10))
    _watch(loan_b, date(2025, 4, 2))
    return loan_a, people_a, loan_b, people_b


def _kinds(rows):
    return [(r["loan"], r["kind"], r["severity"], r["status"]) for r in rows]


def test_the_findings_list_is_paginated_and_filtered_as_the_contract_says(book, client_for):
    loan_a, people_a, loan_b, _people_b = book
    regulator = UserFactory(organization=OrganizationFactory(kind="regulator"))
    reg = client_for(regulator)

    # the regulator of the region sees both loans' findings in the queue's order: open before
    # resolved, critical, warning, info
    body = reg.get("/api/v1/findings/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 4 and body["next"] is None and body["previous"] is None
    assert set(body["results"][0]) >= CONTRACT_FIELDS
    assert [(r["kind"], r["severity"], r["status"]) for r in body["results"]] == [
        ("coverage_shortfall", "critical", "open"),  # seen 2025-06-02
        ("legal_status", "critical", "open"),  # seen 2025-06-01
        ("fee_in_grace", "warning", "open"),
        ("fee_due", "info", "resolved"),
    ]
    # ?page_size= and ?page= (API.md: default 50, max 200)
    first = reg.get("/api/v1/findings/?page_size=3").json()
    assert (first["count"], len(first["results"]), first["previous"]) == (4, 3, None)
    assert "page=2" in first["next"] and "page_size=3" in first["next"]
    second = reg.get("/api/v1/findings/?page_size=3&page=2").json()
    assert _kinds(second["results"]) == [(loan_b.pk, "fee_due", "info", "resolved")]
    # the filters, alone and together
    assert _kinds(reg.get("/api/v1/findings/?severity=warning").json()["results"]) == [
        (loan_b.pk, "fee_in_grace", "warning", "open")
    ]
    assert _kinds(reg.get("/api/v1/findings/?status=resolved").json()["results"]) == [
        (loan_b.pk, "fee_due", "info", "resolved")
    ]
    assert reg.get(f"/api/v1/findings/?loan={loan_a.pk}&status=open&severity=critical").json()["count"] == 2
    # each bank sees its own loan's findings only; another's loan filters to nothing (no 404)
    assert {r["loan"] for r in client_for(people_a.bank).get("/api/v1/findings/").json()["results"]} == {
        loan_a.pk
    }
    assert client_for(people_a.bank).get(f"/api/v1/findings/?loan={loan_b.pk}").json()["count"] == 0


@pytest.mark.parametrize(
    "query", ["severity=bad", "status=closed", "loan=abc", "loan=1.5", "loan=1e0", "patent=2.5", "kind=nope"]
)
def test_a_bad_filter_is_a_400_in_the_error_shape(book, client_for, query):
    _a, people_a, _b, _pb = book
    name = query.split("=")[0]
    for url in ("/api/v1/findings/", "/api/v1/findings/counts/"):
        response = client_for(people_a.bank).get(f"{url}?{query}")
        assert response.status_code == 400, (url, response.content)
        body = response.json()
        assert set(body) == {"code", "message", "fields"}
        assert list(body["fields"]) == [name]


def test_a_page_past_the_end_is_a_404_in_the_error_shape(book, client_for):
    _a, people_a, _b, _pb = book
    response = client_for(people_a.bank).get("/api/v1/findings/?page=9")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_counts_by_severity(book, client_for):
    loan_a, _people_a, _loan_b, people_b = book
    regulator = client_for(UserFactory(organization=OrganizationFactory(kind="regulator")))
    # open findings: A's two critical ones, B's warning; under the severity's names
    assert regulator.get("/api/v1/findings/counts/").json() == {"info": 0, "warning": 1, "critical": 2}
    # the filters apply: one loan, or the resolved ones
    assert client_for(people_b.insurer).get("/api/v1/findings/counts/").json() == {
        "info": 0,
        "warning": 1,
        "critical": 0,
    }
    assert regulator.get("/api/v1/findings/counts/?status=resolved").json() == {
        "info": 1,
        "warning": 0,
        "critical": 0,
    }
    assert regulator.get(f"/api/v1/findings/counts/?loan={loan_a.pk}").json() == {
        "info": 0,
        "warning": 0,
        "critical": 2,
    }


def test_the_regulators_programme_totals(book, client_for):
    _loan_a, people_a, _loan_b, _people_b = book
    wuhan = Program.objects.get(code="wuhan")
    served = list(Program.objects.filter(regions__code="420100").order_by("pk").values_list("pk", flat=True))
    regulator = client_for(UserFactory(organization=OrganizationFactory(kind="regulator")))

    body = regulator.get("/api/v1/findings/totals/").json()

    # paginated, a row per programme serving the region (zeros where nothing is found)
    assert set(body) == {"count", "next", "previous", "results"}
    assert [r["program"] for r in body["results"]] == served
    row = next(r for r in body["results"] if r["program"] == wuhan.pk)
    # open: 2 critical (loan A) + 1 warning (loan B) = 3 findings on 2 loans (A counted once);
    # resolved: B's fee_due
    assert row == {
        "program": wuhan.pk,
        "program_code": "wuhan",
        "program_name": wuhan.name,
        "info": 0,
        "warning": 1,
        "critical": 2,
        "findings": 3,
        "loans": 2,
        "resolved": 1,
    }
    assert Finding.objects.filter(loan__program=wuhan, status="open").count() == 3
    # a regulator of another region sees none of those findings
    elsewhere = OrganizationFactory(kind="regulator", region=Region.objects.get(code="420200"))
    for r in (
        client_for(UserFactory(organization=elsewhere)).get("/api/v1/findings/totals/").json()["results"]
    ):
        assert (r["findings"], r["loans"], r["resolved"]) == (0, 0, 0)
    # one row a page
    paged = regulator.get("/api/v1/findings/totals/?page_size=1").json()
    assert (paged["count"], len(paged["results"])) == (len(served), 1)
    # a bank may not read them
    assert client_for(people_a.bank).get("/api/v1/findings/totals/").status_code == 403
