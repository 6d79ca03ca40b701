"""Scenarios (DOMAIN.md section 10b): a Monte-Carlo stress test of the loss-sharing pool and a
forecast of the subsidy budget, over the live book.

Pure functions, no Django. Money enters and leaves as Decimal; inside the simulation every amount
is an integer number of fen (int64), so sums over paths are exact and no float touches money. The
floats here are probabilities and the normal draws of the copula.

The method (docs/scenarios.md):

- Each loan i has a horizon default probability from its risk grade (optionally its industry),
  spread over the months of the horizon as F_i(m) = 1 - (1 - p_i)^(m/12).
- One-factor Gaussian copula (Vasicek): X_i = sqrt(rho) Z + sqrt(1 - rho) e_i. The loan stops
  paying at the first of its remaining installments k (within the horizon) with
  X_i < Phi^-1(F_i(m_k)), m_k the horizon month that contains the installment's due date. So
  P(default within the horizon) = F_i(last month with an installment), and the default month
  follows the same latent variable that decides whether the loan defaults at all.
- A loan that stops paying at installment k defaults on due_k + (days past due + 1) days (section
  8); its loss is the rule book's loss at default (rules.loss.loss_at_default) with every earlier
  installment paid, net of the recovery rate: round(loss x (1 - recovery)).
- Each path's loss is split by the shares with the largest-remainder rule (money.split_by_ratios).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal, localcontext

import numpy as np
from scipy.special import ndtri

from fintech.money import FEN, ZERO, round_fen, split_by_ratios
from fintech.rules.loss import InstallmentPaid, default_day, loss_at_default
from fintech.rules.schedules import PlannedInstallment, add_months
from fintech.rules.subsidies import (
    FIXED_AT_DISBURSEMENT,
    ON_TIME,
    BenchmarkRow,
    Owed,
    apply_cap,
    benchmark_timeline,
    interest_subsidy,
    period_containing,
    premium_subsidy,
    rate_days,
)

GRADES = ("A", "B", "C")
PARTIES = ("insurer", "government", "bank")
LEVELS = (Decimal("0.95"), Decimal("0.99"))
DEFAULT_PD_BY_GRADE = {"A": Decimal("0.01"), "B": Decimal("0.03"), "C": Decimal("0.06")}
DEFAULT_RECOVERY_RATE = Decimal("0.30")
DEFAULT_CORRELATION = Decimal("0.15")
DEFAULT_PATHS = 10_000
HISTOGRAM_BINS = 40
# Paths drawn at once: 250 paths x 10,000 loans of float64 is 20 MB per array. Part of the method
# (stored with each scenario): the draws depend on it, so a stored result is reproduced with it.
CHUNK_PATHS = 250
# bincount adds float64 weights; integer fen stay exact below 2**53.
_EXACT_FLOAT_INT = 2**53
LATE_STATUSES = ("paid_late", "overdue")


# --- inputs ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InstallmentState:
    """One installment of the stored schedule, with what has been paid against it."""

    seq: int
    start_on: date
    due_on: date
    opening_principal: Decimal
    principal_due: Decimal
    interest_due: Decimal
    principal_paid: Decimal
    interest_paid: Decimal
    status: str

    def planned(self) -> PlannedInstallment:
        return PlannedInstallment(
            seq=self.seq,
            start_on=self.start_on,
            due_on=self.due_on,
            days=(self.due_on - self.start_on).days,
            opening_principal=self.opening_principal,
            principal_due=self.principal_due,
            interest_due=self.interest_due,
        )


@dataclass(frozen=True)
class LoanState:
    """An active loan of the book as the scenario sees it on the as-of date."""

    loan_id: int
    sme_id: int
    grade: str
    industry: str
    annual_rate: Decimal
    term_months: int
    disbursed_on: date
    maturity_on: date
    default_days_past_due: int
    premium_paid: Decimal
    installments: tuple[InstallmentState, ...]


@dataclass(frozen=True)
class ScenarioParams:
    horizon_months: int
    paths: int
    seed: int
    pd_by_grade: Mapping[str, Decimal]
    recovery_rate: Decimal
    correlation: Decimal
    pd_by_industry: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    chunk_paths: int = CHUNK_PATHS

    def pd_of(self, grade: str, industry: str) -> Decimal:
        """The annual PD of a loan: the industry's figure for its grade when one is set, else the
        grade's. A loan without a grade (older data) is treated as the worst grade, C."""
        grade = grade if grade in GRADES else "C"
        by_industry = self.pd_by_industry.get(industry, {})
        return by_industry.get(grade, self.pd_by_grade[grade])


