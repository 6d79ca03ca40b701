"""Fixtures of the collateral-watch tests: a fast hasher, and the daily close run in process with the
watch job its finish starts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest

from fintech.models import WatchRun
from fintech.services.close import close_run_dispatch
from tests.fintech.helpers import FAST_PASSWORD_HASHERS


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    settings.PASSWORD_HASHERS = FAST_PASSWORD_HASHERS


@pytest.fixture
def close(django_capture_on_commit_callbacks: Any) -> Callable[..., WatchRun]:
    """The daily close for a date, chunks run in process; its finish starts the date's watch job
    (on commit), whose chunks run in process too. Returns the date's watch run."""

    def run(as_of: date) -> WatchRun:
        with django_capture_on_commit_callbacks(execute=True):
            close_run_dispatch(as_of)
        return WatchRun.objects.get(as_of=as_of)

    return run
