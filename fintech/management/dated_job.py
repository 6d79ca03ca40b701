"""The operator's command of a dated job (services.batch.DatedJob: the daily close, the collateral
watch): `--as-of YYYY-MM-DD` (default today), the run started or resumed and waited for to its end
however many Celery workers share it, its progress on stderr, its figures on stdout; non-zero exit
when it failed or did not finish. A command names its job and words its figures."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, no_translations

from fintech.errors import DomainError
from fintech.models import RunStatus
from fintech.services.batch import DatedJob
from fintech.services.common import business_today


def _business_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"--as-of: {text!r} is not a date YYYY-MM-DD.") from exc


class DatedJobCommand(BaseCommand):
    """A subclass sets `job`, `help`, `waits_for` (the --timeout help's end, e.g. "the close") and
    `figures` (the run's own counts after its chunks, on stdout)."""

    job: DatedJob[Any]
    waits_for: str

    def figures(self, run: Any) -> str:
        raise NotImplementedError

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--as-of", type=str, default=None, help="Business date YYYY-MM-DD (default: today)."
        )
        parser.add_argument(
            "--chunk-size", type=int, default=self.job.chunk_size, help="Loans per Celery task."
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=self.job.wait_seconds,
            help=f"Seconds to wait for {self.waits_for}.",
        )

    @no_translations  # an operator's command: wholly English, the services' refusals too
    def handle(self, *args: Any, **options: Any) -> None:
        as_of = _business_date(options["as_of"]) if options["as_of"] else business_today()
        if options["chunk_size"] < 1:
            raise CommandError("--chunk-size must be at least 1.")
        try:
            run = self.job.day(
                as_of, chunk_size=options["chunk_size"], timeout=options["timeout"], progress=self._progress
            )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        chunks = f"chunks {run.chunks_done}/{run.chunks_total}"
        self.stdout.write(f"{self._name(run)}: {run.status}; {chunks}, {self.figures(run)}")
        if run.status != RunStatus.DONE:
            detail = run.error or f"not finished within {options['timeout']:g} s; run it again to resume"
            raise CommandError(f"{self._name(run)} {run.status}: {detail}")

    def _name(self, run: Any) -> str:
        return f"{self.job.title} {run.as_of} (run {run.pk})"

    def _progress(self, run: Any) -> None:
        """One line on stderr whenever a chunk finishes or a stalled one is queued again."""
        healed = f", {run.chunks_requeued} stalled chunks queued again" if run.chunks_requeued else ""
        self.stderr.write(f"{self._name(run)}: chunks {run.chunks_done}/{run.chunks_total}{healed}")
