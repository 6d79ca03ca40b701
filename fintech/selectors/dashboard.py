"""Reads of the regulator's dashboard (the admin's report screens): the figures of the subsidy and
risk-pool reports, narrowed by programme, period, region, bank and insurer, and the pipeline of
applications by status. Each figure comes from one place: subsidies from `subsidies.subsidy_report`
(the API's report), the risk pool from `risk_pool` (the API's report and its totals per period),
the pipeline from here. Everything is within what the user sees (fintech.access)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from django.db.models import Count, Sum, Value
from django.db.models.functions import Coalesce

from fintech.access import applications_visible_to, require_role
from fintech.models import ApplicationStatus, OrganizationKind, User
from fintech.models.base import MoneyField
from fintech.money import ZERO, round_fen
from fintech.rules.subsidies import Period

from . import risk_pool, subsidies

K = OrganizationKind

# The pipeline in the order of the flow; drafts are the SME's alone and never shown.
PIPELINE_STATUSES = [s for s in ApplicationStatus if s != ApplicationStatus.DRAFT]


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters (None: everything the user sees)."""

    program: int | None = None
    period: Period | None = None
    region: str | None = None
    bank: int | None = None
    insurer: int | None = None

    @property
    def narrowing(self) -> risk_pool.Narrowing:
        return risk_pool.Narrowing(self.program, self.region, self.bank, self.insurer)


def subsidies_by(user: User, filters: Filters, group_by: str) -> list[dict[str, Any]]:
    """The subsidy report's rows grouped by `group_by` (period, region, bank, insurer, enterprise):
    every entitlement that is not cancelled, as the API's report counts them."""
    query = subsidies.ReportQuery(
        group_by=group_by,
        period=filters.period,
        status=None,
        program=filters.program,
        region=filters.region,
        bank=filters.bank,
        insurer=filters.insurer,
    )
    return list(subsidies.report_rows(subsidies.subsidy_report(user, query)))


@dataclass(frozen=True)
class PipelineRow:
    status: str
    label: str
    applications: int
    requested: Decimal


def pipeline(user: User, filters: Filters) -> list[PipelineRow]:
    """Applications by status (one aggregate query), every status of the flow in order, with the
    amount requested. A period keeps the applications submitted within it."""
    require_role(user, K.REGULATOR)
    qs = applications_visible_to(user).exclude(status=ApplicationStatus.DRAFT)
    for value, lookup in (
        (filters.program, "program_id"),
        (filters.region, "sme__region_id"),
        (filters.bank, "bank_id"),
        (filters.insurer, "insurer_id"),
    ):
        if value is not None:
            qs = qs.filter(**{lookup: value})
    if filters.period is not None:
        qs = qs.filter(submitted_on__range=(filters.period.start, filters.period.end))
    zero = Value(ZERO, output_field=MoneyField())
    counted: dict[str, dict[str, Any]] = {
        row["status"]: dict(row)
        for row in qs.order_by()
        .values("status")
        .annotate(n=Count("pk"), requested=Coalesce(Sum("requested_amount"), zero, output_field=MoneyField()))
    }
    return [
        PipelineRow(
            status=status.value,
            label=str(status.label),
            applications=counted.get(status.value, {}).get("n", 0),
            requested=round_fen(Decimal(counted.get(status.value, {}).get("requested", ZERO))),
        )
        for status in PIPELINE_STATUSES
    ]


def risk_over_time(user: User, filters: Filters, *, today: date) -> list[risk_pool.RiskPeriod]:
    """Loss events, recoveries and the fund per quarter (or for the period asked for)."""
    periods = risk_pool.risk_periods(user, filters.narrowing, period=filters.period, today=today)
    return risk_pool.risk_over_time(user, filters.narrowing, periods)


def risk_pool_report(user: User, filters: Filters) -> risk_pool.RiskPoolReport:
    """The API's risk-pool report, narrowed by the dashboard's filters."""
    return risk_pool.risk_pool_report(
        user, period=filters.period.label if filters.period else None, narrowing=filters.narrowing
    )
