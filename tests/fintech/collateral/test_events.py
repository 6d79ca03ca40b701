"""Legal-status events (DOMAIN.md section 10a): a lapse mid-term raises a critical finding at once,
a restoration resolves it, the CSV import applies many lines idempotently with a per-line report."""

from __future__ import annotations

import time
from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from fintech.errors import InvalidTransition, NotFound
from fintech.models import AuditLog, Finding, Notification, Patent, PatentEvent
from fintech.selectors.collateral import loan_cover
from fintech.services.collateral import RestorationTooLate, patent_event_record
from tests.builders import active_loan

D = Decimal
pytestmark = pytest.mark.django_db


def _pledged():
    loan, people = active_loan()  # 1,000,000.00, one invention valued 3,040,287.70 on 2025-02-01
    return loan, people, loan.pledge.items.get().patent


def test_a_lapse_mid_term_raises_a_critical_finding_at_once_and_a_restoration_resolves_it():
    loan, people, patent = _pledged()
    patent_event_record(
        actor=None,
        patent_id=patent.pk,
        code="lapse",
        event_on=date(2025, 6, 1),
        description="未缴年费专利权终止",
    )
    patent.refresh_from_db()
    assert (patent.status, patent.lapsed_on) == ("lapsed", date(2025, 6, 1))
    finding = Finding.objects.get(loan=loan)
    assert (finding.kind, finding.severity, finding.status, finding.first_seen_on) == (
        "legal_status",
        "critical",
        "open",
        date(2025, 6, 1),
    )
    # the SME, the bank and the insurer are notified
    assert set(Notification.objects.filter(finding=finding).values_list("organization_id", flat=True)) == {
        people.sme.organization_id,
        people.bank.organization_id,
        people.insurer.organization_id,
    }
    # the lapsed patent is worth nothing: coverage 0 (haircut 100 %)
    cover = loan_cover(loan, date(2025, 6, 2))
    assert (cover.collateral_value, cover.coverage, cover.level) == (D("0.00"), D("0.000000"), "shortfall")
    # restored 2025-07-15 (within lapse + 8 months): in force, the finding resolved that day
    patent_event_record(actor=None, patent_id=patent.pk, code="restoration", event_on=date(2025, 7, 15))
    patent.refresh_from_db()
    finding.refresh_from_db()
    assert (patent.status, finding.status, finding.resolved_on) == ("in_force", "resolved", date(2025, 7, 15))
    assert list(
        AuditLog.objects.filter(action__in=["patent.lapse", "patent.restoration"])
        .order_by("pk")
        .values_list("from_state", "to_state")
    ) == [("in_force", "lapsed"), ("lapsed", "in_force")]
    # value on 2025-07-16 back to 3,040,287.70 x 5372 / 5537 days of remaining term = 2,949,688.55
    assert loan_cover(loan, date(2025, 7, 16)).collateral_value == D("2949688.55")


def test_restoration_too_late_and_transitions_from_the_wrong_state_are_refused():
    _loan, _people, patent = _pledged()
    with pytest.raises(InvalidTransition):
        patent_event_record(actor=None, patent_id=patent.pk, code="restoration", event_on=date(2025, 6, 1))
    patent_event_record(actor=None, patent_id=patent.pk, code="lapse", event_on=date(2025, 6, 1))
    # lapse 2025-06-01 + 8 months = 2026-02-01 is the last day
    with pytest.raises(RestorationTooLate):
        patent_event_record(actor=None, patent_id=patent.pk, code="restoration", event_on=date(2026, 2, 2))
    assert Patent.objects.get(pk=patent.pk).status == "lapsed"
    assert PatentEvent.objects.filter(patent=patent).count() == 1


def test_event_file_applies_lines_once_with_a_per_line_report(client_for, django_capture_on_commit_callbacks):
    _loan, people, patent = _pledged()
    number = patent.application_number
    content = (
        "patent_number,event_date,event_code,description\n"
        f"{number},2025-06-01,invalidation,无效宣告\n"
        "201710601862.3,2025-06-01,lapse,unknown patent\n"
        f"{number},2025-13-01,lapse,bad date\n"
        f"{number},2025-06-02,nonsense,bad code\n"
    ).encode()
    client = client_for(people.bank)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the reasons are written in the uploader's language

    def upload():
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/v1/patent-events/",
                {"file": SimpleUploadedFile("events.csv", content, "text/csv")},
                format="multipart",
            )
        assert response.status_code == 202, response.json()
        return client.get(f"/api/v1/patent-events/{response.json()['id']}/").json()

    first = upload()
    assert (
        first["status"],
        first["lines_total"],
        first["lines_applied"],
        first["lines_skipped"],
        first["lines_rejected"],
    ) == ("done", 4, 1, 0, 3)
    assert [e["line"] for e in first["errors"]] == [3, 4, 5]
    assert first["errors"][0]["reason"] == "unknown patent"
    assert Patent.objects.get(pk=patent.pk).status == "invalidated"
    assert Finding.objects.get().kind == "legal_status"
    # the same file again: the applied line is skipped, nothing changes
    second = upload()
    assert (second["lines_applied"], second["lines_skipped"], second["lines_rejected"]) == (0, 1, 3)
    assert PatentEvent.objects.count() == 1 and Finding.objects.count() == 1
    # in Chinese, the same report in Chinese
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "zh-hans"
    assert upload()["errors"][0]["reason"] == "未知专利"
    # an SME may not upload
    assert (
        client_for(people.sme)
        .post(
            "/api/v1/patent-events/",
            {"file": SimpleUploadedFile("e.csv", content, "text/csv")},
            format="multipart",
        )
        .status_code
        == 403
    )


