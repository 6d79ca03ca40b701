"""Helpers shared by the foundation's tests: table counts for "nothing was written" assertions,
request bodies, and identifiers built with their real check characters."""

from __future__ import annotations

from typing import Any, cast

from fintech.models import AuditLog, Organization, Patent, Patentee, User
from fintech.rules.identifiers import uscc_check_character
from tests.factories import OrganizationFactory, PatentFactory, SmeFactory, UserFactory

PASSWORD = "Correct-horse-9!"

# Valid USCCs (GB 32100-2015) not used by the factories (those are 91420100MA01xxxxx).
USCC_A = "91420100MA00090013"
USCC_B = "91110108551385082Q"


def table_counts() -> dict[str, int]:
    """Rows in every table the foundation writes; equal before and after a refused request."""
    return {
        model.__name__: model.objects.count() for model in (Organization, User, Patent, Patentee, AuditLog)
    }


def uscc(first17: str) -> str:
    """A USCC with its computed check character."""
    return first17 + uscc_check_character(first17)


def enterprise(**overrides: Any) -> dict[str, Any]:
    """A small software company in Wuhan (software_it, 80 employees, revenue 30,000,000.00)."""
    body: dict[str, Any] = {
        "name": "Acme Tech 光谷科技",
        "uscc": USCC_A,
        "region_code": "420100",
        "industry": "software_it",
        "employees": 80,
        "annual_revenue": "30000000.00",
        "total_assets": "20000000.00",
    }
    body.update(overrides)
    return body


def register_body(
    username: str = "acme", password: str = PASSWORD, **enterprise_overrides: Any
) -> dict[str, Any]:
    return {"username": username, "password": password, "enterprise": enterprise(**enterprise_overrides)}


# Django's default PBKDF2 costs a few hundred milliseconds a user; these tests check who may log
# in and what they see, not the hash, so they use a fast hasher.
FAST_PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


# Typed front doors to the factories (calling a factory class is typed as returning the factory).
def make_org(**kwargs: Any) -> Organization:
    return cast(Organization, OrganizationFactory(**kwargs))


def make_sme(**kwargs: Any) -> Organization:
    return cast(Organization, SmeFactory(**kwargs))


def make_user(**kwargs: Any) -> User:
    return cast(User, UserFactory(**kwargs))


def make_patent(**kwargs: Any) -> Patent:
    return cast(Patent, PatentFactory(**kwargs))
