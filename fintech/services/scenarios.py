"""Scenarios (DOMAIN.md section 10b): start one (regulator), compute it (Celery), with explicit
status transitions pending -> running -> computed | failed, each audited.

The parameters are validated and normalised here, once, for the API and the admin alike, then
stored with the book's figures at the start (fund balance, observed recovery rate, loans,
exposure). A computed scenario is never written again: its result is a fact about that day.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fintech import access
from fintech.errors import Conflict, InvalidInput
from fintech.models import SCENARIO_TRANSITIONS, Program, Scenario, ScenarioStatus, User
from fintech.rules import scenarios as rules
from fintech.rules.sme_size import INDUSTRY_CHOICES
from fintech.rules.subsidies import BenchmarkRow
from fintech.selectors import scenarios as selectors
from fintech.selectors.risk_pool import fund_balance

from .audit import audit_record
from .common import business_today, program_to_start
from .enqueue import enqueue_on_commit

S = ScenarioStatus
logger = logging.getLogger(__name__)
INDUSTRY_CODES = frozenset(code for code, _label in INDUSTRY_CHOICES)
MAX_HORIZON_MONTHS = 36
MIN_PATHS, MAX_PATHS = 100, 100_000
MAX_WHAT_IFS = 5
MAX_BENCHMARK_POINTS = 24
MAX_SEED = 2**63 - 1
RATE_PLACES = 8
_PLAIN_FRACTION = re.compile(r"^[0-9]{1,3}(\.[0-9]+)?$")
# Progress is written after every chunk of paths, at most this often in rows.
PROGRESS_EVERY_PATHS = 1_000


# --- parameters ------------------------------------------------------------------------------------


class _Errors:
    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        self.fields.setdefault(name, []).append(message)


def _fraction(
    raw: object, name: str, errors: _Errors, *, low: Decimal, high: Decimal, high_open: bool = True
) -> Decimal | None:
    """A rate or share as a decimal string (or JSON number read as Decimal) within [low, high)."""
    if isinstance(raw, bool) or not isinstance(raw, str | int | Decimal):
        errors.add(name, _('Enter a fraction as a decimal string, e.g. "0.03".'))
        return None
    text = str(raw).strip()
    if not _PLAIN_FRACTION.match(text):
        errors.add(name, _('Enter a fraction in plain notation, e.g. "0.03".'))
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        errors.add(name, _('Enter a fraction as a decimal string, e.g. "0.03".'))
        return None
    if not value.is_finite() or value.as_tuple().exponent < -RATE_PLACES:  # type: ignore[operator]
        errors.add(
            name,
            _("Enter a plain fraction with at most %(places)s decimal places.") % {"places": RATE_PLACES},
        )
        return None
    if value < low or value > high or (high_open and value == high):
        if high_open:
            message = _("Must lie between %(low)s and below %(high)s.")
        else:
            message = _("Must lie between %(low)s and at most %(high)s.")
        errors.add(name, message % {"low": low, "high": high})
        return None
    return _plain(value)


def _plain(value: Decimal) -> Decimal:
    """0.50000000 and 0.5 both as 0.50: no trailing zeros beyond the second place."""
    value = value.normalize()
    return value.quantize(Decimal("0.01")) if value.as_tuple().exponent > -2 else value  # type: ignore[operator]


def _integer(raw: object, name: str, errors: _Errors, *, low: int, high: int) -> int | None:
    if isinstance(raw, bool):
        errors.add(name, _("Enter a whole number."))
        return None
    try:
        value = int(str(raw).strip()) if isinstance(raw, str | int | Decimal) else None
    except ValueError:
        value = None
    if value is None or (isinstance(raw, Decimal) and raw != value):
        errors.add(name, _("Enter a whole number."))
        return None
    if not low <= value <= high:
        errors.add(name, _("Must lie between %(low)s and %(high)s.") % {"low": low, "high": high})
        return None
    return value


def _shares(raw: object, name: str, errors: _Errors) -> dict[str, str] | None:
    """{insurer, government, bank}: fractions >= 0 summing to exactly 1."""
    if not isinstance(raw, Mapping) or set(raw) != set(rules.PARTIES):
        errors.add(name, _("Give the shares as {insurer, government, bank}, e.g. 0.50, 0.30, 0.20."))
        return None
    values = {
        party: _fraction(
            raw[party], f"{name}.{party}", errors, low=Decimal(0), high=Decimal(1), high_open=False
        )
        for party in rules.PARTIES
    }
    if any(v is None for v in values.values()):
        return None
    if sum((v for v in values.values() if v is not None), Decimal(0)) != 1:
        errors.add(name, _("The shares must sum to 1 (e.g. 0.50 + 0.30 + 0.20)."))
        return None
    return {party: str(value) for party, value in values.items()}


def _pd_table(raw: object, name: str, errors: _Errors, *, partial: bool) -> dict[str, str] | None:
    if (
        not isinstance(raw, Mapping)
        or not set(raw) <= set(rules.GRADES)
        or (not partial and set(raw) != set(rules.GRADES))
    ):
        errors.add(name, _("Give an annual probability of default per risk grade: {A, B, C}."))
        return None
    out = {}
    for grade in rules.GRADES:
        if grade in raw:
            value = _fraction(raw[grade], f"{name}.{grade}", errors, low=Decimal(0), high=Decimal(1))
            if value is None:
                return None
            out[grade] = str(value)
    return out


def _benchmark(raw: object, as_of: date, errors: _Errors) -> dict[str, Any]:
    """{"mode": "constant"} (the table in force stays) or {"mode": "path", "path": [{effective_on,
    rate}]} with dates after as_of, in increasing order."""
    if raw is None:
        return {"mode": "constant"}
    if not isinstance(raw, Mapping) or raw.get("mode") not in ("constant", "path"):
        errors.add("benchmark", _('Give {"mode": "constant"} or {"mode": "path", "path": [...]}.'))
        return {"mode": "constant"}
    if raw["mode"] == "constant":
        return {"mode": "constant"}
    path = raw.get("path")
    if not isinstance(path, list) or not 1 <= len(path) <= MAX_BENCHMARK_POINTS:
        errors.add(
            "benchmark.path",
            _("Give 1 to %(count)s points {effective_on, rate}.") % {"count": MAX_BENCHMARK_POINTS},
        )
        return {"mode": "constant"}
    points: list[dict[str, str]] = []
    last: date | None = None
    for n, point in enumerate(path):
        field = f"benchmark.path.{n}"
        try:
            on = date.fromisoformat(str(point.get("effective_on"))) if isinstance(point, Mapping) else None
        except ValueError:
            on = None
        if on is None:
            errors.add(f"{field}.effective_on", _("Enter a date as YYYY-MM-DD."))
            continue
        if on <= as_of or (last is not None and on <= last):
            errors.add(
                f"{field}.effective_on",
                _("Dates must lie after %(date)s and increase.") % {"date": as_of.isoformat()},
            )
            continue
        rate = _fraction(point.get("rate"), f"{field}.rate", errors, low=Decimal(0), high=Decimal(1))
        if rate is None:
            continue
        if rate == 0:
            errors.add(f"{field}.rate", _("A benchmark rate is above 0."))
            continue
        last = on
        points.append({"effective_on": on.isoformat(), "rate": str(rate)})
    return {"mode": "path", "path": points}


def scenario_parameters(program: Program, raw: Mapping[str, Any], as_of: date) -> dict[str, Any]:
    """Validate and normalise the parameters; every field error at once (InvalidInput, 400)."""
    errors = _Errors()
    known = {
        "program", "name", "horizon_months", "paths", "seed", "pd_by_grade", "pd_by_industry",
        "recovery_rate", "correlation", "shares", "what_if_shares", "benchmark",
    }  # fmt: skip
    for name in set(raw) - known:
        errors.add(name, _("Unknown parameter."))
    horizon = _integer(
        raw.get("horizon_months", 12), "horizon_months", errors, low=1, high=MAX_HORIZON_MONTHS
    )
    paths = _integer(raw.get("paths", rules.DEFAULT_PATHS), "paths", errors, low=MIN_PATHS, high=MAX_PATHS)
    seed_raw = raw.get("seed")
    seed = (
        secrets.randbelow(2**31)
        if seed_raw is None
        else _integer(seed_raw, "seed", errors, low=0, high=MAX_SEED)
    )
    pd_grade = _pd_table(
        raw.get("pd_by_grade", {g: str(v) for g, v in rules.DEFAULT_PD_BY_GRADE.items()}),
        "pd_by_grade",
        errors,
        partial=False,
    )
    pd_industry: dict[str, dict[str, str]] = {}
    by_industry = raw.get("pd_by_industry") or {}
    if not isinstance(by_industry, Mapping):
        errors.add("pd_by_industry", _("Give {industry: {A, B, C}}."))
    else:
        for industry, table in by_industry.items():
            if industry not in INDUSTRY_CODES:
                errors.add(f"pd_by_industry.{industry}", _("Unknown industry code."))
                continue
            parsed = _pd_table(table, f"pd_by_industry.{industry}", errors, partial=True)
            if parsed:
                pd_industry[industry] = parsed
    recovery = _fraction(
        raw.get("recovery_rate", str(rules.DEFAULT_RECOVERY_RATE)),
        "recovery_rate",
        errors,
        low=Decimal(0),
        high=Decimal(1),
    )
    correlation = _fraction(
        raw.get("correlation", str(rules.DEFAULT_CORRELATION)),
        "correlation",
        errors,
        low=Decimal(0),
        high=Decimal(1),
    )
    programme_shares = {
        "insurer": str(program.insurer_share),
        "government": str(program.government_share),
        "bank": str(program.bank_share),
    }
    shares = _shares(raw.get("shares", programme_shares), "shares", errors)
    what_ifs: list[dict[str, str]] = []
    raw_what_ifs = raw.get("what_if_shares") or []
    if not isinstance(raw_what_ifs, list) or len(raw_what_ifs) > MAX_WHAT_IFS:
        errors.add(
            "what_if_shares",
            _("Give a list of at most %(count)s share sets.") % {"count": MAX_WHAT_IFS},
        )
    else:
        for n, item in enumerate(raw_what_ifs):
            parsed_shares = _shares(item, f"what_if_shares.{n}", errors)
            if parsed_shares is not None:
                what_ifs.append(parsed_shares)
    benchmark = _benchmark(raw.get("benchmark"), as_of, errors)
    name = raw.get("name", "")
    if not isinstance(name, str) or len(name) > 200:
        errors.add("name", _("At most %(count)s characters.") % {"count": 200})
    if errors.fields:
        raise InvalidInput(_("The scenario's parameters are not valid."), fields=errors.fields)
    return {
        "horizon_months": horizon,
        "paths": paths,
        "seed": seed,
        "chunk_paths": rules.CHUNK_PATHS,
        "pd_by_grade": pd_grade,
        "pd_by_industry": pd_industry,
        "recovery_rate": str(recovery),
        "correlation": str(correlation),
        "shares": shares,
        "what_if_shares": what_ifs,
        "benchmark": benchmark,
        # The programme's subsidy terms in force at the start (section 9).
        "interest_subsidy_rate": str(program.interest_subsidy_rate),
        "premium_subsidy_rate": str(program.premium_subsidy_rate),
        "subsidy_period": program.subsidy_period,
        "benchmark_mode": program.benchmark_mode,
        "forfeit_after_late": program.forfeit_after_late,
        "annual_subsidy_cap": str(program.annual_subsidy_cap),
    }


def _params(p: Mapping[str, Any]) -> rules.ScenarioParams:
    return rules.ScenarioParams(
        horizon_months=p["horizon_months"],
        paths=p["paths"],
        seed=p["seed"],
        pd_by_grade={g: Decimal(v) for g, v in p["pd_by_grade"].items()},
        pd_by_industry={i: {g: Decimal(v) for g, v in t.items()} for i, t in p["pd_by_industry"].items()},
        recovery_rate=Decimal(p["recovery_rate"]),
        correlation=Decimal(p["correlation"]),
        chunk_paths=p["chunk_paths"],
    )


def _terms(p: Mapping[str, Any]) -> rules.SubsidyTerms:
    return rules.SubsidyTerms(
        interest_subsidy_rate=Decimal(p["interest_subsidy_rate"]),
        premium_subsidy_rate=Decimal(p["premium_subsidy_rate"]),
        benchmark_mode=p["benchmark_mode"],
        forfeit_after_late=p["forfeit_after_late"],
        annual_cap=Decimal(p["annual_subsidy_cap"]),
        period_kind=p["subsidy_period"],
    )


def benchmark_for(p: Mapping[str, Any], as_of: date, stored: list[BenchmarkRow]) -> list[BenchmarkRow]:
    """The benchmark table the forecast uses: the stored one as it stands on as_of (the rate in
    force stays constant), or, with an entered path, the stored rows up to as_of then the path's
    points, each in force for every term from its date."""
    if p["benchmark"]["mode"] == "constant":
        return [row for row in stored if row.effective_on <= as_of]
    entered = [
        BenchmarkRow(date.fromisoformat(pt["effective_on"]), 0, None, Decimal(pt["rate"]))
        for pt in p["benchmark"]["path"]
    ]
    return [row for row in stored if row.effective_on <= as_of] + entered


# --- start -----------------------------------------------------------------------------------------


@transaction.atomic
def scenario_start(*, actor: User, program_id: object, raw: Mapping[str, Any]) -> Scenario:
    """Start a scenario on a programme serving the regulator's region: validate the parameters,
    record them with the book's figures of today, and queue the computation on commit."""
    program = program_to_start(access.scenario_programs_for(actor), program_id)
    as_of = business_today()
    params = scenario_parameters(program, raw, as_of)
    balance = fund_balance(program.pk, as_of=as_of)
    observed = selectors.observed_recovery_rate(program.pk, as_of)
    scenario = Scenario.objects.create(
        program=program,
        name=str(raw.get("name") or ""),
        as_of=as_of,
        parameters=params,
        book={
            "fund_balance": str(balance),
            "observed_recovery_rate": None if observed is None else str(observed),
        },
        paths_total=params["paths"],
        started_by=actor,
    )
    audit_record(
        actor=actor,
        action="scenario.start",
        obj=scenario,
        to_state=S.PENDING,
        payload={"program": program.pk, "parameters": params},
    )
    enqueue_on_commit("scenario_compute_task", scenario.pk)
    return scenario


