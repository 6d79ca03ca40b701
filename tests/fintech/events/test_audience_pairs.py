"""access.event_audience_pairs, the recipients of a bulk writer's events in one query, names the same
organisations as access.event_audiences, row by row (a draft application: its SME alone)."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model

from fintech.access import event_audience_pairs, event_audiences
from fintech.models import Application, Installment, Loan, Organization
from tests.builders import active_loan, application_at, cast
from tests.fintech.subsidies import conftest as subsidy_fixtures

pytestmark = pytest.mark.django_db

regulators = subsidy_fixtures.regulators


def _both(model: type[Model], pks: list[int]) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    by_row = {(pk, org) for pk, orgs in event_audiences(model, pks).items() for org in orgs}
    return by_row, set(event_audience_pairs(model, pks))


def test_the_pairs_query_names_each_rows_audience(regulators: Any) -> None:
    # Given an active loan (SME, bank, insurer, appraiser; a regulator of the SME's region) and a
    # draft application of another SME of the same parties
    loan, people = active_loan()
    draft = application_at(
        "draft", sme=cast().sme, bank=people.bank, insurer=people.insurer, appraiser=people.appraiser
    )
    regulator = regulators.starter.organization_id
    assert Organization.objects.get(pk=regulator).region_id == people.sme.organization.region_id
    # Then for applications, loans and installments both give the same pairs
    apps = [loan.application_id, draft.pk]
    by_row, pairs = _both(Application, apps)
    assert pairs == by_row
    # ... the draft its SME's organisation alone, the submitted one the regulator too
    assert {org for pk, org in pairs if pk == draft.pk} == {draft.sme_id}
    assert (loan.application_id, regulator) in pairs
    for model, pks in (
        (Loan, [loan.pk]),
        (Installment, list(Installment.objects.filter(loan=loan).values_list("pk", flat=True))),
    ):
        by_row, pairs = _both(model, pks)
        assert pairs == by_row and (pks[0], regulator) in pairs
