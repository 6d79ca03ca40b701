"""The collateral watch as its own job on the chunk engine (services.watch): started once per date
by the daily close's finish, chunks of loans by id range, findings raised once however often a
chunk runs."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone

from fintech.models import AuditLog, CloseRun, Finding, Loan, Notification, Patent, WatchChunk, WatchRun
from fintech.services import batch
from fintech.services import close as close_service
from fintech.services import collateral as collateral_service
from fintech.services.collateral import patent_event_record
from fintech.services.watch import watch_chunk_process, watch_run_dispatch, watch_run_start
from tests.builders import active_loan, cast

D = Decimal
pytestmark = pytest.mark.django_db
JUNE_2 = date(2025, 6, 2)


def _book():
    """Two standard loans (1,000,000.00 each, inventions filed 2020-04-01, appraised 3,040,287.70
    on 2025-02-01, valid 12 months): A's patent paid through fee year 5 (year 6, 1,200.00, due
    2025-04-01, grace until 2025-10-01); B's patent invalidated on 2025-06-01."""
    people = cast()
    a, _ = active_loan(people=people)
    b, _ = active_loan(people=people)
    Patent.objects.filter(pk=a.pledge.items.get().patent_id).update(fees_paid_through_year=5)
    patent_b = b.pledge.items.get().patent
    Patent.objects.filter(pk=patent_b.pk).update(fees_paid_through_year=6)
    patent_event_record(actor=None, patent_id=patent_b.pk, code="invalidation", event_on=date(2025, 6, 1))
    return a, b, people


def _run_job(capture: Any, as_of: date, **kwargs: Any) -> WatchRun:
    with capture(execute=True):
        run = watch_run_dispatch(as_of, **kwargs)
    run.refresh_from_db()
    return run


def test_the_job_raises_the_findings_of_a_small_book_with_their_figures(django_capture_on_commit_callbacks):
    a, b, _people = _book()
    # B's invalidation raised its critical legal-status finding at once (not the watch's)
    assert Finding.objects.filter(kind="legal_status").count() == 1

    run = _run_job(django_capture_on_commit_callbacks, JUNE_2, chunk_size=1)

    # one chunk per loan, both done, the counts from the chunks
    assert (run.status, run.chunks_total, run.chunks_done, run.loans_total, run.loans_watched) == (
        "done",
        2,
        2,
        2,
        2,
    )
    assert (run.findings_raised, run.findings_resolved) == (2, 0)
    # A: fee year 6 in its 3rd month of grace on 06-02 (after 05-01 and 06-01): 1,200.00 + 10 %
    # surcharge = 1,320.00, deadline the end of grace 2025-10-01, a warning
    grace = Finding.objects.get(loan=a, kind="fee_in_grace")
    assert (grace.severity, grace.amount, grace.deadline_on, grace.first_seen_on) == (
        "warning",
        D("1320.00"),
        date(2025, 10, 1),
        JUNE_2,
    )
    assert grace.detail == {
        "fee_year": 6,
        "due_on": "2025-04-01",
        "grace_ends_on": "2025-10-01",
        "surcharge": "120.00",
    }
    # B: the invalidated patent is worth 0 (haircut 100 %): 0.00 / 1,000,000.00 = 0 < 1.2
    short = Finding.objects.get(loan=b, kind="coverage_shortfall")
    assert (short.severity, short.amount, short.detail) == (
        "critical",
        D("0.00"),
        {"coverage": "0.000000", "collateral_value": "0.00", "outstanding_principal": "1000000.00"},
    )
    assert Finding.objects.filter(status="open").count() == 3
    # the SME, the bank and the insurer are told of each finding the watch raised
    assert Notification.objects.filter(finding__in=[grace, short], event="raised").count() == 6
    # audited: the start and the finish of the run
    audited = AuditLog.objects.filter(action__startswith="collateral_watch.", object_id=str(run.pk))
    assert sorted(audited.values_list("action", flat=True)) == [
        "collateral_watch.finish",
        "collateral_watch.start",
    ]

    # the next night sees them again: nothing raised, last seen moves
    later = _run_job(django_capture_on_commit_callbacks, date(2025, 6, 3), chunk_size=1)
    assert (later.findings_raised, later.findings_resolved) == (0, 0)
    grace.refresh_from_db()
    assert (grace.first_seen_on, grace.last_seen_on) == (JUNE_2, date(2025, 6, 3))
    assert Finding.objects.count() == 3