@dataclass(frozen=True)
class SubsidyTerms:
    interest_subsidy_rate: Decimal
    premium_subsidy_rate: Decimal
    benchmark_mode: str
    forfeit_after_late: bool
    annual_cap: Decimal
    period_kind: str


# --- the book prepared for the simulation ----------------------------------------------------------


@dataclass
class PreparedBook:
    """Arrays over loans (L) x remaining installments within the horizon (K) x periods (P)."""

    loan_ids: np.ndarray  # (L,)
    thresholds: np.ndarray  # (L, K) float64, +inf past a loan's last installment
    last_threshold: np.ndarray  # (L,)
    loss_fen: np.ndarray  # (L, K) int64: loss net of recovery if the loan stops paying at k
    # (L, K, 2P) int64: subsidies lost per period if the loan stops at k; interest in the first P
    # columns, premium in the last P.
    subsidy_lost_fen: np.ndarray
    expected_interest_fen: np.ndarray  # (P,) int64: owed on time, weighted by survival
    expected_premium_fen: np.ndarray  # (P,) int64
    periods: list[str]
    period_starts: list[date]
    interest_fen: np.ndarray  # (P,) on time, interest part
    premium_fen: np.ndarray  # (P,) on time, premium part
    capped_off_fen: np.ndarray  # (P,) amounts the annual caps cut off
    exposure: Decimal
    horizon_pd: np.ndarray  # (L,) float64


def horizon_month(as_of: date, day: date, horizon_months: int) -> int | None:
    """The month m (1..horizon) of the horizon that contains a day after as_of; None outside."""
    ends = [add_months(as_of, m) for m in range(1, horizon_months + 1)]
    return _month_of(ends, as_of, day)


def _month_of(month_ends: Sequence[date], as_of: date, day: date) -> int | None:
    if day <= as_of or day > month_ends[-1]:
        return None
    return bisect_left(month_ends, day) + 1


def cumulative_pd(annual_pd: Decimal, months: int) -> float:
    """1 - (1 - p)^(months / 12): the probability of default within `months` months."""
    return 1.0 - (1.0 - float(annual_pd)) ** (months / 12)


def loss_if_stopped(
    loan: LoanState, stop_seq: int, as_of: date, planned: Sequence[PlannedInstallment] | None = None
) -> Decimal:
    """The rule book's loss at default when the loan pays every installment due after as_of and
    before `stop_seq` on time and nothing from `stop_seq` on (what is recorded up to as_of stays).
    `planned` (the loan's schedule as PlannedInstallment rows) may be passed to save rebuilding it."""
    paid: dict[int, InstallmentPaid] = {}
    for inst in loan.installments:
        if inst.due_on <= as_of:
            paid[inst.seq] = InstallmentPaid(inst.principal_paid, inst.interest_paid)
        elif inst.seq < stop_seq:
            paid[inst.seq] = InstallmentPaid(inst.principal_due, inst.interest_due)
    stop = next(i for i in loan.installments if i.seq == stop_seq)
    return loss_at_default(
        planned if planned is not None else [i.planned() for i in loan.installments],
        paid,
        loan.disbursed_on,
        loan.annual_rate,
        default_day(stop.due_on, loan.default_days_past_due),
    ).loss_amount


def net_of_recovery(loss: Decimal, recovery_rate: Decimal) -> Decimal:
    with localcontext() as ctx:
        ctx.prec = 40
        return round_fen(loss * (1 - recovery_rate))


def to_fen(amount: Decimal) -> int:
    return int(round_fen(amount) / FEN)


def from_fen(fen: int) -> Decimal:
    return (Decimal(int(fen)) * FEN).quantize(FEN)


def forecast_periods(as_of: date, horizon_months: int, kind: str) -> list[tuple[str, date]]:
    """The subsidy periods that hold a day of (as_of, as_of + horizon], in order."""
    end = add_months(as_of, horizon_months)
    out: list[tuple[str, date]] = []
    day = as_of + timedelta(days=1)
    while day <= end:
        period = period_containing(day, kind)
        out.append((period.label, period.start))
        day = period.end + timedelta(days=1)
    return out


