"""`manage.py collateral_watch`: the operator's start (or resume) of a date's watch, waited for to
its end; it waits for committed work, so these tests commit (transactional database)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from fintech.models import Finding, Patent, WatchRun
from tests.builders import active_loan

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def _command(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("collateral_watch", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_the_command_runs_the_watch_of_a_date_and_a_second_run_changes_nothing():
    # given the standard loan, its invention paid through fee year 5 (year 6 due 2025-04-01)
    loan, _people = active_loan()
    Patent.objects.filter(pk=loan.pledge.items.get().patent_id).update(fees_paid_through_year=5)

    # when the operator runs the watch for 2025-03-10 (the fee due in 22 days <= 30)
    out, err = _command("--as-of", "2025-03-10", "--chunk-size", "1")

    # then it waited for the run's one chunk and printed its counts
    run = WatchRun.objects.get()
    assert out == (
        f"collateral watch 2025-03-10 (run {run.pk}): done; chunks 1/1, loans watched 1 of 1, "
        "findings raised 1, resolved 0\n"
    )
    assert f"collateral watch 2025-03-10 (run {run.pk}): chunks 1/1" in err
    assert Finding.objects.get(loan=loan).kind == "fee_due"

    # when it runs again for the date: the same run, done, nothing new
    out, _err = _command("--as-of", "2025-03-10")
    assert out.startswith(f"collateral watch 2025-03-10 (run {run.pk}): done; chunks 1/1")
    assert (WatchRun.objects.count(), Finding.objects.count()) == (1, 1)


@pytest.mark.parametrize(
    ("as_of", "message"), [("2025-02-30", "not a date"), ("2999-01-01", "in the future")]
)
def test_a_bad_date_exits_non_zero_and_starts_nothing(as_of, message):
    with pytest.raises(CommandError) as refused:
        _command("--as-of", as_of)
    assert message in str(refused.value)
    assert WatchRun.objects.count() == 0