def test_two_closes_of_a_date_start_one_watch_run(close):
    loan, people = active_loan()
    Patent.objects.filter(pk=loan.pledge.items.get().patent_id).update(fees_paid_through_year=5)

    first = close(date(2025, 3, 10))
    # a loan the first close did not see (disbursed that day, recorded after it): a second close
    # run for the date has it to close, and finishes too
    active_loan(people=people, disbursed_on=date(2025, 3, 10))
    again = close(date(2025, 3, 10))
    assert [r.status for r in CloseRun.objects.filter(as_of=date(2025, 3, 10)).order_by("pk")] == [
        "done",
        "done",
    ]
    assert CloseRun.objects.filter(as_of=date(2025, 3, 10)).order_by("pk").last().chunks_total == 1

    # one watch run for the date, started once (one start audited), its fee finding raised once
    assert again.pk == first.pk
    assert WatchRun.objects.filter(as_of=date(2025, 3, 10)).count() == 1
    assert AuditLog.objects.filter(action="collateral_watch.start").count() == 1
    assert Finding.objects.filter(loan=loan, kind="fee_due").count() == 1
    # and the database refuses a second run of the date
    with pytest.raises(IntegrityError), transaction.atomic():
        WatchRun.objects.create(as_of=date(2025, 3, 10))


def test_a_chunk_retried_after_a_failure_raises_its_findings_once(monkeypatch, settings):
    _book()
    run = watch_run_start(JUNE_2, chunk_size=10)
    chunk = WatchChunk.objects.get(run=run)
    real_notify = collateral_service._notify
    calls = {"n": 0}

    def notify_then_fail(findings, event):
        # the findings are inserted, then the database goes away before the chunk commits
        real_notify(findings, event)
        calls["n"] += 1
        if calls["n"] == 1:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(collateral_service, "_notify", notify_then_fail)
    with pytest.raises(OperationalError):
        watch_chunk_process(chunk.pk, retries=0)
    # nothing of the attempt is kept
    assert Finding.objects.filter(kind__in=["fee_in_grace", "coverage_shortfall"]).count() == 0

    # the task's retry, then a duplicate delivery of the same message
    watch_chunk_process(chunk.pk, retries=1)
    watch_chunk_process(chunk.pk, retries=0)

    chunk.refresh_from_db()
    run.refresh_from_db()
    assert (chunk.status, chunk.attempts, chunk.findings_raised) == ("done", 2, 2)
    assert (run.status, run.findings_raised, run.chunks_done) == ("done", 2, 1)
    assert Finding.objects.filter(kind__in=["fee_in_grace", "coverage_shortfall"]).count() == 2
    assert Notification.objects.filter(event="raised", finding__kind="fee_in_grace").count() == 3


