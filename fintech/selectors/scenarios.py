"""Reads of scenarios (DOMAIN.md section 10b): who sees which scenario, the book a scenario runs
on, and the tables of a result (the screen, CSV and XLSX all read the same rows).

Regulators see the scenarios of the programmes serving their region; platform staff all; every
other role is refused (403), and a scenario outside the caller's programmes is a 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Sum
from django.utils.translation import gettext as _

from fintech import exports
from fintech.access import scenarios_visible_to
from fintech.errors import InvalidInput, NotFound
from fintech.models import BenchmarkRate as BenchmarkRateModel
from fintech.models import (
    Installment,
    Loan,
    LoanStatus,
    LossEvent,
    OrganizationKind,
    Recovery,
    Scenario,
    SubsidyEntitlement,
    User,
)
from fintech.rules.scenarios import PARTIES, InstallmentState, LoanState
from fintech.rules.subsidies import BenchmarkRow

K = OrganizationKind
MEASURES = ("expected_loss", "var_95", "var_99", "es_95", "es_99")


def scenario_for(user: User, pk: int) -> Scenario:
    scenario = scenarios_visible_to(user).filter(pk=pk).first()
    if scenario is None:
        raise NotFound(_("Scenario not found."))
    return scenario


# --- the book -----------------------------------------------------------------------------------


def book_loans(program_id: int, as_of: date) -> list[LoanState]:
    """The programme's active loans disbursed on or before as_of, with their schedules: two
    queries however large the book."""
    loans = (
        Loan.objects.filter(program_id=program_id, status=LoanStatus.ACTIVE, disbursed_on__lte=as_of)
        .order_by("id")
        .values_list(
            "id",
            "sme_id",
            "application__risk_grade",
            "sme__industry",
            "annual_rate",
            "term_months",
            "disbursed_on",
            "maturity_on",
            "default_days_past_due",
            "policy__premium_paid_amount",
        )
    )
    rows: dict[int, list[InstallmentState]] = {}
    installments = (
        Installment.objects.filter(
            loan__program_id=program_id, loan__status=LoanStatus.ACTIVE, loan__disbursed_on__lte=as_of
        )
        .order_by("loan_id", "seq")
        .values_list(
            "loan_id",
            "seq",
            "start_on",
            "due_on",
            "opening_principal",
            "principal_due",
            "interest_due",
            "principal_paid",
            "interest_paid",
            "status",
        )
    )
    for loan_id, *fields in installments.iterator(chunk_size=5000):
        rows.setdefault(loan_id, []).append(InstallmentState(*fields))
    out: list[LoanState] = []
    for loan_id, sme_id, grade, industry, rate, term, disbursed_on, maturity_on, days, premium in loans:
        schedule = rows.get(loan_id)
        if not schedule or disbursed_on is None or maturity_on is None:
            continue  # an active loan always has both (loan_active_is_disbursed) and a schedule
        out.append(
            LoanState(
                loan_id=loan_id,
                sme_id=sme_id,
                grade=grade or "",
                industry=industry or "",
                annual_rate=rate,
                term_months=term,
                disbursed_on=disbursed_on,
                maturity_on=maturity_on,
                default_days_past_due=days,
                premium_paid=premium,
                installments=tuple(schedule),
            )
        )
    return out


def observed_recovery_rate(program_id: int, as_of: date) -> Decimal | None:
    """Recoveries received / losses at default over the programme's loss events up to as_of
    (None before the first loss): the figure shown beside the recovery-rate parameter."""
    losses = LossEvent.objects.filter(program_id=program_id, default_on__lte=as_of).aggregate(
        total=Sum("loss_amount")
    )["total"]
    if not losses:
        return None
    recovered = Recovery.objects.filter(loss_event__program_id=program_id, received_on__lte=as_of).aggregate(
        total=Sum("amount")
    )["total"] or Decimal(0)
    return (recovered / losses).quantize(Decimal("0.0001"))


def subsidies_granted(program_id: int, years: list[int]) -> dict[tuple[int, int], Decimal]:
    """Subsidies already granted per (SME, year), every entitlement not cancelled: what the
    annual cap has left for the forecast starts from this."""
    rows = (
        SubsidyEntitlement.objects.filter(program_id=program_id, year__in=years)
        .exclude(status="cancelled")
        .values("sme_id", "year")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    return {(row["sme_id"], row["year"]): row["total"] for row in rows}


def benchmark_rows() -> list[BenchmarkRow]:
    return [
        BenchmarkRow(on, lo, hi, rate)
        for on, lo, hi, rate in BenchmarkRateModel.objects.order_by(
            "effective_on", "term_min_months"
        ).values_list("effective_on", "term_min_months", "term_max_months", "rate")
    ]


# --- the tables of a result ----------------------------------------------------------------------

RESULT_COLUMNS = ("shares", "measure", "insurer", "government", "bank", "total")
FORECAST_COLUMNS = (
    "period",
    "interest_subsidy",
    "premium_subsidy",
    "total_subsidy",
    "interest_subsidy_expected",
    "premium_subsidy_expected",
    "total_subsidy_expected",
    "interest_subsidy_stressed",
    "premium_subsidy_stressed",
    "total_subsidy_stressed",
    "capped_off",
)
HISTOGRAM_COLUMNS = ("lower", "upper", "paths")
TABLES = ("results", "forecast", "histogram")


def share_label(shares: dict[str, str]) -> str:
    """`0.50:0.30:0.20` (insurer : government : bank)."""
    return ":".join(shares[p] for p in PARTIES)


def share_sets(scenario: Scenario) -> list[dict[str, Any]]:
    """The programme's (or entered) shares first, then each what-if."""
    results = scenario.results or {}
    if not results:
        return []
    return [results, *results.get("what_if", [])]


def result_rows(scenario: Scenario) -> Iterator[dict[str, Any]]:
    for figures in share_sets(scenario):
        label = share_label(figures["shares"])
        for measure in MEASURES:
            yield {"shares": label, "measure": measure, **figures[measure]}
        for measure in ("fund_exhaustion_probability", "months_of_cover"):
            value = figures[measure]
            yield {
                "shares": label,
                "measure": measure,
                "insurer": "",
                "government": value,
                "bank": "",
                "total": "",
            }


def table(scenario: Scenario, name: str) -> tuple[tuple[str, ...], Iterator[dict[str, Any]]]:
    """The columns and rows of one table of a result."""
    if name == "forecast":
        return FORECAST_COLUMNS, iter(scenario.forecast or [])
    if name == "histogram":
        return HISTOGRAM_COLUMNS, iter((scenario.results or {}).get("histogram", []))
    return RESULT_COLUMNS, result_rows(scenario)


def _cell(value: Any) -> Any:
    """A figure of a stored result as the exporter types it: amounts (two places) are money,
    other numbers (probabilities, months) plain figures, anything else text."""
    if not isinstance(value, str) or not value:
        return value
    try:
        number = Decimal(value)
    except InvalidOperation:
        return value
    if not number.is_finite():
        return value
    return number if number.as_tuple().exponent == -2 else exports.Figure(value)


def download_table(scenario: Scenario, name: str) -> tuple[tuple[str, ...], Iterator[list[Any]]]:
    """One table of a result as fintech.exports writes it (400 for a table that is not one of TABLES)."""
    if name not in TABLES:
        raise InvalidInput.on("table", _("Table is one of %(choices)s.") % {"choices": ", ".join(TABLES)})
    columns, rows = table(scenario, name)
    return columns, ([_cell(row.get(column)) for column in columns] for row in rows)