# --- compute ---------------------------------------------------------------------------------------


def _move(scenario: Scenario, to: str, *, fields: dict[str, Any], reason: str = "") -> bool:
    """One transition, conditional on the source state (a redelivered task finds it moved)."""
    source = scenario.status
    if to not in SCENARIO_TRANSITIONS[source]:
        raise Conflict(
            _("A scenario that is %(source)s cannot become %(to)s.")
            % {"source": ScenarioStatus(source).label, "to": ScenarioStatus(to).label}
        )
    with transaction.atomic():
        moved = Scenario.objects.filter(pk=scenario.pk, status=source).update(status=to, **fields)
        if moved:
            audit_record(
                actor=None,
                action=f"scenario.{to}",
                obj=scenario,
                from_state=source,
                to_state=to,
                reason=reason,
            )
    if moved:
        scenario.status = to
        for name, value in fields.items():
            setattr(scenario, name, value)
    return bool(moved)


def scenario_compute(scenario_id: int) -> None:
    """Run a pending scenario: load the book as of its date, draw the paths (progress on the row),
    store the results and the forecast, and mark it computed; any error marks it failed. A
    scenario already running, computed or failed is left alone."""
    scenario = Scenario.objects.select_related("program").get(pk=scenario_id)
    if scenario.status != S.PENDING:
        return
    if not _move(scenario, S.RUNNING, fields={"started_at": timezone.now()}):
        return
    try:
        results, forecast, book_figures = _compute(scenario)
    except Exception as exc:
        # The run is a pure computation: nothing to undo, the regulator starts another one.
        logger.exception("scenario %s failed", scenario_id)
        _move(
            scenario,
            S.FAILED,
            fields={"error": str(exc)[:2000], "finished_at": timezone.now()},
            reason=str(exc)[:200],
        )
        return
    _move(
        scenario,
        S.COMPUTED,
        fields={
            "results": results,
            "forecast": forecast,
            "book": {**scenario.book, **book_figures},
            "paths_done": scenario.paths_total,
            "finished_at": timezone.now(),
        },
    )


