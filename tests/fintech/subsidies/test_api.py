"""The subsidy endpoints of API.md ("Regulator"): runs, four-eyes approval, payments, and the
entitlements as each party sees them. Figures of the June 2024 loan by hand in test_interest.py:
Q3 2024 #1 718.75, #2 735.76, #3 721.18 (2,175.69)."""

from __future__ import annotations

from datetime import date

import pytest

from fintech.models import SubsidyRun
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory, wuhan_program

from .helpers import INTEREST_ONLY, D, pay, regulator, regulator_org

pytestmark = pytest.mark.django_db

RUNS = "/api/v1/subsidy-runs/"


def june_2024_loan(**extra):
    return active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20), **extra
    )


@pytest.fixture
def start(client_for, django_capture_on_commit_callbacks):
    """POST /subsidy-runs/ as the user, running the queued chunks in process after the commit."""

    def post(user, body, **headers):
        with django_capture_on_commit_callbacks(execute=True):
            return client_for(user).post(RUNS, body, format="json", **headers)

    return post


def test_start_approve_pay_through_the_api(start, client_for, regulators):
    # given the June loan with #1-#3 paid on time
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2, 3])

    # when a regulator starts 2024Q3
    r = start(regulators.starter, {"program": wuhan_program().pk, "period": "2024Q3"})

    # then 202 with the run's id and status
    assert r.status_code == 202, r.content
    run_id = r.json()["id"]
    assert r.json()["status"] in ("pending", "running", "computed")

    # and GET shows it computed with its totals and progress
    body = client_for(regulators.starter).get(f"{RUNS}{run_id}/").json()
    assert {
        k: body[k]
        for k in (
            "program",
            "period",
            "status",
            "interest_total",
            "premium_total",
            "total_amount",
            "entitlements_count",
            "chunks_total",
            "chunks_done",
            "started_by",
            "approved_by",
        )
    } == {
        "program": wuhan_program().pk,
        "period": "2024Q3",
        "status": "computed",
        "interest_total": "2175.69",
        "premium_total": "0.00",
        "total_amount": "2175.69",
        "entitlements_count": 3,
        "chunks_total": 1,
        "chunks_done": 1,
        "started_by": regulators.starter.pk,
        "approved_by": None,
    }
    assert body["parameters"]["interest_subsidy_rate"] == "0.25000000"

    # when the starter tries to approve: 403 four eyes, in the one error shape
    r = client_for(regulators.starter).post(f"{RUNS}{run_id}/approve/")
    assert r.status_code == 403
    assert r.json()["code"] == "four_eyes"
    assert SubsidyRun.objects.get(pk=run_id).status == "computed"

    # when the second regulator approves: 200, approved by them
    r = client_for(regulators.checker).post(f"{RUNS}{run_id}/approve/")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["approved_by"]) == ("approved", regulators.checker.pk)

    # when the payment is recorded: 200, paid, with its reference
    r = client_for(regulators.starter).post(
        f"{RUNS}{run_id}/payments/", {"paid_on": "2024-10-15", "reference": "GK-2024-Q3-001"}, format="json"
    )
    assert r.status_code == 200, r.content
    assert {k: r.json()[k] for k in ("status", "paid_on", "payment_reference")} == {
        "status": "paid",
        "paid_on": "2024-10-15",
        "payment_reference": "GK-2024-Q3-001",
    }

    # and the SME sees its three entitlements, paid
    r = client_for(people.sme).get("/api/v1/subsidies/?period=2024Q3")
    assert r.status_code == 200
    assert [(e["installment"], e["amount"], e["status"]) for e in r.json()["results"]] == [
        (1, "718.75", "paid"),
        (2, "735.76", "paid"),
        (3, "721.18", "paid"),
    ]


def test_starting_a_period_again_is_accepted_and_adds_only_what_is_missing(start, regulators):
    loan, people = june_2024_loan()
    pay(loan, people, [1, 2])
    first = start(regulators.starter, {"program": wuhan_program().pk, "period": "2024Q3"})
    pay(loan, people, [3])
    second = start(regulators.checker, {"program": wuhan_program().pk, "period": "2024Q3"})
    assert (first.status_code, second.status_code) == (202, 202)
    totals = dict(SubsidyRun.objects.values_list("pk", "interest_total"))
    assert totals == {first.json()["id"]: D("1454.51"), second.json()["id"]: D("721.18")}


