"""Idempotent demo data: organisations and users of every kind, printed with their credentials."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from fintech.services.demo import demo_seed


class Command(BaseCommand):
    help = "Create (once) a demo book: programme, organisations, users; print the credentials."

    def handle(self, *args: Any, **options: Any) -> None:
        with transaction.atomic():
            summary = demo_seed()
        for line in summary:
            self.stdout.write(line)
