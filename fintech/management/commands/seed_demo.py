"""Idempotent demo data: organisations and users of every kind, printed with their credentials."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from fintech.services.demo import demo_seed


class Command(BaseCommand):
    help = "Create (once) the demo book: parties, loans on time, late and defaulted, subsidy runs; print it."

    def handle(self, *args: Any, **options: Any) -> None:
        # Not one transaction: each step is a service with its own, and the daily close and the
        # subsidy runs wait for committed work (on the embedded default their tasks run in process).
        for line in demo_seed():
            self.stdout.write(line)
