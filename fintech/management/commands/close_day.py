"""`python manage.py close_day --as-of YYYY-MM-DD`: the daily close for a business date, waited for
to its end however many Celery workers share it; non-zero exit when it failed or did not finish
(fintech.management.dated_job)."""

from __future__ import annotations

from fintech.management.dated_job import DatedJobCommand
from fintech.models import CloseRun
from fintech.services.close import CLOSE


class Command(DatedJobCommand):
    help = "Run the daily close for a business date (overdue marking, defaults); catch up missed days."
    job = CLOSE
    waits_for = "the close"

    def figures(self, run: CloseRun) -> str:
        return (
            f"loans closed {run.loans_closed} of {run.loans_total}, installments marked overdue "
            f"{run.overdue_marked}, defaults {run.defaults_count}"
        )
