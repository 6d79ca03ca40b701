"""Fixtures of the subsidy tests: two regulator users of one Wuhan regulator (four eyes), and a
`compute` helper that starts a run and lets its Celery chunks run in process on commit."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from fintech.models import SubsidyRun, User
from fintech.services.subsidies import subsidy_run_start
from tests.factories import wuhan_program

from .helpers import regulator, regulator_org


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    # Each test makes half a dozen users; the production hasher's cost is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@dataclass
class Regulators:
    starter: User
    checker: User


@pytest.fixture
def regulators(db: None) -> Regulators:
    org = regulator_org()
    return Regulators(starter=regulator(org), checker=regulator(org))


@pytest.fixture
def compute(regulators: Regulators, django_capture_on_commit_callbacks: Any) -> Callable[..., SubsidyRun]:
    """compute("2024Q3") starts a Wuhan run as the starter and runs its chunks (in process, after
    the start commits, as a worker would); returns the run reloaded."""

    def run(period: str, *, actor: User | None = None, chunk_size: int = 500) -> SubsidyRun:
        with django_capture_on_commit_callbacks(execute=True):
            started = subsidy_run_start(
                actor=actor or regulators.starter,
                program_id=wuhan_program().pk,
                period=period,
                chunk_size=chunk_size,
            )
        started.refresh_from_db()
        return started

    return run
