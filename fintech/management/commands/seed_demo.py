"""Idempotent demo data: organisations and users of every kind, printed with their credentials."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.commands.runserver import naiveip_re

from fintech.demo import demo_seed


def base_url(address: str) -> str:
    """The URL `runserver ADDRESS` serves, for the same forms it accepts: `8000`, `0.0.0.0:9000`,
    `localhost:8001`, `[::1]:8000`."""
    match = naiveip_re.match(address)
    if match is None:
        raise CommandError(f'"{address}" is not a port number or address:port pair.')
    return f"http://{match['addr'] or '127.0.0.1'}:{match['port']}"


class Command(BaseCommand):
    help = "Create (once) the demo book: parties, loans on time, late and defaulted, subsidy runs; print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--address",
            default="127.0.0.1:8000",
            help="the address the server runs on (as given to runserver), for the URLs printed",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        url = base_url(options["address"])
        # Not one transaction: each step is a service with its own, and the daily close and the
        # subsidy runs wait for committed work (on the embedded default their tasks run in process).
        for line in demo_seed():
            self.stdout.write(line)
        self.stdout.write(f"Admin: {url}/admin/ (log in as 'platform', 'bank', 'insurer' or 'regulator')")
        self.stdout.write(f"API docs: {url}/api/v1/docs/ (ReDoc: {url}/api/v1/redoc/)")
