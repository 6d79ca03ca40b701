"""Fixtures of the collateral-watch tests: a fast hasher and the daily close run in process."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from fintech.models import CloseRun
from fintech.services.close import close_run_dispatch
from tests.fintech.helpers import FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def close(django_capture_on_commit_callbacks: Any) -> Callable[..., CloseRun]:
    """The daily close (and its watch) for a date, chunks run in process."""

    def run(as_of: date) -> CloseRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = close_run_dispatch(as_of)
        started.refresh_from_db()
        return started

    return run
