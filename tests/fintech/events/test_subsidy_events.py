"""A subsidy run announces each entitlement when computed (after the cap) and when paid, set-based,
to the SME and the regulators of its region only."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from fintech.models import Event, EventRecipient, SubsidyEntitlement
from fintech.services.subsidies import subsidy_run_approve, subsidy_run_pay
from tests.builders import active_loan
from tests.fintech.subsidies import conftest as subsidy_fixtures
from tests.fintech.subsidies.helpers import INTEREST_ONLY, pay

pytestmark = pytest.mark.django_db

# The subsidy tests' fixtures: a regulator who starts runs and one who approves; a run computed in process.
regulators = subsidy_fixtures.regulators
compute = subsidy_fixtures.compute


def test_computed_and_paid_entitlements_are_events_of_their_financing(compute: Any, regulators: Any) -> None:
    # Given a loan disbursed 2024-06-01, interest monthly, its first three installments paid on time
    loan, people = active_loan(
        method=INTEREST_ONLY, disbursed_on=date(2024, 6, 1), valuation_on=date(2024, 5, 20)
    )
    pay(loan, people, [1, 2, 3])
    before = Event.objects.filter(aggregate_id=loan.application_id).count()
    # When the 2024Q3 run computes (its entitlements in the tests of the run: 3, one per installment)
    with CaptureQueriesContext(connection) as queries:
        run = compute("2024Q3")
    entitlements = SubsidyEntitlement.objects.filter(run=run)
    computed = Event.objects.filter(type="subsidy.computed").order_by("aggregate_version")
    # Then one event per entitlement, numbered after the loan's earlier events, with its amount
    assert entitlements.count() == computed.count() == 3
    assert [e.aggregate_version for e in computed] == [before + 1, before + 2, before + 3]
    amounts = dict(entitlements.values_list("pk", "amount"))
    assert all(e.data["amount"] == f"{amounts[e.subject_id]:.2f}" for e in computed)
    # ... for the SME and the region's regulator only (not the bank or the insurer)
    sme, regulator = people.sme.organization_id, regulators.starter.organization_id
    assert set(
        EventRecipient.objects.filter(event__in=computed).values_list("organization_id", flat=True)
    ) == {
        sme,
        regulator,
    }
    # ... written set-based: one INSERT of events for the run's entitlements
    inserts = [q for q in queries.captured_queries if q["sql"].startswith('INSERT INTO "fintech_event"')]
    assert len(inserts) == 1
    # When the run is approved and paid, each entitlement is announced paid with the date
    subsidy_run_approve(actor=regulators.checker, run_id=run.pk)
    subsidy_run_pay(actor=regulators.starter, run_id=run.pk, paid_on=date(2024, 10, 15), reference="PAY-1")
    paid = Event.objects.filter(type="subsidy.paid")
    assert paid.count() == 3
    assert {e.data["details"]["paid_on"] for e in paid} == {"2024-10-15"}
