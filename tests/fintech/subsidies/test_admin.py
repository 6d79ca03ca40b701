"""The subsidy screens of the admin: benchmark rates edited by regulators and the platform (audited,
overlaps refused); subsidy runs started, approved (four eyes) and paid through the same services
as the API; entitlements read-only and scoped."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client

from fintech.models import AuditLog, BenchmarkRate, SubsidyEntitlement, SubsidyRun
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory, wuhan_program

from .helpers import INTEREST_ONLY, D, pay, regulator_org

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admin_static(settings: Any) -> None:
    # Admin pages link static files; the manifest storage needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def browser(user: Any) -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE="en")  # assertions read the English messages
    client.force_login(user)
    return client


@pytest.fixture
def staff_regulators():
    org = regulator_org()
    return UserFactory(organization=org, is_staff=True), UserFactory(organization=org, is_staff=True)


def test_a_regulator_adds_an_lpr_fixing_and_it_is_audited(staff_regulators):
    # given a regulator at the benchmark rates' add form
    client = browser(staff_regulators[0])
    assert client.get("/admin/fintech/benchmarkrate/").status_code == 200

    # when it adds the 1-year LPR of 2026-06-22 at 2.95 % (terms 1-60 months)
    r = client.post(
        "/admin/fintech/benchmarkrate/add/",
        {
            "source": "lpr",
            "effective_on": "2026-06-22",
            "term_min_months": "1",
            "term_max_months": "60",
            "rate": "0.0295",
        },
    )

    # then the row is saved and audited with the regulator as actor
    assert r.status_code == 302, r.content.decode()[:2000]
    row = BenchmarkRate.objects.get(effective_on=date(2026, 6, 22))
    assert (row.source, row.term_min_months, row.term_max_months, row.rate) == ("lpr", 1, 60, D("0.02950000"))
    audit = AuditLog.objects.get(action="benchmark_rate.create")
    assert (audit.actor_id, audit.object_id) == (staff_regulators[0].pk, str(row.pk))


def test_an_overlapping_range_of_the_same_day_is_refused(staff_regulators):
    # given the migration's 1-60 month LPR of 2025-05-20
    client = browser(staff_regulators[0])
    before = BenchmarkRate.objects.count()

    # when a 13-60 month row is added for the same day
    r = client.post(
        "/admin/fintech/benchmarkrate/add/",
        {
            "source": "lpr",
            "effective_on": "2025-05-20",
            "term_min_months": "13",
            "term_max_months": "60",
            "rate": "0.03",
        },
    )

    # then the form is shown again with the error, and nothing is saved
    assert r.status_code == 200
    assert "overlaps" in r.content.decode()
    assert BenchmarkRate.objects.count() == before


def test_banks_do_not_see_benchmark_rates_and_nobody_deletes_one(staff_regulators):
    bank = UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True)
    assert browser(bank).get("/admin/fintech/benchmarkrate/").status_code == 403
    row = BenchmarkRate.objects.order_by("id").first()
    assert (
        browser(staff_regulators[0])
        .post(f"/admin/fintech/benchmarkrate/{row.pk}/delete/", {"post": "yes"})
        .status_code
        == 403
    )
    assert BenchmarkRate.objects.filter(pk=row.pk).exists()


def test_start_approve_and_pay_a_run_in_the_admin(staff_regulators, django_capture_on_commit_callbacks):
    # given the June 2024 loan with #1-#3 paid on time (Q3: 718.75 + 735.76 + 721.18 = 2,175.69,
    # worked by hand in test_interest.py)
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    starter, checker = (browser(u) for u in staff_regulators)

    # when the first regulator starts 2024Q3 from "Add subsidy run"
    assert starter.get("/admin/fintech/subsidyrun/add/").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        r = starter.post(
            "/admin/fintech/subsidyrun/add/", {"program": wuhan_program().pk, "period": "2024Q3"}
        )
    run = SubsidyRun.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"/admin/fintech/subsidyrun/{run.pk}/change/")
    assert (run.status, run.interest_total, run.started_by_id) == (
        "computed",
        D("2175.69"),
        staff_regulators[0].pk,
    )

    # then the starter is not offered "Approve", and forcing it changes nothing (four eyes)
    page = starter.get(f"/admin/fintech/subsidyrun/{run.pk}/change/").content.decode()
    assert "/run/approve/" not in page
    starter.post(f"/admin/fintech/subsidyrun/{run.pk}/run/approve/", {})
    assert SubsidyRun.objects.get(pk=run.pk).status == "computed"

    # when the second regulator approves, then the first records the payment
    assert "/run/approve/" in checker.get(f"/admin/fintech/subsidyrun/{run.pk}/change/").content.decode()
    checker.post(f"/admin/fintech/subsidyrun/{run.pk}/run/approve/", {})
    starter.post(
        f"/admin/fintech/subsidyrun/{run.pk}/run/pay/", {"paid_on": "2024-10-15", "reference": "GK-1"}
    )

    # then the run is paid, approved by the second regulator, with the reference
    run.refresh_from_db()
    assert (run.status, run.approved_by_id, run.payment_reference) == ("paid", staff_regulators[1].pk, "GK-1")


def test_a_bad_period_in_the_start_form_is_shown_and_nothing_is_started(staff_regulators):
    r = browser(staff_regulators[0]).post(
        "/admin/fintech/subsidyrun/add/", {"program": wuhan_program().pk, "period": "2024-07"}
    )
    assert r.status_code == 200
    assert "quarter" in r.content.decode()
    assert not SubsidyRun.objects.exists()


def test_only_regulators_start_a_run_and_the_start_is_audited(
    staff_regulators, django_capture_on_commit_callbacks
):
    # given a bank's staff: the "Add" page of the runs is not theirs (403), a POST starts nothing
    bank = UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True)
    form = {"program": wuhan_program().pk, "period": "2024Q3"}
    assert browser(bank).get("/admin/fintech/subsidyrun/add/").status_code == 403
    assert browser(bank).post("/admin/fintech/subsidyrun/add/", form).status_code == 403
    assert not SubsidyRun.objects.exists()
    # when a regulator starts it (an empty book: nothing to subsidise, the run is still computed)
    starter = browser(staff_regulators[0])
    with django_capture_on_commit_callbacks(execute=True):
        r = starter.post("/admin/fintech/subsidyrun/add/", form)
    # then the run's page follows, with the success message, and one audit row names the starter
    run = SubsidyRun.objects.get()
    assert r.status_code == 302 and r["Location"].endswith(f"/admin/fintech/subsidyrun/{run.pk}/change/")
    page = starter.get(r["Location"]).content.decode()
    assert f"Subsidy run #{run.pk} of 2024Q3 started." in page
    assert list(AuditLog.objects.filter(action="subsidy_run.start").values_list("actor_id", flat=True)) == [
        staff_regulators[0].pk
    ]


def test_entitlements_are_read_only_and_scoped(staff_regulators, django_capture_on_commit_callbacks):
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1])
    with django_capture_on_commit_callbacks(execute=True):
        browser(staff_regulators[0]).post(
            "/admin/fintech/subsidyrun/add/", {"program": wuhan_program().pk, "period": "2024Q3"}
        )
    entitlement = SubsidyEntitlement.objects.get()

    # the Wuhan regulator reads it but cannot change it; another region's regulator does not see it
    mine = browser(staff_regulators[0])
    assert "718.75" in mine.get("/admin/fintech/subsidyentitlement/").content.decode()
    r = mine.post(f"/admin/fintech/subsidyentitlement/{entitlement.pk}/change/", {"amount": "9999.99"})
    assert r.status_code == 403
    elsewhere = UserFactory(organization=regulator_org("420200"), is_staff=True)
    assert "718.75" not in browser(elsewhere).get("/admin/fintech/subsidyentitlement/").content.decode()
    assert browser(elsewhere).get("/admin/fintech/subsidyrun/").status_code == 200
    assert SubsidyRun.objects.count() == 1
    assert "2024Q3" not in browser(elsewhere).get("/admin/fintech/subsidyrun/").content.decode()
    assert SubsidyEntitlement.objects.get().amount == D("718.75")
