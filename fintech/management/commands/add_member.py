"""Onboard a bank, insurer, appraiser, regulator or platform member (API.md "Management commands")."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from fintech.errors import DomainError
from fintech.models import OrganizationKind
from fintech.services.parties import member_add


class Command(BaseCommand):
    help = "Create the organisation (found by its USCC) if it is missing, and a user in it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--kind", required=True, choices=[k for k in OrganizationKind.values if k != "sme"]
        )
        parser.add_argument("--org", required=True, help="organisation name")
        parser.add_argument("--uscc", required=True)
        parser.add_argument("--region", required=True, help="GB/T 2260 region code, e.g. 420100")
        parser.add_argument("--username", required=True)
        parser.add_argument("--password", required=True)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = member_add(
                kind=options["kind"],
                org_name=options["org"],
                uscc=options["uscc"],
                region_code=options["region"],
                username=options["username"],
                password=options["password"],
            )
        except DomainError as exc:
            detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.fields.items())
            raise CommandError(f"{exc.message}{' (' + detail + ')' if detail else ''}") from exc
        org = user.organization
        assert org is not None
        self.stdout.write(f"{org.kind} {org.name} (id {org.pk}, USCC {org.uscc}): user {user.username} added")
