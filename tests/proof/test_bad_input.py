"""The bad-input corpus: money as floats with 3 places, exponents, NaN, Infinity, negatives, 20 digits;
impossible and out-of-range dates; 10,000-character strings; arrays for objects; nesting 10,000
deep; 20 MB bodies; wrong content types; absurd pages; oversized headers. Every case is a 4xx in the
error shape of API.md and writes nothing. Each endpoint's valid body is sent last and must succeed,
so the corpus is refused for its badness, not for another reason."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.utils import timezone

from tests.fintech.helpers import USCC_A
from tests.fintech.risk_pool.helpers import active_world

from .conftest import client_for, figure, table_counts

pytestmark = [pytest.mark.proof, pytest.mark.django_db]

TOMORROW = (timezone.localdate() + timezone.timedelta(days=1)).isoformat()
LONG = "x" * 10_000

MONEY = [  # raw JSON text of the value
    "1.005",
    '"1.005"',
    '"1e3"',
    "1e3",
    "1E-2",
    '"NaN"',
    "NaN",
    '"Infinity"',
    "Infinity",
    "-Infinity",
    '"-1.00"',
    "-1",
    '"0.00"',
    '"12345678901234567890.00"',
    "12345678901234567890",
    '"1,000.00"',
    "true",
    "null",
    "[]",
    "{}",
    f'"{LONG}"',
]
DATES = [
    '"2025-02-30"',
    '"2025-13-01"',
    '"2025-00-10"',
    '"0001-01-01"',
    '"1900-01-01"',
    '"9999-12-31"',
    f'"{TOMORROW}"',
    '"2025-06-01T00:00:00"',
    '"01/06/2025"',
    '""',
    "20250601",
    "null",
    "[]",
    f'"{LONG}"',
]


@dataclass
class Endpoint:
    name: str
    url: str
    user: Any
    body: dict[str, Any]
    money: tuple[str, ...] = ()
    dates: tuple[str, ...] = ()
    strings: tuple[str, ...] = ()
    objects: tuple[str, ...] = ()
    zero_ok: bool = False  # a revenue or assets of 0.00 is a fact, an amount paid of 0.00 is not
    idempotent: bool = True  # takes an Idempotency-Key (sign-up does not: it ignores the header)


def _endpoints(world: Any) -> list[Endpoint]:
    loan = world.loan
    return [
        Endpoint(
            "top-up",
            "/api/v1/risk-fund/top-ups/",
            world.regulator,
            {"program": world.program.pk, "amount": "1000.00", "received_on": "2025-06-01"},
            money=("amount",),
            dates=("received_on",),
        ),
        Endpoint(
            "repayment",
            f"/api/v1/loans/{loan.pk}/repayments/",
            world.bank,
            {"amount": "100.00", "paid_on": "2025-03-01", "transaction_id": "T-BAD-1"},
            money=("amount",),
            dates=("paid_on",),
            strings=("transaction_id",),
        ),
        Endpoint(
            "register",
            "/api/v1/auth/register/",
            None,
            {
                "username": "corpus-sme",
                "password": "Correct-horse-9!",
                "enterprise": {
                    "name": "Corpus Tech",
                    "uscc": USCC_A,
                    "region_code": "420100",
                    "industry": "software_it",
                    "employees": 80,
                    "annual_revenue": "30000000.00",
                    "total_assets": "20000000.00",
                },
            },
            money=("enterprise.annual_revenue", "enterprise.total_assets"),
            strings=("username", "enterprise.name"),
            objects=("enterprise",),
            zero_ok=True,
            idempotent=False,
        ),
    ]


def _with(body: dict[str, Any], path: str, raw: str) -> str:
    """The body as JSON text with `path` (dotted) set to the raw JSON text `raw`."""
    marker = "__corpus_value__"
    copy = json.loads(json.dumps(body))
    node = copy
    *parents, leaf = path.split(".")
    for key in parents:
        node = node[key]
    node[leaf] = marker
    return json.dumps(copy).replace(f'"{marker}"', raw)


def _cases(endpoint: Endpoint) -> Iterator[tuple[str, dict[str, Any]]]:
    """(description, request kwargs) for each bad input of an endpoint."""
    for field in endpoint.money:
        for raw in MONEY:
            if endpoint.zero_ok and raw == '"0.00"':
                continue
            yield f"{field}={raw[:30]}", {"data": _with(endpoint.body, field, raw)}
    for field in endpoint.dates:
        for raw in DATES:
            yield f"{field}={raw[:30]}", {"data": _with(endpoint.body, field, raw)}
    for field in endpoint.strings:
        yield f"{field}=10,000 chars", {"data": _with(endpoint.body, field, f'"{LONG}"')}
    for field in endpoint.objects:
        yield (
            f"{field}=array",
            {"data": _with(endpoint.body, field, "[" + json.dumps(endpoint.body[field]) + "]")},
        )
    yield "body=array", {"data": json.dumps([endpoint.body])}
    yield "body=string", {"data": '"x"'}
    yield "body=empty object", {"data": "{}"}
    yield "body=not JSON", {"data": "{'amount': 1}"}
    yield "body=nested 10,000 deep", {"data": "[" * 10_000 + "]" * 10_000}
    yield "body=nested object 1,000 deep", {"data": '{"a":' * 1_000 + "1" + "}" * 1_000}
    yield "body=20 MB", {"data": json.dumps({**endpoint.body, "pad": "x" * (20 * 1024 * 1024)})}
    yield "body=invalid UTF-8", {"data": b'{"amount": "\xff\xfe"}'}
    for content_type in ("text/plain", "application/xml", "application/x-www-form-urlencoded"):
        yield (
            f"content-type={content_type}",
            {"data": json.dumps(endpoint.body), "content_type": content_type},
        )
    if endpoint.idempotent:
        long_key = {"data": json.dumps(endpoint.body), "HTTP_IDEMPOTENCY_KEY": "k" * 10_000}
        yield "Idempotency-Key=10,000 chars", long_key


def test_bad_input_corpus(settings):
    # the per-address sign-up throttle is proven elsewhere; here every case must reach the validation
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"auth": "10000/min"}}
    world = active_world()
    cases = non4xx = writes = 0
    findings: list[str] = []
    for endpoint in _endpoints(world):
        client = client_for(endpoint.user)
        for description, kwargs in _cases(endpoint):
            kwargs.setdefault("content_type", "application/json")
            before = table_counts()
            response = client.post(endpoint.url, **kwargs)
            cases += 1
            where = f"{endpoint.name}: {description} -> {response.status_code}"
            body: Any = None
            with contextlib.suppress(ValueError):
                body = response.json()
            if not (400 <= response.status_code < 500) or not (
                isinstance(body, dict) and body.get("code") and body.get("message")
            ):
                non4xx += 1
                findings.append(f"not a 4xx in the error shape: {where} {response.content[:200]!r}")
            if table_counts() != before:
                writes += 1
                findings.append(f"written: {where}")
        # The valid body succeeds: the corpus was refused for its badness alone.
        valid = client.post(endpoint.url, json.dumps(endpoint.body), content_type="application/json")
        if valid.status_code not in (200, 201):
            findings.append(f"the valid body was refused: {endpoint.name} {valid.content[:200]!r}")

    # Lists: an absurd page is a 404 in the error shape; an absurd page size is capped at 200 (API.md).
    lists = capped = 0
    for url in ("/api/v1/loans/", "/api/v1/patents/", "/api/v1/organizations/", "/api/v1/applications/"):
        for query in ("page=-1", "page=0", "page=abc", "page=100000000000000000000"):
            response = client_for(world.bank).get(f"{url}?{query}")
            cases += 1
            if response.status_code != 404 or response.json().get("code") != "not_found":
                non4xx += 1
                findings.append(f"{url}?{query} -> {response.status_code}")
        for query in ("page_size=100000", "page_size=-1", "page_size=1e9", "page_size=abc"):
            response = client_for(world.bank).get(f"{url}?{query}")
            lists += 1
            if response.status_code == 200 and len(response.json()["results"]) <= 200:
                capped += 1
            else:
                findings.append(f"{url}?{query} -> {response.status_code}")

    figure("bad_input", f"bad-input cases={cases} non4xx={non4xx} writes={writes}")
    figure("page_size", f"page-size cases={lists} capped={capped} (API.md: max 200, nonsense -> default)")
    assert not findings, "\n".join(findings)
