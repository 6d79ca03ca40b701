"""Schemathesis against the live schema (served by the app itself, /api/v1/schema/), as an SME, a
bank, an insurer and a regulator, over seeded objects: the {id} of every operation is set to an
object of the caller's own cast (explicit parameters), so the fuzzer reaches the operation instead
of stopping at 404. No server error, and every documented response conforms to the schema."""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hsettings
from rest_framework_simplejwt.tokens import AccessToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from .conftest import figure, seed

pytestmark = [pytest.mark.proof, pytest.mark.django_db]

ROLES = ("sme", "bank", "insurer", "regulator")
EXAMPLES = int(os.environ.get("PROOF_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def in_process_app():
    # The app runs in this thread on the test's transaction, as Django's test client does: its
    # request signals must not close the connection the test holds.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def test_schemathesis_finds_no_server_error(in_process_app, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}
    world = seed()
    schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", in_process_app)
    operations = [result.ok() for result in schema.get_all_operations()]
    calls = server_errors = nonconforming = 0
    failures: list[str] = []

    for role in ROLES:
        user = world.roles[role]
        assert user is not None
        headers = {"Authorization": f"Bearer {AccessToken.for_user(user)}", "Accept-Language": "en"}
        for operation in operations:
            resource = operation.path.split("/")[3] if "{id}" in operation.path else None

            @given(case=operation.as_strategy())
            @hsettings(
                max_examples=EXAMPLES,
                deadline=None,
                database=None,
                derandomize=True,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            def run(case: Any) -> None:
                # run() is called at once, inside this iteration: the loop variables are current.
                nonlocal calls, server_errors, nonconforming
                if resource:  # noqa: B023
                    case.path_parameters = {**(case.path_parameters or {}), "id": world.own[resource]}  # noqa: B023
                response = case.call(headers=headers)  # noqa: B023
                calls += 1
                where = f"{case.method} {case.formatted_path} as {role} -> {response.status_code}"  # noqa: B023
                if response.status_code >= 500:
                    server_errors += 1
                    failures.append(f"5xx: {where} {response.text[:200]}")
                    return
                try:
                    case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])
                except Exception as exc:  # a failed check: reported below, the run goes on
                    nonconforming += 1
                    failures.append(f"non-conforming: {where}: {str(exc)[:300]}")

            run()

    figure(
        "fuzz",
        f"fuzz operations={len(operations)} roles={len(ROLES)} calls={calls} 5xx={server_errors} "
        f"nonconforming={nonconforming}",
    )
    assert not failures, "\n".join(failures[:30])