def prepare_book(
    loans: Sequence[LoanState],
    params: ScenarioParams,
    as_of: date,
    terms: SubsidyTerms,
    benchmark_rows: Sequence[BenchmarkRow],
    used_by_sme_year: Mapping[tuple[int, int], Decimal] | None = None,
) -> PreparedBook:
    """Work out, loan by loan, everything the paths need: default thresholds, the loss at each
    possible default installment, and the subsidies owed (and lost on default) per period."""
    horizon = params.horizon_months
    end = add_months(as_of, horizon)
    periods = forecast_periods(as_of, horizon, terms.period_kind)
    period_index = {label: n for n, (label, _start) in enumerate(periods)}
    n_periods = len(periods)
    used = dict(used_by_sme_year or {})
    rows = list(benchmark_rows)
    timelines: dict[int, list[BenchmarkRow]] = {}

    month_ends = [add_months(as_of, m) for m in range(1, horizon + 1)]
    period_of_day: dict[date, int] = {}

    def period_of(day: date) -> int:
        p = period_of_day.get(day)
        if p is None:
            p = period_of_day[day] = period_index[period_containing(day, terms.period_kind).label]
        return p

    per_loan: list[tuple[list[int], list[int], list[int]]] = []  # (months, seqs, loss fen)
    owed: list[Owed] = []
    owed_seq_index: dict[tuple[int, int | None], int] = {}
    exposure = ZERO
    horizon_pd = np.zeros(len(loans))
    for n, loan in enumerate(loans):
        outstanding = sum((i.principal_due - i.principal_paid for i in loan.installments), ZERO)
        exposure += outstanding
        ahead = [i for i in loan.installments if as_of < i.due_on <= end]
        months = [_month_of(month_ends, as_of, i.due_on) or horizon for i in ahead]
        planned = [i.planned() for i in loan.installments]
        losses = [
            to_fen(net_of_recovery(loss_if_stopped(loan, i.seq, as_of, planned), params.recovery_rate))
            for i in ahead
        ]
        per_loan.append((months, [i.seq for i in ahead], losses))
        pd = params.pd_of(loan.grade, loan.industry)
        horizon_pd[n] = cumulative_pd(pd, months[-1]) if months else 0.0
        # Subsidies owed if every payment from now on is on time (section 9).
        late_before = any(i.status in LATE_STATUSES for i in loan.installments if i.due_on <= as_of)
        if terms.forfeit_after_late and late_before:
            continue
        timeline = timelines.get(loan.term_months)
        if timeline is None:
            timeline = timelines[loan.term_months] = benchmark_timeline(rows, loan.term_months)
        fixed_on = loan.disbursed_on if terms.benchmark_mode == FIXED_AT_DISBURSEMENT else None
        for inst in ahead:
            if inst.status not in ("due", ON_TIME):
                continue
            days = rate_days(
                timeline, inst.start_on, inst.due_on, loan.annual_rate, loan.term_months, fixed_on
            )
            amount = interest_subsidy(inst.opening_principal, days, terms.interest_subsidy_rate)
            if amount > 0:
                owed_seq_index[(loan.loan_id, inst.seq)] = len(owed)
                owed.append(Owed(loan.loan_id, loan.sme_id, inst.seq, "interest", inst.due_on, amount))
        all_on_time = not any(i.status in LATE_STATUSES for i in loan.installments)
        if as_of < loan.maturity_on <= end and all_on_time:
            amount = premium_subsidy(loan.premium_paid, terms.premium_subsidy_rate)
            if amount > 0:
                owed_seq_index[(loan.loan_id, None)] = len(owed)
                owed.append(Owed(loan.loan_id, loan.sme_id, None, "premium", loan.maturity_on, amount))

    # The annual cap per SME and calendar year, after what was already granted that year.
    granted = [ZERO] * len(owed)
    by_key: dict[tuple[int, int], list[int]] = {}
    for idx in sorted(range(len(owed)), key=lambda j: owed[j].order_key):
        by_key.setdefault((owed[idx].sme_id, owed[idx].event_on.year), []).append(idx)
    for key, idxs in by_key.items():
        cut = apply_cap([owed[j].computed_amount for j in idxs], used.get(key, ZERO), terms.annual_cap)
        for j, (amount, _capped) in zip(idxs, cut, strict=True):
            granted[j] = amount

    interest_fen = np.zeros(n_periods, dtype=np.int64)
    premium_fen = np.zeros(n_periods, dtype=np.int64)
    capped_off = np.zeros(n_periods, dtype=np.int64)
    owed_period = [period_of(item.event_on) for item in owed]
    granted_fen = [to_fen(amount) for amount in granted]
    for j, item in enumerate(owed):
        p = owed_period[j]
        target = interest_fen if item.kind == "interest" else premium_fen
        target[p] += granted_fen[j]
        capped_off[p] += to_fen(item.computed_amount - granted[j])

    k_max = max((len(m) for m, _s, _l in per_loan), default=0)
    n_loans = len(loans)
    thresholds = np.full((n_loans, max(k_max, 1)), np.inf)
    loss_fen = np.zeros((n_loans, max(k_max, 1)), dtype=np.int64)
    lost = np.zeros((n_loans, max(k_max, 1), 2 * n_periods), dtype=np.int64)
    expected = np.zeros(2 * n_periods, dtype=np.float64)
    for n, (loan, (months, seqs, losses)) in enumerate(zip(loans, per_loan, strict=True)):
        if not months:
            continue
        pd = params.pd_of(loan.grade, loan.industry)
        probs = np.array([cumulative_pd(pd, m) for m in months])
        thresholds[n, : len(months)] = ndtri(probs)
        loss_fen[n, : len(months)] = losses
        # Subsidy owed per item of this loan, by period; the loan loses every item from the
        # installment it stops at on (a late installment earns nothing, and the premium subsidy
        # needs every installment on time).
        items = [(seq, owed_seq_index.get((loan.loan_id, seq))) for seq in seqs]
        premium_idx = owed_seq_index.get((loan.loan_id, None))
        # Walk back from the last installment so "everything from k on" is a running sum.
        running = np.zeros(2 * n_periods, dtype=np.int64)
        if premium_idx is not None:
            running[n_periods + owed_period[premium_idx]] += granted_fen[premium_idx]
        for k in range(len(seqs) - 1, -1, -1):
            item_idx = items[k][1]
            if item_idx is not None:
                running[owed_period[item_idx]] += granted_fen[item_idx]
            lost[n, k] = running
        # Expected subsidies: each item times the probability the loan has not stopped by then.
        for k, (_seq, item_idx) in enumerate(items):
            if item_idx is not None:
                expected[owed_period[item_idx]] += granted_fen[item_idx] * (1.0 - probs[k])
        if premium_idx is not None:
            expected[n_periods + owed_period[premium_idx]] += granted_fen[premium_idx] * (1.0 - probs[-1])

    last = np.array([thresholds[n, len(pl[0]) - 1] if pl[0] else -np.inf for n, pl in enumerate(per_loan)])
    return PreparedBook(
        loan_ids=np.array([loan.loan_id for loan in loans], dtype=np.int64),
        thresholds=thresholds,
        last_threshold=last,
        loss_fen=loss_fen,
        subsidy_lost_fen=lost,
        expected_interest_fen=np.rint(expected[:n_periods]).astype(np.int64),
        expected_premium_fen=np.rint(expected[n_periods:]).astype(np.int64),
        periods=[label for label, _s in periods],
        period_starts=[start for _l, start in periods],
        interest_fen=interest_fen,
        premium_fen=premium_fen,
        capped_off_fen=capped_off,
        exposure=exposure,
        horizon_pd=horizon_pd,
    )


