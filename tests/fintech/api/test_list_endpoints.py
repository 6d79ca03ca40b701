"""Every paginated list endpoint, found in the OpenAPI schema (a new one is covered without editing
this file): its query count does not grow with the page size, and each row it writes is the row
its detail endpoint (or its output serializer) writes for the same record."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from drf_spectacular.generators import SchemaGenerator

from fintech.api.loans import InstallmentOutSerializer
from fintech.api.parties import OrganizationOutSerializer
from fintech.api.subsidies import EntitlementOutSerializer
from fintech.models import Installment, Loan, Organization, SubsidyEntitlement
from fintech.selectors.parties import organization_directory
from fintech.services.collateral import patent_event_record
from fintech.services.repayment_files import repayment_file_upload
from fintech.services.repayments import repayment_record
from fintech.services.scenarios import scenario_start
from fintech.services.subsidies import subsidy_run_start
from fintech.services.webhooks import endpoint_create
from tests.builders import active_loan, cast
from tests.factories import OrganizationFactory, UserFactory, wuhan_program

pytestmark = pytest.mark.django_db

PREFIX = "/api/v1/"


def paginated_list_paths() -> list[str]:
    """GET operations whose 200 response is a page ({count, next, previous, results})."""
    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]

    def resolve(node: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in node:
            node = components[node["$ref"].rsplit("/", 1)[1]]
        return node

    paths = []
    for path, operations in schema["paths"].items():
        get = operations.get("get")
        content = (get or {}).get("responses", {}).get("200", {}).get("content", {})
        body = content.get("application/json", {}).get("schema")
        if body and {"count", "next", "previous", "results"} <= set(resolve(body).get("properties", {})):
            paths.append(path)
    return sorted(paths)


@pytest.fixture
def world(django_capture_on_commit_callbacks: Any, settings: Any) -> dict[str, Any]:
    """Three active loans of one SME (one bank, insurer, appraisal firm), their first three
    installments paid on time, two subsidy runs, two stress scenarios, three repayment files, a
    second programme, and two webhook endpoints of the bank (registered first, so the loans'
    events owe them deliveries)."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.WEBHOOK_ALLOW_PRIVATE_HOSTS = True
    people = cast()
    endpoints = [
        endpoint_create(actor=people.bank, url=f"http://127.0.0.1:9/hook-{n}", event_types=[]) for n in (1, 2)
    ]
    loans = [
        active_loan(people=people, principal=Decimal(p))[0] for p in ("600000.00", "700000.00", "800000.00")
    ]
    for loan in loans:
        for row in Installment.objects.filter(loan=loan, seq__lte=3).order_by("seq"):
            repayment_record(
                actor=people.bank,
                loan_id=loan.pk,
                amount=row.principal_due + row.interest_due,
                paid_on=row.due_on,
            )
    # two findings of the collateral watch (and their notifications): two pledged patents lapse
    for loan in loans[:2]:
        patent_event_record(
            actor=None, patent_id=loan.pledge.items.get().patent_id, code="lapse", event_on=date(2025, 6, 1)
        )
    regulator = UserFactory(organization=OrganizationFactory(kind="regulator", region_id="420100"))
    with django_capture_on_commit_callbacks(execute=True):
        for period in ("2025Q1", "2025Q2"):
            subsidy_run_start(actor=regulator, program_id=wuhan_program().pk, period=period)
        for seed in (1, 2):
            scenario_start(
                actor=regulator,
                program_id=wuhan_program().pk,
                raw={"horizon_months": 6, "paths": 200, "seed": seed},
            )
        header = "loan,amount,value_date,transaction_id"
        for n in range(3):
            repayment_file_upload(
                actor=people.bank,
                filename=f"day-{n}.csv",
                content=f"{header}\n{loans[0].pk},1.00,2025-06-0{n + 1},T{n}\n".encode(),
            )
    program = wuhan_program()
    regions = list(program.regions.all())
    program.pk = None
    program.code, program.name = "WH-2", "Second programme"
    program.save()
    program.regions.set(regions)
    platform = UserFactory(organization=OrganizationFactory(kind="platform"), is_staff=True)
    return {
        "users": [people.sme, people.bank, people.insurer, people.appraiser, regulator, platform],
        "regulator": regulator,
        "endpoint": endpoints[0],
    }


def test_the_schema_lists_every_paginated_list_endpoint():
    assert [p.removeprefix(PREFIX) for p in paginated_list_paths()] == [
        "applications/",
        "findings/",
        "findings/totals/",
        "loans/",
        "notifications/",
        "organizations/",
        "patents/",
        "programs/",
        "repayment-files/",
        "scenarios/",
        "subsidies/",
        "subsidy-runs/",
        "valuations/",
        "webhook-endpoints/",
        "webhook-endpoints/{id}/deliveries/",
    ]


def test_every_list_endpoint_asks_the_same_queries_for_any_page_size_and_writes_its_detail_rows(
    world, client_for
):
    paths = paginated_list_paths()
    detail_paths = {p for p in SchemaGenerator().get_schema(request=None, public=True)["paths"]}
    for path in paths:
        path = path.replace("{id}", str(world["endpoint"].pk))  # a nested list: the first endpoint's
        # the caller who sees the most rows of this list
        seen = {}
        for user in world["users"]:
            response = client_for(user).get(path, {"page_size": 200})
            if response.status_code == 200:
                seen[user.pk] = (response.json()["count"], user, response.json()["results"])
        count, user, results = max(seen.values(), key=lambda t: t[0])
        assert count >= 2, f"the world has too few rows for {path}: add some to the fixture"
        client = client_for(user)

        def queries(page_size: int, client: Any = client, path: str = path) -> int:
            with CaptureQueriesContext(connection) as captured:
                response = client.get(path, {"page_size": page_size})
            assert response.status_code == 200
            assert len(response.json()["results"]) == page_size
            return len(captured)

        # then a page of one row and a page of every row ask the same number of queries
        assert queries(1) == queries(count), path

        # and every row is the row the detail endpoint writes for that record
        detail = path + "{id}/"
        if detail in detail_paths:
            for row in results:
                one = client.get(detail.format(id=row["id"]))
                assert one.status_code == 200, (path, row["id"])
                assert set(row) <= set(one.json()), path
                assert row == {key: one.json()[key] for key in row}, path


def test_lists_without_a_detail_endpoint_write_their_serializers_rows(world, client_for):
    regulator = world["regulator"]
    entitlements = client_for(regulator).get(f"{PREFIX}subsidies/", {"page_size": 200}).json()
    # 2025Q1: the three loans' first installments; 2025Q2: their second and third
    assert entitlements["count"] == 9
    expected = EntitlementOutSerializer(
        SubsidyEntitlement.objects.select_related("installment").order_by("period", "id"), many=True
    ).data
    assert entitlements["results"] == expected

    loan = Loan.objects.order_by("id").first()
    schedule = client_for(regulator).get(f"{PREFIX}loans/{loan.pk}/schedule/").json()
    assert len(schedule) == 12
    assert schedule == InstallmentOutSerializer(loan.installments.order_by("seq"), many=True).data
    assert [(row["seq"], row["status"]) for row in schedule[:4]] == [
        (1, "paid"),
        (2, "paid"),
        (3, "paid"),
        (4, "due"),
    ]

    directory = client_for(regulator).get(f"{PREFIX}organizations/", {"page_size": 200}).json()
    assert directory["results"] == OrganizationOutSerializer(organization_directory(), many=True).data
    assert (
        directory["count"] == Organization.objects.filter(kind__in=["bank", "insurer", "appraiser"]).count()
    )
