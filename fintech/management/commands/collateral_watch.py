"""`python manage.py collateral_watch --as-of YYYY-MM-DD`: the nightly collateral watch of a
business date (normally started when that date's daily close finishes), started or resumed and
waited for to its end however many Celery workers share it; non-zero exit when it failed or did
not finish (fintech.management.dated_job)."""

from __future__ import annotations

from fintech.management.dated_job import DatedJobCommand
from fintech.models import WatchRun
from fintech.services.watch import WATCH


class Command(DatedJobCommand):
    help = "Run (or resume) the collateral watch for a business date and wait for it."
    job = WATCH
    waits_for = "the watch"

    def figures(self, run: WatchRun) -> str:
        return (
            f"loans watched {run.loans_watched} of {run.loans_total}, findings raised "
            f"{run.findings_raised}, resolved {run.findings_resolved}"
        )