# --- the Monte-Carlo paths --------------------------------------------------------------------------


@dataclass
class PathResults:
    loss_fen: np.ndarray  # (N,) int64: total loss of each path
    defaults: np.ndarray  # (N,) int64: number of loans defaulting on each path
    subsidy_lost_fen: np.ndarray  # (N, 2P) int64: interest columns, then premium columns


def simulate(
    book: PreparedBook,
    params: ScenarioParams,
    progress: Callable[[int], None] | None = None,
) -> PathResults:
    """Draw the paths chunk by chunk (fixed seed, so the same parameters give the same result)."""
    n_paths, rho = params.paths, float(params.correlation)
    n_loans = book.thresholds.shape[0]
    n_columns = book.subsidy_lost_fen.shape[2]
    rng = np.random.Generator(np.random.PCG64(params.seed))
    a, b = math.sqrt(rho), math.sqrt(1.0 - rho)
    loss = np.zeros(n_paths, dtype=np.int64)
    defaults = np.zeros(n_paths, dtype=np.int64)
    lost = np.zeros((n_paths, n_columns), dtype=np.int64)
    done = 0
    while done < n_paths:
        size = min(params.chunk_paths, n_paths - done)
        z = rng.standard_normal(size)
        x = rng.standard_normal((size, n_loans))
        x *= b
        x += a * z[:, None]
        path_idx, loan_idx = np.nonzero(x < book.last_threshold)
        xs = x[path_idx, loan_idx]
        # The installment the loan stops at: the first whose threshold lies above its draw.
        k = np.sum(book.thresholds[loan_idx] <= xs[:, None], axis=1)
        weights = book.loss_fen[loan_idx, k].astype(np.float64)
        loss[done : done + size] = np.rint(np.bincount(path_idx, weights=weights, minlength=size)).astype(
            np.int64
        )
        defaults[done : done + size] = np.bincount(path_idx, minlength=size)
        if n_columns:
            stopped = book.subsidy_lost_fen[loan_idx, k]  # (nnz, 2P)
            for p in range(n_columns):
                lost[done : done + size, p] = np.rint(
                    np.bincount(path_idx, weights=stopped[:, p].astype(np.float64), minlength=size)
                ).astype(np.int64)
        done += size
        if progress is not None:
            progress(done)
    if loss.size and int(loss.max()) >= _EXACT_FLOAT_INT:
        raise ValueError("a path's loss is too large to add exactly in float64")
    return PathResults(loss_fen=loss, defaults=defaults, subsidy_lost_fen=lost)