def test_a_watch_start_lost_after_the_close_is_made_by_the_watchdog(
    close, monkeypatch, settings, django_capture_on_commit_callbacks
):
    # given the standard loan whose invention's year-6 fee (1,200.00) is due 2025-04-01, and a
    # broker that loses the message starting the watch when the close of 2025-03-10 finishes
    loan, _people = active_loan()
    Patent.objects.filter(pk=loan.pledge.items.get().patent_id).update(fees_paid_through_year=5)
    monkeypatch.setattr(close_service, "enqueue_on_commit", lambda *args, **kwargs: None)

    # when the close of the date runs to its end
    reserved = close(date(2025, 3, 10))

    # then the date's watch run exists from the close's own commit, pending, nothing watched yet
    assert (reserved.status, reserved.chunks_total, reserved.loans_total) == ("pending", 0, 0)
    assert Finding.objects.filter(kind="fee_due").count() == 0
    # a pass of the watchdog within the heartbeat deadline leaves it (its start may be queued)
    batch.watchdog()
    assert WatchRun.objects.get(pk=reserved.pk).status == "pending"

    # when the watchdog passes after the deadline (tasks run in process)
    later = timezone.now() + timedelta(seconds=settings.BATCH_HEARTBEAT_SECONDS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        found = batch.watchdog(now=later)
    assert found == {"stalled": 0, "requeued": 0, "failed": 0}

    # then it started the run and its one chunk watched the loan: the fee is due in 22 days
    # (<= 30), an info finding of 1,200.00 with the due date as deadline
    run = WatchRun.objects.get(as_of=date(2025, 3, 10))
    assert run.pk == reserved.pk
    assert (run.status, run.chunks_total, run.chunks_done, run.loans_total, run.loans_watched) == (
        "done",
        1,
        1,
        1,
        1,
    )
    assert (run.findings_raised, run.findings_resolved) == (1, 0)
    due = Finding.objects.get(loan=loan, kind="fee_due")
    assert (due.severity, due.amount, due.deadline_on, due.first_seen_on) == (
        "info",
        D("1200.00"),
        date(2025, 4, 1),
        date(2025, 3, 10),
    )
    assert AuditLog.objects.filter(action="collateral_watch.start", object_id=str(run.pk)).count() == 1

    # a second close of the date (its start message lost again) and another pass start nothing new
    close(date(2025, 3, 10))
    with django_capture_on_commit_callbacks(execute=True) as queued:
        batch.watchdog(now=later + timedelta(days=1))
    assert queued == []
    assert WatchRun.objects.filter(as_of=date(2025, 3, 10)).count() == 1
    assert AuditLog.objects.filter(action="collateral_watch.start").count() == 1
    assert Finding.objects.filter(loan=loan).count() == 1


def test_a_fee_finding_follows_the_surcharge_and_an_older_night_rewinds_nothing():
    a, _b, _people = _book()
    loans = Loan.objects.filter(pk=a.pk)
    # 2025-05-02: A's year-6 fee (1,200.00, due 2025-04-01) in its 2nd month of grace: + 5 % = 60.00
    assert collateral_service.collateral_watch(loans, date(2025, 5, 2))["findings_raised"] == 1
    grace = Finding.objects.get(loan=a, kind="fee_in_grace")
    assert (grace.amount, grace.deadline_on, grace.detail["surcharge"]) == (
        D("1260.00"),
        date(2025, 10, 1),
        "60.00",
    )
    # 2025-06-02, its 3rd month: + 10 % = 120.00, the same finding (first seen 05-02) follows
    counts = collateral_service.collateral_watch(loans, JUNE_2)
    assert counts == {"loans_watched": 1, "findings_raised": 0, "findings_resolved": 0}
    grace.refresh_from_db()
    assert (grace.amount, grace.detail["surcharge"], grace.first_seen_on, grace.last_seen_on) == (
        D("1320.00"),
        "120.00",
        date(2025, 5, 2),
        JUNE_2,
    )
    # a night older than the last one seen changes nothing: not the 2nd month's figures again, and on
    # 2025-03-01 (the fee 31 days away, beyond the 30 days' notice: nothing wanted) nothing resolved
    for older in (date(2025, 5, 3), date(2025, 3, 1)):
        counts = collateral_service.collateral_watch(loans, older)
        assert (counts["findings_raised"], counts["findings_resolved"]) == (0, 0)
        grace.refresh_from_db()
        assert (grace.status, grace.amount, grace.last_seen_on) == ("open", D("1320.00"), JUNE_2)
    assert Finding.objects.filter(loan=a).count() == 1
