"""The authorisation matrix, generated from the OpenAPI schema: every operation x every role x (for
operations on an {id}) the role's own object and another organisation's.

A leak is any of:
- another organisation's object answered with 2xx;
- a response containing a canary of cast B (its SME's name or USCC, its patent's title) for a role
  to whom cast B is someone else's;
- a write on another organisation's object that changed any table.
Server errors are counted apart and must be zero too. "Existence disclosed" counts answers other
than 401/403/404 on another organisation's object (a 400 or 409 says the id exists); reported.
"""

from __future__ import annotations

import json

import pytest

from .conftest import client_for, figure, seed, table_counts
from .openapi import operations, sample

pytestmark = [pytest.mark.proof, pytest.mark.django_db]

HIDDEN = {401, 403, 404}


def _call(client, op, url, body):
    if op.method == "get":
        return client.get(url)
    if op.request_schema and op.request_schema.get("properties", {}).get("file"):
        return client.post(url, {"file": _csv()}, format="multipart")
    return getattr(client, op.method)(url, body, format="json")


def _csv():
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("day.csv", b"loan,amount,value_date,transaction_id\n", content_type="text/csv")


# Records of a programme (no twin of another organisation): their "other" cell is an id that
# does not exist, foreign to every role.
SHARED = {"settlements", "subsidy-runs", "programs", "scenarios"}


def test_authorisation_matrix():
    world = seed()
    ops = operations()
    assert len(ops) >= 48  # the API as of this test; new endpoints only add cells

    cells = leaks = server_errors = disclosed = 0
    findings: list[str] = []
    # Other organisations' objects first: the own cells below may change the objects' states.
    for pass_ in ("other", "own"):
        for op in ops:
            if pass_ == "other" and op.resource is None:
                continue
            for role, user in world.roles.items():
                ids = world.own if pass_ == "own" else world.other
                object_id = ids.get(op.resource) if op.resource else None
                if op.resource and object_id is None:
                    object_id = 2_000_000_000
                body = sample(op.request_schema, ids=world.own) if op.request_schema else None
                foreign = pass_ == "other" and (
                    world.foreign_to[role]
                    or op.resource in {"settlements", "subsidy-runs", "programs", "scenarios"}
                )
                before = table_counts() if foreign and op.method != "get" else None
                response = _call(client_for(user), op, op.url(object_id), body)
                cells += 1
                where = f"{op.method.upper()} {op.path} as {role} ({pass_})"
                if response.status_code >= 500:
                    server_errors += 1
                    findings.append(f"5xx: {where}")
                    continue
                text = response.content.decode(errors="replace")
                if foreign and 200 <= response.status_code < 300:
                    leaks += 1
                    findings.append(f"2xx on another's object: {where}")
                elif foreign and response.status_code not in HIDDEN:
                    disclosed += 1
                if world.foreign_to[role] and any(c in text for c in world.canaries):
                    leaks += 1
                    findings.append(f"canary in response: {where}")
                if before is not None and table_counts() != before:
                    leaks += 1
                    findings.append(f"write on another's object: {where}")
                if response.status_code >= 400 and response.get("Content-Type", "").startswith(
                    "application/json"
                ):
                    payload = json.loads(text)
                    assert {"code", "message"} <= set(payload), where

    figure(
        "authz",
        f"authz cells={cells} leaks={leaks} server_errors={server_errors} existence_disclosed={disclosed}",
    )
    assert not findings, "\n".join(findings)