# --- figures -----------------------------------------------------------------------------------------


def var_index(n: int, level: Decimal) -> int:
    """The order statistic of the level: the ceil(level x n)-th smallest value (0-based index)."""
    return max(int((level * n).to_integral_value(rounding="ROUND_CEILING")) - 1, 0)


def tail_stats(values_fen: np.ndarray, levels: Iterable[Decimal] = LEVELS) -> dict[str, Decimal]:
    """Mean, VaR and expected shortfall (the mean of the worst (1 - level) share of paths, i.e. of
    the values from the VaR order statistic up) of integer fen values, as Decimal money."""
    ordered = np.sort(values_fen)
    n = len(ordered)
    out = {"expected_loss": _mean_fen(ordered)}
    for level in levels:
        tag = str(int(level * 100))
        idx = var_index(n, level)
        out[f"var_{tag}"] = from_fen(int(ordered[idx]))
        out[f"es_{tag}"] = _mean_fen(ordered[idx:])
    return out


def _mean_fen(values: np.ndarray) -> Decimal:
    if not len(values):
        return ZERO
    total = sum(int(v) for v in values)  # exact integer sum
    with localcontext() as ctx:
        ctx.prec = 40
        return round_fen(Decimal(total) * FEN / len(values))


def split_paths(loss_fen: np.ndarray, shares: Sequence[Decimal]) -> dict[str, np.ndarray]:
    """Each path's loss split by the shares with the programme's largest-remainder rule."""
    parts = np.zeros((len(loss_fen), len(PARTIES)), dtype=np.int64)
    cache: dict[int, list[int]] = {}
    for n, fen in enumerate(loss_fen.tolist()):
        split = cache.get(fen)
        if split is None:
            split = cache[fen] = [to_fen(p) for p in split_by_ratios(from_fen(fen), list(shares))]
        parts[n] = split
    return {party: parts[:, i] for i, party in enumerate(PARTIES)}


