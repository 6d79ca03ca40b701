"""Reads of subsidies (DOMAIN.md sections 9 and 11): subsidy runs, entitlements and the subsidy
report, scoped per organisation. Regulators see the runs of the programmes serving their region
and every entitlement of an SME in their region; an SME sees its own; platform staff everything.

The report is one aggregate query over the entitlements; JSON, CSV and XLSX are written from the
same rows, so their totals agree and equal the sum of the entitlements they count.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Count, F, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _

from fintech.access import entitlements_visible_to, require_role, subsidy_runs_visible_to
from fintech.errors import InvalidInput, NotFound
from fintech.models import (
    EntitlementStatus,
    OrganizationKind,
    SubsidyEntitlement,
    SubsidyKind,
    SubsidyRun,
    User,
)
from fintech.models.base import MoneyField
from fintech.rules.subsidies import InvalidPeriod, Period, parse_period

K = OrganizationKind


def subsidy_run_for(user: User, pk: int) -> SubsidyRun:
    run = subsidy_runs_visible_to(user).filter(pk=pk).first()
    if run is None:
        raise NotFound(_("Subsidy run not found."))
    return run


def period_filter(text: str | None, field: str = "period") -> Period | None:
    """A period query parameter (either kind); a malformed one is a 400 on that field."""
    if text in (None, ""):
        return None
    try:
        return parse_period(str(text))
    except InvalidPeriod as exc:
        raise InvalidInput.on(field, str(exc)) from exc


def entitlement_list(
    user: User,
    *,
    period: Period | None = None,
    enterprise: int | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> QuerySet[SubsidyEntitlement]:
    """Entitlements the user may see, filtered. A quarter also matches the monthly periods inside
    it (programmes may pay by month)."""
    qs = entitlements_visible_to(user).select_related("installment")
    if period is not None:
        qs = qs.filter(period__in=period.labels())
    if enterprise is not None:
        qs = qs.filter(sme_id=enterprise)
    if kind:
        qs = qs.filter(kind=kind)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("period", "id")


# --- the subsidy report --------------------------------------------------------------------------

# group_by -> (the group's key, its label), both reached from an entitlement.
REPORT_GROUPS: dict[str, tuple[str, str]] = {
    "period": ("period", "period"),
    "bank": ("loan__bank_id", "loan__bank__name"),
    "insurer": ("loan__policy__insurer_id", "loan__policy__insurer__name"),
    "region": ("sme__region_id", "sme__region__name_en"),
    "enterprise": ("sme_id", "sme__name"),
}
REPORT_COLUMNS = (
    "group_id",
    "group",
    "interest_amount",
    "premium_amount",
    "total_amount",
    "clawback_amount",
    "net_amount",
    "loans",
    "enterprises",
)
MONEY_COLUMNS = ("interest_amount", "premium_amount", "total_amount", "clawback_amount", "net_amount")


@dataclass(frozen=True)
class ReportQuery:
    group_by: str
    period: Period | None
    status: str | None
    # Narrowing filters (None: all the caller sees): the programme, the SME's region, the loan's
    # bank and its policy's insurer.
    program: int | None = None
    region: str | None = None
    bank: int | None = None
    insurer: int | None = None


# Entitlement lookups of the narrowing filters.
REPORT_FILTERS = {
    "program": "program_id",
    "region": "sme__region_id",
    "bank": "loan__bank_id",
    "insurer": "loan__policy__insurer_id",
}


def _id_filter(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    if not re.fullmatch(r"[0-9]{1,18}", str(raw)):
        raise InvalidInput.on(name, _("An integer id."))
    return int(str(raw))


def report_query(params: Any) -> ReportQuery:
    """Parse ?period=&group_by=&status=&program=&region=&bank=&insurer= (a bad value is a 400
    naming its field)."""
    group_by = str(params.get("group_by") or "")
    if group_by not in REPORT_GROUPS:
        raise InvalidInput.on(
            "group_by", _("Group by one of %(choices)s.") % {"choices": ", ".join(REPORT_GROUPS)}
        )
    status = params.get("status") or None
    if status is not None and status not in EntitlementStatus.values:
        raise InvalidInput.on(
            "status", _("Status is one of %(choices)s.") % {"choices": ", ".join(EntitlementStatus.values)}
        )
    region = params.get("region") or None
    if region is not None and not re.fullmatch(r"[0-9]{6}", str(region)):
        raise InvalidInput.on("region", _("A region is its six-digit code, like 420100."))
    return ReportQuery(
        group_by=group_by,
        period=period_filter(params.get("period")),
        status=status,
        program=_id_filter(params, "program"),
        region=region,
        bank=_id_filter(params, "bank"),
        insurer=_id_filter(params, "insurer"),
    )


def _money_sum(condition: Q | None = None) -> Coalesce:
    zero = Value(Decimal("0.00"), output_field=MoneyField())
    return Coalesce(Sum("amount", filter=condition), zero, output_field=MoneyField())


def subsidy_report(user: User, query: ReportQuery) -> QuerySet[Any]:
    """One aggregate query: per group (a period, bank, insurer, region or SME), interest, premium
    and total amounts, the clawbacks of paid subsidies and what is left net of them, distinct
    loans and SMEs.

    Every entitlement that is not cancelled counts, whatever its status, unless `status` asks for
    one status (DOMAIN.md section 9).
    """
    require_role(user, K.REGULATOR)
    qs = entitlements_visible_to(user)
    if query.period is not None:
        qs = qs.filter(period__in=query.period.labels())
    qs = qs.filter(status=query.status) if query.status else qs.exclude(status=EntitlementStatus.CANCELLED)
    for name, lookup in REPORT_FILTERS.items():
        if getattr(query, name) is not None:
            qs = qs.filter(**{lookup: getattr(query, name)})
    key, label = REPORT_GROUPS[query.group_by]
    return (
        qs.values(group_id=F(key), group=F(label))
        .annotate(
            interest_amount=_money_sum(Q(kind=SubsidyKind.INTEREST)),
            premium_amount=_money_sum(Q(kind=SubsidyKind.PREMIUM)),
            total_amount=_money_sum(),
            # Subsidies taken back after their repayment was reversed (DOMAIN.md 8a), shown as such
            # and not netted into the entitlements' own figures.
            clawback_amount=Coalesce(
                Sum("clawback__amount"),
                Value(Decimal("0.00"), output_field=MoneyField()),
                output_field=MoneyField(),
            ),
            net_amount=F("total_amount") - F("clawback_amount"),
            loans=Count("loan_id", distinct=True),
            enterprises=Count("sme_id", distinct=True),
        )
        .order_by("group", "group_id")
    )


def report_rows(report: QuerySet[Any]) -> Iterator[dict[str, Any]]:
    """The report's rows, streamed from the database (constant memory however many groups)."""
    for row in report.iterator(chunk_size=2000):
        yield {column: row[column] for column in REPORT_COLUMNS}