def test_an_idempotency_key_replays_the_start(start, regulators):
    june_2024_loan()
    body = {"program": wuhan_program().pk, "period": "2024Q3"}
    one = start(regulators.starter, body, HTTP_IDEMPOTENCY_KEY="run-2024Q3")
    two = start(regulators.starter, body, HTTP_IDEMPOTENCY_KEY="run-2024Q3")
    assert (one.status_code, two.status_code) == (202, 202)
    assert one.json() == two.json()
    assert two["Idempotent-Replayed"] == "true"
    assert SubsidyRun.objects.count() == 1


WUHAN = "wuhan"  # stands for the Wuhan programme's id in the bodies below


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "2024Q3"}, "program"),
        ({"program": "x", "period": "2024Q3"}, "program"),
        ({"program": 999999, "period": "2024Q3"}, "program"),
        ({"program": None, "period": "2024Q3"}, "program"),
        ({"program": WUHAN}, "period"),
        ({"program": WUHAN, "period": ""}, "period"),
        ({"program": WUHAN, "period": "2024-Q3"}, "period"),
        ({"program": WUHAN, "period": "2024-07"}, "period"),  # the Wuhan programme pays by quarter
        ({"program": WUHAN, "period": "2024Q0"}, "period"),
        ({"program": WUHAN, "period": ["2024Q3"]}, "period"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(start, regulators, body, field):
    body = {k: (wuhan_program().pk if v == WUHAN else v) for k, v in body.items()}
    r = start(regulators.starter, body)
    assert r.status_code == 400, r.content
    assert field in r.json()["fields"]
    assert not SubsidyRun.objects.exists()


def test_roles_and_regions(start, client_for, regulators):
    # given a computed run of Wuhan
    june_2024_loan()
    run_id = start(regulators.starter, {"program": wuhan_program().pk, "period": "2024Q3"}).json()["id"]
    bank = UserFactory(organization=OrganizationFactory(kind="bank"))
    sme = UserFactory(
        organization=OrganizationFactory(
            kind="sme",
            industry="software_it",
            employees=80,
            annual_revenue=D("1"),
            total_assets=D("1"),
            size_class="small",
        )
    )
    platform = UserFactory(organization=OrganizationFactory(kind="platform"))
    elsewhere = regulator(regulator_org("420200"))

    # then banks and SMEs may neither start nor read runs (403)
    for user in (bank, sme):
        assert start(user, {"program": wuhan_program().pk, "period": "2024Q3"}).status_code == 403
        assert client_for(user).get(RUNS).status_code == 403
        assert client_for(user).get(f"{RUNS}{run_id}/").status_code == 403
    # the platform reads but may not start or approve (subsidy money is the regulator's)
    assert client_for(platform).get(f"{RUNS}{run_id}/").status_code == 200
    assert start(platform, {"program": wuhan_program().pk, "period": "2024Q3"}).status_code == 403
    assert client_for(platform).post(f"{RUNS}{run_id}/approve/").status_code == 403
    # a regulator of another region does not see the run (404) nor list it
    assert client_for(elsewhere).get(f"{RUNS}{run_id}/").status_code == 404
    assert client_for(elsewhere).post(f"{RUNS}{run_id}/approve/").status_code == 404
    assert client_for(elsewhere).get(RUNS).json()["count"] == 0
    # and the regulators of Wuhan list it
    assert [r["id"] for r in client_for(regulators.checker).get(RUNS).json()["results"]] == [run_id]
    # anonymous: 401
    from rest_framework.test import APIClient

    assert APIClient().get(RUNS).status_code == 401


def test_approving_a_run_that_is_not_computed_is_a_409(
    client_for, regulators, django_capture_on_commit_callbacks
):
    june_2024_loan()
    with django_capture_on_commit_callbacks(execute=False):
        r = client_for(regulators.starter).post(
            RUNS, {"program": wuhan_program().pk, "period": "2024Q3"}, format="json"
        )
    assert r.json()["status"] == "pending"
    approve = client_for(regulators.checker).post(f"{RUNS}{r.json()['id']}/approve/")
    assert approve.status_code == 409
    assert approve.json()["code"] == "invalid_state"


def test_payment_input_errors(start, client_for, regulators):
    june_2024_loan()
    run_id = start(regulators.starter, {"program": wuhan_program().pk, "period": "2024Q3"}).json()["id"]
    client_for(regulators.checker).post(f"{RUNS}{run_id}/approve/")
    payments = f"{RUNS}{run_id}/payments/"
    for body, field in [
        ({"reference": "R1"}, "paid_on"),
        ({"paid_on": "2024-13-01", "reference": "R1"}, "paid_on"),
        ({"paid_on": "2099-01-01", "reference": "R1"}, "paid_on"),
        ({"paid_on": "2024-10-15"}, "reference"),
        ({"paid_on": "2024-10-15", "reference": ""}, "reference"),
    ]:
        r = client_for(regulators.starter).post(payments, body, format="json")
        assert r.status_code == 400, (body, r.content)
        assert field in r.json()["fields"]
    assert SubsidyRun.objects.get(pk=run_id).status == "approved"


# --- entitlements: what each party sees ----------------------------------------------------------


def test_an_sme_sees_only_its_own_entitlements(start, client_for, regulators):
    # given two SMEs' June loans with #1-#3 on time, and 2024Q3 computed
    a, pa = june_2024_loan()
    b, pb = june_2024_loan()
    pay(a, pa, [1, 2, 3])
    pay(b, pb, [1, 2, 3])
    start(regulators.starter, {"program": wuhan_program().pk, "period": "2024Q3"})

    # when SME A lists its subsidies
    r = client_for(pa.sme).get("/api/v1/subsidies/")

    # then it sees its three, with the fields of API.md, and none of B's
    assert r.status_code == 200
    rows = r.json()["results"]
    assert r.json()["count"] == 3
    assert {e["loan"] for e in rows} == {a.pk}
    assert {e["enterprise"] for e in rows} == {pa.sme.organization_id}
    first = rows[0]
    assert set(first) >= {
        "id",
        "loan",
        "installment",
        "kind",
        "period",
        "amount",
        "computed_amount",
        "capped",
        "status",
        "enterprise",
    }
    assert (
        first["kind"],
        first["period"],
        first["amount"],
        first["computed_amount"],
        first["capped"],
        first["status"],
    ) == ("interest", "2024Q3", "718.75", "718.75", False, "computed")
    # and asking for B's by enterprise returns nothing
    assert (
        client_for(pa.sme).get(f"/api/v1/subsidies/?enterprise={pb.sme.organization_id}").json()["count"] == 0
    )

    # and the regulator of Wuhan sees both SMEs' six; one of another region none; a bank may not
    assert client_for(regulators.checker).get("/api/v1/subsidies/").json()["count"] == 6
    assert client_for(regulator(regulator_org("420200"))).get("/api/v1/subsidies/").json()["count"] == 0
    assert client_for(pa.bank).get("/api/v1/subsidies/").status_code == 403


def test_entitlement_filters(start, client_for, regulators):
    # given a 3-month loan settled on time (interest #1-#3 and a premium subsidy in 2024Q3)
    loan, people = june_2024_loan(term_months=3)
    pay(loan, people, [1, 2, 3])
    start(regulators.starter, {"program": wuhan_program().pk, "period": "2024Q3"})
    client = client_for(regulators.starter)

    premium = client.get("/api/v1/subsidies/?kind=premium").json()["results"]
    assert [(e["installment"], e["amount"]) for e in premium] == [(None, "2000.00")]
    assert client.get("/api/v1/subsidies/?period=2024Q3&kind=interest").json()["count"] == 3
    assert client.get("/api/v1/subsidies/?period=2024-08").json()["count"] == 0  # quarterly programme
    assert client.get("/api/v1/subsidies/?period=2024Q4").json()["count"] == 0
    assert client.get("/api/v1/subsidies/?status=approved").json()["count"] == 0
    assert client.get(f"/api/v1/subsidies/?enterprise={loan.sme_id}").json()["count"] == 4
    for bad in ("period=2024Q9", "kind=bonus", "status=done", "enterprise=x"):
        r = client.get(f"/api/v1/subsidies/?{bad}")
        assert r.status_code == 400, bad
        assert r.json()["fields"]
