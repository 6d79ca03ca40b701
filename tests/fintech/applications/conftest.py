"""Fixtures of the application tests: the standard parties of one Wuhan application (`world`), and
the cast of the admin review screens (tests/fintech/admin/conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fintech.admin.conftest import (  # noqa: F401  (fixtures)
    _admin_test_settings,
    cast,
    login,
    make_application,
    superuser,
)

from .helpers import World, make_world


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Every test makes half a dozen users; the production hasher's cost is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db: None) -> World:
    """The Wuhan programme, an SME and the bank, insurer, appraisal firm and regulator it deals with,
    each with one user who has an e-mail address, all in Wuhan (420100)."""
    return make_world()
