"""Fixtures of the risk-pool tests: the standard loan, active or defaulted, and its parties."""

from __future__ import annotations

from typing import Any

import pytest

from fintech.models import LossEvent

from .helpers import World, active_world, defaulted_world


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # A dozen users a test; the production hasher's cost is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(db: None) -> World:
    return active_world()


@pytest.fixture
def defaulted(db: None) -> tuple[World, LossEvent]:
    return defaulted_world()
