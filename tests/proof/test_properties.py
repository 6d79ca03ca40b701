"""Property-level checks on every writable endpoint: a field the response shows but the request
schema does not take (id, status, owner, organisation, computed amounts, audit stamps...) cannot be
set by the caller. Every POST of the schema gets its request body plus each such field with a
hostile value, from every role; where the write is accepted (2xx), none of the injected values may
show in the answer or in the stored record."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.fintech.helpers import USCC_B

from .conftest import client_for, figure, seed
from .openapi import operations, sample

pytestmark = [pytest.mark.proof, pytest.mark.django_db]

HOSTILE_ID = 1_999_999_999
HOSTILE_TEXT = "INJECTED"


def _hostile(node: dict[str, Any], name: str) -> Any:
    kind = node.get("type")
    if kind == "integer":
        return HOSTILE_ID
    if kind == "boolean":
        return True
    if kind == "array":
        return [HOSTILE_ID]
    if kind == "object":
        return {"id": HOSTILE_ID}
    if node.get("format") == "date":
        return "2016-01-01"
    if node.get("format") == "date-time":
        return "2016-01-01T00:00:00+08:00"
    if "enum" in node:
        # Not a member: a member could be the operation's own outcome (declaring a default makes
        # the loan "defaulted") and look taken; a blindly assigned field shows this text instead.
        return HOSTILE_TEXT
    return "999999.99" if any(w in name for w in ("amount", "balance", "part", "premium")) else HOSTILE_TEXT


def _valid_bodies(world: Any) -> dict[str, dict[str, Any]]:
    """Bodies that the caller of the own cast may send successfully (the generic sample otherwise)."""
    return {
        "risk_fund_top_ups_create": {
            "program": world.program_id,
            "amount": "10.00",
            "received_on": "2025-06-01",
        },
        "loans_repayments_create": {
            "amount": "10.00",
            "paid_on": "2025-03-05",
            "transaction_id": uuid.uuid4().hex,
        },
        "auth_register_create": {
            "username": f"prop-{uuid.uuid4().hex[:8]}",
            "password": "Correct-horse-9!",
            "enterprise": {
                "name": "Property Tech",
                "uscc": USCC_B,
                "region_code": "420100",
                "industry": "software_it",
                "employees": 80,
                "annual_revenue": "30000000.00",
                "total_assets": "20000000.00",
            },
        },
        "patents_create": {
            "application_number": "201710601862.3",
            "title": "Optical fibre coupler",
            "patent_type": "invention",
            "filing_date": "2017-07-20",
            "grant_date": "2019-03-01",
            "patentees": [],  # filled in below with the SME's own name and code
            "claims_count": 12,
        },
    }


def _found(value: Any, injected: Any) -> bool:
    return value == injected and value not in (None, "", [], {}, True)


def test_fields_a_caller_must_not_set_stay_unchanged(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}
    world = seed()
    valid = _valid_bodies(world)
    sme = world.roles["sme"]
    assert sme is not None and sme.organization is not None
    valid["patents_create"]["patentees"] = [{"name": sme.organization.name, "uscc": sme.organization.uscc}]

    protected: set[tuple[str, str]] = set()
    accepted = changed = 0
    findings: list[str] = []
    for op in operations():
        if op.method not in ("post", "put", "patch") or op.request_schema is None:
            continue
        if op.request_schema.get("properties", {}).get("file"):
            continue  # the multipart upload takes one file and nothing else
        taken = set(op.request_schema.get("properties", {}))
        shown: dict[str, Any] = {}
        for status, schema in op.response_schemas.items():
            if status.startswith("2"):
                shown.update(schema.get("properties", {}))
        extra = {name: _hostile(node, name) for name, node in shown.items() if name not in taken}
        if not extra:
            continue
        protected.update((op.operation_id, name) for name in extra)
        object_id = world.own.get(op.resource) if op.resource else None
        base = valid.get(op.operation_id) or sample(op.request_schema, ids=world.own)
        for role, user in world.roles.items():
            response = client_for(user).post(op.url(object_id), {**base, **extra}, format="json")
            assert response.status_code < 500, (op.operation_id, role, response.content[:300])
            if not 200 <= response.status_code < 300:
                continue
            accepted += 1
            body = response.json()
            for name, value in extra.items():
                if isinstance(body, dict) and _found(body.get(name), value):
                    changed += 1
                    findings.append(f"{op.operation_id} as {role}: {name}={value!r} was taken")

    figure("properties", f"fields writable={len(protected)} accepted_writes={accepted} changed={changed}")
    assert accepted >= 4  # the valid bodies above were accepted with the hostile fields ignored
    assert not findings, "\n".join(findings)
