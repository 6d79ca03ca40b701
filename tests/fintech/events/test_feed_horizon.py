"""The feed never lets a reader pass an event still being written (PostgreSQL): an event of a
transaction that is still open holds back the events committed after it, whatever their ids."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.db import connection, transaction

from fintech.models import Loan
from fintech.selectors.events import event_feed
from fintech.services.events import Change, events_emit
from tests.builders import active_loan, cast

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _feed_ids(user: Any, after: str | None = None) -> tuple[list[int], str | None]:
    events, cursor = event_feed(user, after=after, types=["repayment.posted"], limit=200)
    return [e.pk for e in events], cursor


def test_a_late_commit_is_not_skipped_by_a_reader_already_past_it(platform_user: Any) -> None:
    people = cast()
    first, second = active_loan(people=people)[0], active_loan(people=people)[0]
    written, release, done = threading.Event(), threading.Event(), threading.Event()
    slow: dict[str, int] = {}

    def slow_writer() -> None:
        # A transaction that writes an event (the lower id) and stays open until released
        try:
            with transaction.atomic():
                events_emit("repayment.posted", Loan, [Change(first.pk, {"amount": "1.00"})])
                slow["id"] = max(e for e in _ids_in_this_transaction())
                written.set()
                release.wait(30)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_writer)
    thread.start()
    assert written.wait(30)
    # When a second transaction writes an event (a higher id) and commits first
    with transaction.atomic():
        events_emit("repayment.posted", Loan, [Change(second.pk, {"amount": "2.00"})])
    # Then a reader sees neither yet: the committed one waits behind the open one
    seen, cursor = _feed_ids(platform_user)
    assert seen == []
    # When the slow transaction commits, the reader gets both, in commit order of transactions
    release.set()
    assert done.wait(30)
    thread.join()
    # (other work on the same server may hold the horizon back a moment: a delay, never a loss)
    deadline = time.monotonic() + 120
    while len(seen := _feed_ids(platform_user, cursor)[0]) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(seen) == 2 and seen[0] == slow["id"]


def _ids_in_this_transaction() -> list[int]:
    from fintech.models import Event

    return list(Event.objects.filter(type="repayment.posted").values_list("pk", flat=True))
