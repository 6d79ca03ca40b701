"""A partial prepayment as the cure of a coverage finding (DOMAIN.md 8a and 10a): recorded on the
finding through the one prepayment service, over the API and in the admin; coverage before and after,
worked by hand; the next night's watch resolves the finding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from fintech.models import (
    AuditLog,
    Finding,
    FindingAction,
    Installment,
    Loan,
    Patent,
    Prepayment,
    ScheduleVersion,
)
from fintech.selectors.collateral import loan_cover
from fintech.services.collateral import finding_revaluation_request, revaluation_report
from tests.builders import active_loan

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admin_settings(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def _coverage_warning(close):
    """The standard loan (1,000,000.00 at 4.5 %, equal principal over 12 months from 2025-02-20) whose
    invention (filed 2020-04-01, expires 2040-03-31) the appraiser revalues at 1,300,000.00 on
    2025-03-03; the night of 2025-03-04 raises the coverage warning."""
    loan, people = active_loan()
    patent = loan.pledge.items.get().patent
    # fees paid through year 5: year 6 (due 2025-04-01) is 29 days away on 2025-03-03: a fee finding
    Patent.objects.filter(pk=patent.pk).update(fees_paid_through_year=5)
    close(date(2025, 3, 3))
    fee_due = Finding.objects.get(loan=loan, kind="fee_due")
    revaluation = finding_revaluation_request(actor=people.bank, finding_id=fee_due.pk)
    revaluation_report(
        actor=people.appraiser,
        revaluation_id=revaluation.pk,
        valuation_date=date(2025, 3, 3),
        values={patent.pk: D("1300000.00")},
    )
    close(date(2025, 3, 4))
    return loan, people, Finding.objects.get(loan=loan, kind="coverage_warning")


def test_a_partial_prepayment_cures_the_coverage_warning(close, client_for):
    loan, people, warning = _coverage_warning(close)
    # before, on 2025-03-04: 5506 of the 5507 days of term left at the valuation date:
    # 1,300,000.00 x 5506 / 5507 = 1,299,763.94; / 1,000,000.00 = 1.299764 (below 1.5: warning)
    before = loan_cover(loan, date(2025, 3, 4))
    assert (before.collateral_value, before.outstanding_principal, before.coverage, before.level) == (
        D("1299763.94"),
        D("1000000.00"),
        D("1.299764"),
        "warning",
    )
    assert (warning.severity, warning.status, warning.first_seen_on) == ("warning", "open", date(2025, 3, 4))

    # when the bank records, as the cure, a partial prepayment of 200,000.00 on 2025-03-04
    response = client_for(people.bank).post(
        f"/api/v1/findings/{warning.pk}/actions/",
        {"kind": "prepayment", "amount": "200000.00", "value_date": "2025-03-04", "note": "agreed with SME"},
        format="json",
    )

    # then the one prepayment service recorded it (programme fee 0) and the cure step names it
    assert response.status_code == 201, response.json()
    prepayment = Prepayment.objects.get(loan=loan)
    assert response.json() == {
        "finding": warning.pk,
        "kind": "prepayment",
        "revaluation": None,
        "prepayment": prepayment.pk,
        "schedule_version": 2,
    }
    assert (prepayment.kind, prepayment.recast, prepayment.principal, prepayment.amount, prepayment.fee) == (
        "partial",
        "keep_term",
        D("200000.00"),
        D("200000.00"),
        D("0.00"),
    )
    step = FindingAction.objects.get(finding=warning)
    assert (step.kind, step.prepayment, step.note, step.actor) == (
        "prepayment",
        prepayment,
        "agreed with SME",
        people.bank,
    )
    assert ScheduleVersion.objects.filter(loan=loan, version=1).exists()
    assert AuditLog.objects.filter(action="prepayment.partial", object_id=str(loan.pk)).count() == 1
    audited = AuditLog.objects.get(action="finding.prepayment", object_id=str(warning.pk))
    assert (audited.amount, audited.actor) == (D("200000.00"), people.bank)
    # the schedule rebuilt on 800,000.00 (DOMAIN.md 8a): installment 1 (2025-02-20 to 03-20) is charged
    # 1,000,000.00 x 4.5 % x 12 / 360 = 1,500.00 to the date and 800,000.00 x 4.5 % x 16 / 360 =
    # 1,600.00 after it; principal 800,000.00 / 12 = 66,666.67 each, the last 66,666.63
    rows = list(Installment.objects.filter(loan=loan).order_by("seq"))
    assert (rows[0].principal_due, rows[0].interest_due) == (D("66666.67"), D("3100.00"))
    assert (len(rows), rows[-1].principal_due) == (12, D("66666.63"))

    # after, the same day: 1,299,763.94 / 800,000.00 = 1.624705 (ok)
    after = loan_cover(loan, date(2025, 3, 4))
    assert (after.collateral_value, after.outstanding_principal, after.coverage, after.level) == (
        D("1299763.94"),
        D("800000.00"),
        D("1.624705"),
        "ok",
    )
    # the next night, 2025-03-05: 1,300,000.00 x 5505 / 5507 = 1,299,527.87; / 800,000.00 = 1.624410:
    # the watch resolves the warning
    assert loan_cover(loan, date(2025, 3, 5)).coverage == D("1.624410")
    run = close(date(2025, 3, 5))
    warning.refresh_from_db()
    assert (warning.status, warning.last_seen_on, warning.resolved_on) == (
        "resolved",
        date(2025, 3, 4),
        date(2025, 3, 5),
    )
    assert run.findings_resolved == 1


def test_a_prepayment_cure_is_the_banks_on_an_open_finding_and_follows_the_prepayment_rules(
    close, client_for
):
    loan, people, warning = _coverage_warning(close)
    url = f"/api/v1/findings/{warning.pk}/actions/"
    body = {"kind": "prepayment", "amount": "200000.00", "value_date": "2025-03-04"}
    nothing = (0, 0, 1)

    def written() -> tuple[int, int, int]:
        return (
            Prepayment.objects.count(),
            FindingAction.objects.filter(kind="prepayment").count(),
            Loan.objects.get(pk=loan.pk).schedule_version,
        )

    # the insurer may note, not prepay (403); the amount and value date are required (400)
    assert client_for(people.insurer).post(url, body, format="json").status_code == 403
    missing = client_for(people.bank).post(url, {"kind": "prepayment"}, format="json")
    assert missing.status_code == 400
    assert sorted(missing.json()["fields"]) == ["amount", "value_date"]
    # prepaying the whole principal is a settlement, not a partial prepayment (the service's rule)
    whole = client_for(people.bank).post(url, {**body, "amount": "1000000.00"}, format="json")
    assert (whole.status_code, list(whole.json()["fields"])) == (400, ["amount"])
    # with installment 1 (due 2025-03-20) unpaid, a prepayment on 2025-03-25 is refused (409)
    late = client_for(people.bank).post(url, {**body, "value_date": "2025-03-25"}, format="json")
    assert late.status_code == 409, late.json()
    assert written() == nothing
    # a resolved finding takes no cure (409 invalid_state), nothing written
    Finding.objects.filter(pk=warning.pk).update(status="resolved", resolved_on=date(2025, 3, 4))
    resolved = client_for(people.bank).post(url, body, format="json")
    assert (resolved.status_code, resolved.json()["code"]) == (409, "invalid_state")
    assert written() == nothing


def test_the_partial_prepayment_button_on_the_findings_page(close):
    loan, people, warning = _coverage_warning(close)
    client = Client(headers={"accept-language": "en"})
    client.force_login(people.bank)
    action = reverse("admin:fintech_finding_finding_action", args=[warning.pk, "prepay"])
    page = client.get(reverse("admin:fintech_finding_change", args=[warning.pk])).content.decode()
    assert action in page

    response = client.post(
        action, {"amount": "150000.00", "value_date": "2025-03-04", "recast": "keep_term", "note": ""}
    )

    assert response.status_code == 302
    step = FindingAction.objects.get(finding=warning)
    assert (step.kind, step.prepayment.principal, step.prepayment.value_date) == (
        "prepayment",
        D("150000.00"),
        date(2025, 3, 4),
    )
    # 1,299,763.94 / 850,000.00 = 1.529134
    assert loan_cover(loan, date(2025, 3, 4)).coverage == D("1.529134")
    # the insurer's staff is not offered the button, and a post of theirs changes nothing
    insurer = Client(headers={"accept-language": "en"})
    insurer.force_login(people.insurer)
    page = insurer.get(reverse("admin:fintech_finding_change", args=[warning.pk])).content.decode()
    assert action not in page
    insurer.post(action, {"amount": "1000.00", "value_date": "2025-03-04", "recast": "keep_term"})
    assert Prepayment.objects.count() == 1