def _compute(scenario: Scenario) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]:
    p = scenario.parameters
    params = _params(p)
    as_of = scenario.as_of
    loans = selectors.book_loans(scenario.program_id, as_of)
    end_year = as_of.year + (p["horizon_months"] + as_of.month - 1) // 12
    used = selectors.subsidies_granted(scenario.program_id, list(range(as_of.year, end_year + 1)))
    rows = benchmark_for(p, as_of, selectors.benchmark_rows())
    book = rules.prepare_book(loans, params, as_of, _terms(p), rows, used)
    last_written = [0]

    def progress(done: int) -> None:
        if done - last_written[0] >= PROGRESS_EVERY_PATHS and done < scenario.paths_total:
            Scenario.objects.filter(pk=scenario.pk, status=S.RUNNING).update(paths_done=done)
            last_written[0] = done

    paths = rules.simulate(book, params, progress)
    balance = Decimal(scenario.book["fund_balance"])
    horizon = p["horizon_months"]
    results: dict[str, Any] = rules.party_results(paths.loss_fen, _shares_of(p["shares"]), balance, horizon)
    results["what_if"] = [
        rules.party_results(paths.loss_fen, _shares_of(s), balance, horizon) for s in p["what_if_shares"]
    ]
    results["histogram"] = rules.histogram(paths.loss_fen)
    results["mean_defaults"] = str(
        (Decimal(int(paths.defaults.sum())) / Decimal(max(len(paths.defaults), 1))).quantize(Decimal("0.01"))
    )
    book_figures = {
        "loans": len(loans),
        "exposure": str(book.exposure),
        "expected_defaults": str(Decimal(float(book.horizon_pd.sum())).quantize(Decimal("0.01"))),
    }
    return results, rules.forecast_rows(book, paths), book_figures


def _shares_of(shares: Mapping[str, str]) -> tuple[Decimal, Decimal, Decimal]:
    return Decimal(shares["insurer"]), Decimal(shares["government"]), Decimal(shares["bank"])


def scenario_fail(scenario_id: int, error: BaseException) -> None:
    """Mark a scenario failed after its task gave up (a lost worker, a database that stayed down)."""
    scenario = Scenario.objects.get(pk=scenario_id)
    if scenario.status in (S.PENDING, S.RUNNING):
        _move(scenario, S.FAILED, fields={"error": str(error)[:2000], "finished_at": timezone.now()})
