"""The watch list and the cure workflow (DOMAIN.md section 10a): the bank's and insurer's queue in
the admin with its cure buttons (admin/actions.py), a revaluation requested and reported, the
notifications, the regulator's programme totals; other organisations see nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from fintech.models import CollateralAppraisal, Finding, FindingAction, PledgedPatent, Revaluation
from fintech.selectors.collateral import loan_cover
from fintech.services.collateral import patent_event_record
from tests.builders import active_loan
from tests.factories import OrganizationFactory, PatentFactory, UserFactory, make_patent_number

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admin_settings(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def login(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def _lapsed():
    """The standard loan whose only patent lapsed on 2025-06-01: a critical finding, at once."""
    loan, people = active_loan()
    patent = loan.pledge.items.get().patent
    patent_event_record(actor=None, patent_id=patent.pk, code="lapse", event_on=date(2025, 6, 1))
    return loan, people, Finding.objects.get(loan=loan)


def test_the_queue_in_the_admin_and_a_note_through_the_action_framework():
    loan, people, finding = _lapsed()
    url = reverse("admin:fintech_finding_changelist")
    for user in (people.bank, people.insurer):
        response = login(user).get(url)
        assert [f.pk for f in response.context["cl"].result_list] == [finding.pk]
    stranger = UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True)
    assert list(login(stranger).get(url).context["cl"].result_list) == []
    # the bank notes the agreed cure on the finding's page
    action = reverse("admin:fintech_finding_finding_action", args=[finding.pk, "note"])
    page = login(people.bank).get(reverse("admin:fintech_finding_change", args=[finding.pk])).content.decode()
    assert action in page
    assert login(people.bank).post(action, {"note": "SME to restore by July"}).status_code == 302
    assert list(FindingAction.objects.values_list("kind", "note")) == [("note", "SME to restore by July")]
    # another bank's staff do not find it (back to the admin index), and nothing is written
    refused = login(stranger).post(action, {"note": "x"})
    assert (refused.status_code, refused["Location"]) == (302, "/admin/")
    assert FindingAction.objects.count() == 1
    # the loan's page shows its coverage (the lapsed patent is worth 0.00)
    loan_page = login(people.bank).get(reverse("admin:fintech_loan_change", args=[loan.pk])).content.decode()
    assert "Collateral coverage" in loan_page and "shortfall" in loan_page


def test_the_admin_queue_counts_open_findings_by_severity():
    _loan, people, finding = _lapsed()
    # the lapse raised one critical finding; the queue's severity filter shows the open counts
    page = login(people.bank).get(reverse("admin:fintech_finding_changelist"))
    choices = [
        c["display"]
        for spec in page.context["cl"].filter_specs
        if spec.title == "severity"
        for c in spec.choices(page.context["cl"])
    ]
    assert choices[1:] == ["Critical (1 open)", "Warning (0 open)", "Info (0 open)"]
    critical = login(people.bank).get(reverse("admin:fintech_finding_changelist") + "?severity=critical")
    assert [f.pk for f in critical.context["cl"].result_list] == [finding.pk]
    warning = login(people.bank).get(reverse("admin:fintech_finding_changelist") + "?severity=warning")
    assert list(warning.context["cl"].result_list) == []


def test_revaluation_requested_by_the_insurer_and_reported_by_the_appraiser(client_for):
    loan, people, finding = _lapsed()
    response = client_for(people.insurer).post(
        f"/api/v1/findings/{finding.pk}/actions/", {"kind": "revaluation", "note": "aged"}, format="json"
    )
    assert response.status_code == 201, response.json()
    patent_event_record(
        actor=None, patent_id=finding.patent_id, code="restoration", event_on=date(2025, 7, 1)
    )
    revaluation = Revaluation.objects.get(pk=response.json()["revaluation"])
    assert revaluation.appraiser_id == people.appraiser.organization_id
    # the appraiser reports 1,400,000.00 on 2025-07-01, valid 12 months
    body = {"valuation_date": "2025-07-01", "values": [{"patent": finding.patent_id, "value": "1400000.00"}]}
    reported = client_for(people.appraiser).post(
        f"/api/v1/revaluations/{revaluation.pk}/report/", body, format="json"
    )
    assert reported.status_code == 200, reported.json()
    assert reported.json() == {"id": revaluation.pk, "status": "reported", "valid_until": "2026-07-01"}
    assert CollateralAppraisal.objects.get().value == D("1400000.00")
    # coverage on 2025-07-01: the new value at its own date, term factor 1: 1,400,000.00 / 1,000,000.00
    # = 1.4: below the warning level 1.5, above the shortfall level 1.2
    cover = loan_cover(loan, date(2025, 7, 1))
    assert (cover.collateral_value, cover.coverage, cover.level) == (
        D("1400000.00"),
        D("1.400000"),
        "warning",
    )
    # a second report is refused (409), the bank may not report (403)
    assert (
        client_for(people.appraiser)
        .post(f"/api/v1/revaluations/{revaluation.pk}/report/", body, format="json")
        .status_code
        == 409
    )
    assert (
        client_for(people.bank)
        .post(f"/api/v1/revaluations/{revaluation.pk}/report/", body, format="json")
        .status_code
        == 403
    )


def test_notifications_and_the_regulators_programme_totals(client_for):
    loan, people, _finding = _lapsed()
    for user in (people.sme, people.bank, people.insurer):
        rows = client_for(user).get("/api/v1/notifications/").json()["results"]
        assert [(n["event"], n["finding"]["kind"], n["finding"]["severity"]) for n in rows] == [
            ("raised", "legal_status", "critical")
        ]
    regulator = UserFactory(organization=OrganizationFactory(kind="regulator"), is_staff=True)
    totals = client_for(regulator).get("/api/v1/findings/totals/").json()["results"]
    row = next(r for r in totals if r["program"] == loan.program_id)
    assert (row["program_code"], row["critical"], row["findings"], row["loans"]) == ("wuhan", 1, 1, 1)
    # a bank may not read the programme totals; a stranger sees no finding
    assert client_for(people.bank).get("/api/v1/findings/totals/").status_code == 403
    stranger = UserFactory(organization=OrganizationFactory(kind="bank"))
    assert client_for(stranger).get("/api/v1/findings/").json()["count"] == 0
    assert client_for(people.bank).get("/api/v1/findings/?severity=bad").status_code == 400


def test_a_resolved_finding_takes_no_revaluation_and_no_added_patent(client_for):
    loan, people, finding = _lapsed()
    # restored 2025-07-01: the legal-status finding is resolved that day
    patent_event_record(
        actor=None, patent_id=finding.patent_id, code="restoration", event_on=date(2025, 7, 1)
    )
    finding.refresh_from_db()
    assert finding.status == "resolved"
    extra = PatentFactory(
        owner=loan.sme,
        application_number=make_patent_number(2021, 1),
        filing_date=date(2021, 5, 10),
        grant_date=date(2023, 1, 10),
    )
    url = f"/api/v1/findings/{finding.pk}/actions/"
    revaluation = client_for(people.bank).post(url, {"kind": "revaluation", "note": "late"}, format="json")
    added = client_for(people.bank).post(
        url,
        {"kind": "added_patent", "patent": extra.pk, "value": "2000000.00", "valued_on": "2025-07-02"},
        format="json",
    )
    for response in (revaluation, added):
        assert (response.status_code, response.json()["code"]) == (409, "invalid_state"), response.json()
    # nothing written: no revaluation, no cure, the extra patent not pledged
    assert not Revaluation.objects.exists()
    assert not FindingAction.objects.exists()
    assert not PledgedPatent.objects.filter(patent=extra).exists()
    assert not CollateralAppraisal.objects.exists()
