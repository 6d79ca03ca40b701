"""Races the row locks and the database constraints must settle (STYLE.md rules 3 and 5): twenty
requests at once, released together by a barrier, each on its own connection. PostgreSQL only
(SQLite serialises writers and has no row locks)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from fintech.models import (
    Application,
    ApplicationPatent,
    AuditLog,
    Loan,
    Patent,
    Pledge,
    PledgedPatent,
    Policy,
    PremiumPayment,
    Valuation,
)
from tests.concurrency import race

from .helpers import (
    World,
    advance,
    approve_body,
    client_for,
    create_application,
    make_world,
    register_patent,
)

pytestmark = pytest.mark.postgres

N = 20


@pytest.fixture
def tworld(transactional_db: None, django_db_serialized_rollback: None) -> World:
    # Serialized rollback: the flush after a transactional test empties every table, the regions
    # and the Wuhan programme of the data migrations too; they are restored before each such test.
    return make_world()


def _race(work: Callable[[int], Any]) -> list[Any]:
    """work(0..N-1) in N threads released together (tests/concurrency.py)."""
    return race(work, N)


def test_twenty_approvals_at_once_make_one_loan(tworld: World) -> None:
    # given an application in bank review, and twenty clients of its bank
    case = advance(tworld, "bank_review")
    clients = [client_for(tworld.bank.user) for _ in range(N)]
    path = f"/api/v1/applications/{case.application}/approve/"

    # when all twenty approve at once
    def approve(i: int) -> tuple[int, Any]:
        r = clients[i].post(path, approve_body(), format="json")
        return r.status_code, r.json()

    results = _race(approve)
    # then exactly one loan, one 201 and nineteen 409 naming the state the winner left
    assert Counter(status for status, _ in results) == {201: 1, 409: N - 1}, results
    assert {body["message"] for status, body in results if status == 409} == {
        "Cannot approve: the record is 'Approved'."
    }
    assert Loan.objects.count() == 1
    assert Application.objects.get(pk=case.application).status == "approved"
    assert AuditLog.objects.filter(action="loan.approve").count() == 1
    assert AuditLog.objects.filter(action="application.approve").count() == 1


def _approved_loan(w: World, patent: Patent, n: int) -> Loan:
    """An approved loan on `patent`, its rows written directly: the API would refuse a second open
    application for the same patent, and the race below is about the pledge itself."""
    app = Application.objects.create(
        sme=w.sme.org,
        program=w.program,
        requested_amount=Decimal("1000000.00"),
        term_months=12,
        repayment_method="equal_principal",
        bank=w.bank.org,
        insurer=w.insurer.org,
        appraiser=w.appraiser.org,
        created_by=w.sme.user,
        status="approved",
        appraised_value=Decimal("3040287.70"),
        risk_grade="B",
        pledge_rate=Decimal("0.40"),
        credit_ceiling=Decimal("1216115.08"),
    )
    ApplicationPatent.objects.create(application=app, patent=patent)
    Valuation.objects.create(
        application=app,
        appraiser=w.appraiser.org,
        status="reported",
        report_number=f"RACE-{n}",
        valuation_date=date(2025, 2, 1),
        valid_until=date(2026, 2, 1),
        appraised_value=Decimal("3040287.70"),
        risk_grade="B",
        pledge_rate=Decimal("0.40"),
        credit_ceiling=Decimal("1216115.08"),
        signed_by=w.appraiser.user,
    )
    policy = Policy.objects.create(
        application=app,
        insurer=w.insurer.org,
        policy_number=f"PLI{app.pk:010d}",
        insured_amount=Decimal("1000000.00"),
        premium_rate=Decimal("0.02"),
        term_months=12,
        premium=Decimal("20000.00"),
        premium_paid_amount=Decimal("20000.00"),
        premium_paid_on=date(2025, 2, 10),
        status="active",
        issued_by=w.insurer.user,
    )
    return Loan.objects.create(
        application=app,
        program=w.program,
        sme=w.sme.org,
        bank=w.bank.org,
        policy=policy,
        principal=Decimal("1000000.00"),
        annual_rate=Decimal("0.045"),
        term_months=12,
        repayment_method="equal_principal",
        approved_on=date(2025, 2, 11),
        approved_by=w.bank.user,
        grace_days=0,
        default_days_past_due=90,
    )


def test_twenty_pledges_of_one_patent_make_one_active_pledge(tworld: World) -> None:
    # given one patent in twenty approved loans
    patent = Patent.objects.get(pk=register_patent(tworld.sme)["id"])
    loans = [_approved_loan(tworld, patent, n) for n in range(N)]
    clients = [client_for(tworld.bank.user) for _ in range(N)]

    # when the bank registers all twenty pledges at once
    def register(i: int) -> tuple[int, Any]:
        r = clients[i].post(
            f"/api/v1/loans/{loans[i].pk}/pledge/",
            {"registration_number": f"Y20254200{i:05d}", "registered_on": "2025-02-12"},
            format="json",
        )
        return r.status_code, r.json()

    results = _race(register)
    # then exactly one pledge is active, and nineteen answers are 409 "already pledged"
    assert Counter(status for status, _ in results) == {201: 1, 409: N - 1}, results
    assert {body["code"] for status, body in results if status == 409} == {"patent_already_pledged"}
    assert PledgedPatent.objects.filter(patent=patent, is_active=True).count() == 1
    assert Pledge.objects.count() == 1
    assert AuditLog.objects.filter(action="pledge.register").count() == 1


def test_twenty_submissions_offering_one_patent_open_one_application(tworld: World) -> None:
    # given twenty drafts offering the same patent (drafts may overlap; submission decides)
    patent = register_patent(tworld.sme)["id"]
    drafts = [create_application(tworld, [patent])["id"] for _ in range(N)]
    clients = [client_for(tworld.sme.user) for _ in range(N)]

    # when the SME submits all twenty at once
    def submit(i: int) -> tuple[int, Any]:
        r = clients[i].post(f"/api/v1/applications/{drafts[i]}/submit/", format="json")
        return r.status_code, r.json()

    results = _race(submit)
    # then one is submitted and nineteen refused: the patent is offered in another open application
    assert Counter(status for status, _ in results) == {200: 1, 409: N - 1}, results
    assert Counter(Application.objects.values_list("status", flat=True)) == {"valuation": 1, "draft": N - 1}
    assert Valuation.objects.count() == 1


def test_twenty_premium_payments_at_once_pay_it_once(tworld: World) -> None:
    # given an issued policy whose premium is 20,000.00
    case = advance(tworld, "bank_review")
    clients = [client_for(tworld.insurer.user) for _ in range(N)]

    # when the insurer records the full premium twenty times at once
    def pay(i: int) -> tuple[int, Any]:
        r = clients[i].post(
            f"/api/v1/policies/{case.policy_id}/premium-payments/",
            {"amount": "20000.00", "paid_on": "2025-02-10"},
            format="json",
        )
        return r.status_code, r.json()

    results = _race(pay)
    # then one payment, the policy active; the others see it active (409)
    assert Counter(status for status, _ in results) == {201: 1, 409: N - 1}, results
    policy = Policy.objects.get(pk=case.policy_id)
    assert (policy.status, policy.premium_paid_amount) == ("active", Decimal("20000.00"))


def test_twenty_requests_with_one_idempotency_key_run_once(tworld: World) -> None:
    # given an issued policy whose premium is 20,000.00
    case = advance(tworld, "bank_review")
    clients = [client_for(tworld.insurer.user) for _ in range(N)]

    # when the insurer's system sends the same payment twenty times at once, under one key
    def pay(i: int) -> tuple[int, bytes]:
        r = clients[i].post(
            f"/api/v1/policies/{case.policy_id}/premium-payments/",
            {"amount": "20000.00", "paid_on": "2025-02-10"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="premium-once",
        )
        return r.status_code, r.content

    results = _race(pay)
    # then every caller gets the first answer, byte for byte, and the premium is paid once
    assert [status for status, _ in results] == [201] * N, results
    assert len({content for _, content in results}) == 1
    assert PremiumPayment.objects.count() == 1
    assert AuditLog.objects.filter(action="policy.premium_paid").count() == 1