def party_results(
    loss_fen: np.ndarray, shares: Sequence[Decimal], fund_balance: Decimal, horizon_months: int
) -> dict[str, object]:
    """Per party and in total: expected loss, VaR and ES at 95 and 99 %; the probability that the
    government's part exceeds the fund balance; months of cover = balance / expected government
    loss per month."""
    parts = split_paths(loss_fen, shares)
    stats = {name: tail_stats(values) for name, values in parts.items()}
    stats["total"] = tail_stats(loss_fen)
    figures: dict[str, object] = {}
    for key in ("expected_loss", "var_95", "var_99", "es_95", "es_99"):
        figures[key] = {name: str(stats[name][key]) for name in (*PARTIES, "total")}
    government = parts["government"]
    # A balance already negative (an unfunded liability) is exhausted on every path.
    exhausted = int(np.count_nonzero(government > to_fen(fund_balance)))
    figures["fund_exhaustion_probability"] = str(
        (Decimal(exhausted) / Decimal(len(loss_fen))).quantize(Decimal("0.0001")) if len(loss_fen) else ZERO
    )
    expected_government = stats["government"]["expected_loss"]
    if expected_government > 0:
        with localcontext() as ctx:
            ctx.prec = 40
            cover = max(fund_balance, ZERO) / (expected_government / horizon_months)
        figures["months_of_cover"] = str(cover.quantize(Decimal("0.1")))
    else:
        figures["months_of_cover"] = None
    figures["shares"] = {name: str(share) for name, share in zip(PARTIES, shares, strict=True)}
    return figures


def histogram(loss_fen: np.ndarray, bins: int = HISTOGRAM_BINS) -> list[dict[str, object]]:
    """The loss distribution in equal-width bins from 0 to the largest path loss (yuan edges)."""
    top = int(loss_fen.max()) if loss_fen.size else 0
    width = max(-(-top // bins), 1) if top else 1
    counts: list[int] = (
        np.bincount(np.minimum(loss_fen // width, bins - 1), minlength=bins).tolist() if loss_fen.size else []
    )
    return [
        {"lower": str(from_fen(n * width)), "upper": str(from_fen((n + 1) * width)), "paths": int(c)}
        for n, c in enumerate(counts)
    ]


def forecast_rows(book: PreparedBook, paths: PathResults) -> list[dict[str, object]]:
    """Per period: subsidies owed with every payment on time (after the annual caps), reduced by
    the expected defaults and by the defaults at the 95 % level (owed minus the 95 % quantile of
    what the paths' defaults take away; quantiles do not add up, so the stressed interest and
    premium need not sum to the stressed total), and what the caps cut off."""
    n_periods = len(book.periods)
    lost = paths.subsidy_lost_fen
    level = LEVELS[0]
    rows: list[dict[str, object]] = []
    for p, label in enumerate(book.periods):
        interest, premium = int(book.interest_fen[p]), int(book.premium_fen[p])
        lost_interest, lost_premium = lost[:, p], lost[:, n_periods + p]
        rows.append(
            {
                "period": label,
                "interest_subsidy": str(from_fen(interest)),
                "premium_subsidy": str(from_fen(premium)),
                "total_subsidy": str(from_fen(interest + premium)),
                "interest_subsidy_expected": str(from_fen(int(book.expected_interest_fen[p]))),
                "premium_subsidy_expected": str(from_fen(int(book.expected_premium_fen[p]))),
                "total_subsidy_expected": str(
                    from_fen(int(book.expected_interest_fen[p] + book.expected_premium_fen[p]))
                ),
                "interest_subsidy_stressed": str(from_fen(interest - _quantile_fen(lost_interest, level))),
                "premium_subsidy_stressed": str(from_fen(premium - _quantile_fen(lost_premium, level))),
                "total_subsidy_stressed": str(
                    from_fen(interest + premium - _quantile_fen(lost_interest + lost_premium, level))
                ),
                "capped_off": str(from_fen(int(book.capped_off_fen[p]))),
            }
        )
    return rows


def _quantile_fen(values: np.ndarray, level: Decimal) -> int:
    if not values.size:
        return 0
    return int(np.sort(values)[var_index(len(values), level)])


def vasicek_quantile(pd: float, rho: float, q: float) -> float:
    """The large homogeneous portfolio's q-quantile of the default rate (Vasicek 2002, Basel IRB):
    Phi((Phi^-1(PD) + sqrt(rho) Phi^-1(q)) / sqrt(1 - rho))."""
    from scipy.stats import norm

    return float(norm.cdf((norm.ppf(pd) + math.sqrt(rho) * norm.ppf(q)) / math.sqrt(1 - rho)))
