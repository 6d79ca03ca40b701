"""`python manage.py collateral_watch --as-of YYYY-MM-DD`: the nightly collateral watch of a
business date (normally started when that date's daily close finishes), started or resumed and
waited for to its end however many Celery workers share it; non-zero exit when it failed or did
not finish."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from fintech.errors import DomainError
from fintech.models import RunStatus, WatchRun
from fintech.services.common import business_today
from fintech.services.watch import CHUNK_SIZE, WAIT_SECONDS, watch_day


def _business_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of: {text!r} is not a date YYYY-MM-DD.") from exc


class Command(BaseCommand):
    help = "Run (or resume) the collateral watch for a business date and wait for it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", type=str, default=None, help="Business date YYYY-MM-DD (default: today)."
        )
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help="Loans per Celery task.")
        parser.add_argument(
            "--timeout", type=float, default=WAIT_SECONDS, help="Seconds to wait for the watch."
        )

    @no_translations  # an operator's command: wholly English, the services' refusals too
    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _business_date(options["as_of"]) if options["as_of"] else business_today()
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        try:
            run = watch_day(
                as_of, chunk_size=options["chunk_size"], timeout=options["timeout"], progress=self._progress
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"collateral watch {run.as_of} (run {run.pk}): {run.status}; chunks "
            f"{run.chunks_done}/{run.chunks_total}, loans watched {run.loans_watched} of "
            f"{run.loans_total}, findings raised {run.findings_raised}, resolved {run.findings_resolved}"
        )
        if run.status != RunStatus.DONE:
            detail = run.error or f"not finished within {options['timeout']:g} s; run it again to resume"
            raise CommandError(f"collateral watch {run.as_of} (run {run.pk}) {run.status}: {detail}")

    def _progress(self, run: WatchRun) -> None:
        """One line on stderr whenever a chunk finishes or a stalled one is queued again."""
        healed = f", {run.chunks_requeued} stalled chunks queued again" if run.chunks_requeued else ""
        chunks = f"chunks {run.chunks_done}/{run.chunks_total}{healed}"
        self.stderr.write(f"collateral watch {run.as_of} (run {run.pk}): {chunks}")