def test_a_bank_file_line_on_another_banks_pledged_patent_reads_as_unknown_and_changes_nothing(
    client_for, django_capture_on_commit_callbacks
):
    _loan_a, _people_a, patent_a = _pledged()  # bank A's collateral
    loan_b, people_b = active_loan()  # bank B's own loan and its pledged patent
    patent_b = loan_b.pledge.items.get().patent
    content = (
        "patent_number,event_date,event_code,description\n"
        f"{patent_a.application_number},2025-06-01,lapse,someone else's collateral\n"
        f"{patent_b.application_number},2025-06-01,lapse,our own collateral\n"
    ).encode()
    client = client_for(people_b.bank)
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            "/api/v1/patent-events/",
            {"file": SimpleUploadedFile("events.csv", content, "text/csv")},
            format="multipart",
        )
    assert response.status_code == 202, response.json()
    report = client.get(f"/api/v1/patent-events/{response.json()['id']}/").json()
    # line 2 (bank A's patent) is refused with the very reason of a patent that does not exist,
    # no state or date; line 3 (bank B's own pledged patent) applies
    assert (report["lines_applied"], report["lines_rejected"]) == (1, 1)
    assert report["errors"] == [{"line": 2, "reason": "unknown patent"}]
    patent_a.refresh_from_db()
    assert (patent_a.status, patent_a.lapsed_on) == ("in_force", None)
    assert not PatentEvent.objects.filter(patent=patent_a).exists()
    assert not Finding.objects.filter(patent=patent_a).exists()
    assert not AuditLog.objects.filter(action="patent.lapse", object_id=str(patent_a.pk)).exists()
    # the service itself refuses bank B on bank A's patent as not found
    with pytest.raises(NotFound):
        patent_event_record(
            actor=people_b.bank, patent_id=patent_a.pk, code="lapse", event_on=date(2025, 6, 1)
        )
    assert Patent.objects.get(pk=patent_a.pk).status == "in_force"


# Committed: on PostgreSQL the feed lists only what transactions already ended wrote (the test's
# own open transaction would hide its events).
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_raised_and_resolved_finding_is_in_its_banks_event_feed_and_not_in_another_banks(client_for):
    loan, people, patent = _pledged()
    _other_loan, other = active_loan()  # another bank, with a loan of its own
    patent_event_record(actor=None, patent_id=patent.pk, code="lapse", event_on=date(2025, 6, 1))
    patent_event_record(actor=None, patent_id=patent.pk, code="restoration", event_on=date(2025, 7, 15))
    finding = Finding.objects.get(loan=loan)

    def feed(user):
        rows = client_for(user).get("/api/v1/events/", {"limit": 200}).json()["results"]
        return [(e["type"], e["data"]) for e in rows if e["type"].startswith("collateral.")]

    # the loan's bank reads the finding raised on 2025-06-01 (the lapse) and resolved on 2025-07-15
    # (on PostgreSQL once the feed's horizon passed them: other work may hold it back a moment)
    deadline = time.monotonic() + 120
    while len(seen := feed(people.bank)) < 2:
        assert time.monotonic() < deadline, "the feed's horizon did not pass the test's events"
        time.sleep(0.5)
    assert [(t, d["subject"], d["loan"], d["from_state"], d["to_state"], d["details"]) for t, d in seen] == [
        (
            "collateral.finding_raised",
            {"type": "finding", "id": finding.pk},
            loan.pk,
            "",
            "open",
            {"kind": "legal_status", "severity": "critical", "patent": patent.pk, "on": "2025-06-01"},
        ),
        (
            "collateral.finding_resolved",
            {"type": "finding", "id": finding.pk},
            loan.pk,
            "open",
            "resolved",
            {"kind": "legal_status", "severity": "critical", "patent": patent.pk, "on": "2025-07-15"},
        ),
    ]
    # the loan's insurer too; another bank reads none of them
    assert len(feed(people.insurer)) == 2
    assert feed(other.bank) == []
