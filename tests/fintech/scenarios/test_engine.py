"""Closed-form checks of the scenario engine (DOMAIN.md 10b), without the database: the loss of a
stopped loan by the rule book's loss formula, worked by hand; one loan at zero correlation against
PD x LGD x EAD; a large homogeneous book against Vasicek's quantile; a fixed seed reproduces."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal

import numpy as np
import pytest

from fintech.rules import scenarios as sc
from fintech.rules.schedules import RepaymentMethod, build_schedule
from tests import scenario_loans
from tests.scenario_loans import LPR, TERMS

D = Decimal
AS_OF = date(2025, 6, 30)


def loan_state(principal, rate, term, method, disbursed_on, *, grade="B", premium="0.00", loan_id=1):
    """One loan of `term` months paid on time up to AS_OF (tests/scenario_loans.py)."""
    return scenario_loans.loan_state(
        build_schedule(D(principal), D(rate), term, method, disbursed_on),
        annual_rate=D(rate),
        disbursed_on=disbursed_on,
        as_of=AS_OF,
        loan_id=loan_id,
        grade=grade,
        premium_paid=D(premium),
    )


def params(**kw):
    base = dict(
        horizon_months=12,
        paths=10_000,
        seed=42,
        pd_by_grade=sc.DEFAULT_PD_BY_GRADE,
        recovery_rate=D("0.30"),
        correlation=D("0.15"),
    )
    return sc.ScenarioParams(**{**base, **kw})


def test_loss_of_a_stopped_equal_principal_loan_by_hand():
    # given 1,200,000 equal principal over 12 months at 4.5 % from 2025-01-15, #1-#5 paid by 30 June
    loan = loan_state("1200000.00", "0.045", 12, RepaymentMethod.EQUAL_PRINCIPAL, date(2025, 1, 15))
    # when it pays #6 (15 July) and stops at #7 (due 15 August): default on 15 Aug + 91 = 14 November
    loss = sc.loss_if_stopped(loan, 7, AS_OF)
    # then: unpaid principal 600,000 + interest of #7 (600,000 x 4.5 % x 31/360 = 2,325.00),
    # #8 (500,000, 31 days: 1,937.50), #9 (400,000, 30 days: 1,500.00), all due by 14 November,
    # + accrued from 15 October to 14 November on the 300,000 scheduled after #9 (30 days: 1,125.00)
    assert loss == D("606887.50")
    # and net of a 30 % recovery: 606,887.50 x 0.70
    assert sc.net_of_recovery(loss, D("0.30")) == D("424821.25")


def bullet_in_last_month():
    """1,000,000 interest monthly, principal at maturity, 4.5 %, 2024-07-10 to 2025-07-10: one
    installment left on 30 June (#12, 10 June - 10 July, 30 days, interest 3,750.00)."""
    return loan_state(
        "1000000.00", "0.045", 12, RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY, date(2024, 7, 10)
    )


def test_one_loan_zero_correlation_expected_loss_is_pd_x_lgd_x_ead():
    # given the bullet loan with its last installment in month 1 of the horizon, grade C at 60 % a year
    loan = bullet_in_last_month()
    p = params(pd_by_grade={"A": D("0.01"), "B": D("0.03"), "C": D("0.60")}, correlation=D("0"), paths=20_000)
    book = sc.prepare_book([loan.__class__(**{**loan.__dict__, "grade": "C"})], p, AS_OF, TERMS, LPR)
    # the loss if it stops at #12 (default 10 July + 91 = 9 October): principal 1,000,000 + #12's
    # interest 3,750.00 + nothing accrued (no principal scheduled after #12) = 1,003,750.00, net of
    # 30 % recovery 702,625.00 = LGD x EAD
    assert book.loss_fen[0, 0] == 70_262_500
    pd = 1 - 0.4 ** (1 / 12)  # one month of a 60 % annual PD: 0.07348...
    # when 20,000 paths are drawn
    paths = sc.simulate(book, p)
    # then the simulated expected loss is PD x LGD x EAD within 4 Monte-Carlo standard errors
    simulated = paths.loss_fen.mean() / 100
    closed = pd * 702_625.00
    standard_error = 702_625.00 * math.sqrt(pd * (1 - pd) / 20_000)
    assert abs(simulated - closed) < 4 * standard_error
    # and the reported expected loss is that mean, to the fen, split 5:3:2
    figures = sc.party_results(paths.loss_fen, (D("0.5"), D("0.3"), D("0.2")), D("1000000.00"), 12)
    defaults = int(np.count_nonzero(paths.loss_fen))
    assert figures["expected_loss"]["total"] == str(
        (D(defaults) * D("702625.00") / 20_000).quantize(D("0.01"))
    )


def homogeneous_book(n_loans: int, pd: float, loss_fen: int) -> sc.PreparedBook:
    threshold = np.full(n_loans, float(sc.ndtri(pd)))
    return sc.PreparedBook(
        loan_ids=np.arange(n_loans),
        thresholds=threshold[:, None],
        last_threshold=threshold,
        loss_fen=np.full((n_loans, 1), loss_fen, dtype=np.int64),
        subsidy_lost_fen=np.zeros((n_loans, 1, 0), dtype=np.int64),
        expected_interest_fen=np.zeros(0, dtype=np.int64),
        expected_premium_fen=np.zeros(0, dtype=np.int64),
        periods=[],
        period_starts=[],
        interest_fen=np.zeros(0, dtype=np.int64),
        premium_fen=np.zeros(0, dtype=np.int64),
        capped_off_fen=np.zeros(0, dtype=np.int64),
        exposure=D(0),
        horizon_pd=np.full(n_loans, pd),
    )


@pytest.mark.parametrize("q", [0.95, 0.99])
def test_large_homogeneous_book_quantile_matches_vasicek(q):
    # given 5,000 identical loans, PD 3 %, rho 0.15, each losing 100.00 on default
    n, pd, rho = 5_000, 0.03, 0.15
    book = homogeneous_book(n, pd, 10_000)
    p = params(paths=10_000, correlation=D("0.15"), seed=7)
    # when 10,000 paths are drawn
    paths = sc.simulate(book, p)
    # then the q-quantile of the loss rate is Vasicek's Phi((Phi^-1(PD) + sqrt(rho) Phi^-1(q)) /
    # sqrt(1 - rho)) x LGD (LGD = 1 here): Phi^-1(0.03) = -1.8808, sqrt(0.15) = 0.3873, so at 99 %
    # Phi((-1.8808 + 0.3873 x 2.3263) / 0.9220) = Phi(-1.0628) = 0.1439 (95 %: Phi(-1.3490) = 0.0887);
    # the simulated quantile agrees within 7 % (a finite book and finite paths)
    simulated = np.quantile(paths.loss_fen / (n * 10_000), q)
    closed = sc.vasicek_quantile(pd, rho, q)
    assert closed == pytest.approx({0.95: 0.0887, 0.99: 0.1439}[q], abs=1e-4)
    assert simulated == pytest.approx(closed, rel=0.07)
    # and the mean loss rate is the PD
    assert paths.loss_fen.mean() / (n * 10_000) == pytest.approx(pd, rel=0.05)


def test_a_fixed_seed_reproduces_the_paths_and_another_seed_does_not():
    book = homogeneous_book(500, 0.05, 10_000)
    one, two = (
        sc.simulate(book, params(seed=11, paths=1_000)),
        sc.simulate(book, params(seed=11, paths=1_000)),
    )
    other = sc.simulate(book, params(seed=12, paths=1_000))
    assert np.array_equal(one.loss_fen, two.loss_fen)
    assert not np.array_equal(one.loss_fen, other.loss_fen)


def test_tail_figures_are_order_statistics():
    # given 100 paths losing 1..100 fen x 100 (1.00 .. 100.00)
    values = np.arange(1, 101, dtype=np.int64) * 100
    stats = sc.tail_stats(values)
    # VaR 95 = the 95th smallest, ES 95 = mean of the 95th..100th (97.50); VaR 99 = 99th, ES 99 = 99.50
    assert stats == {
        "expected_loss": D("50.50"),
        "var_95": D("95.00"),
        "es_95": D("97.50"),
        "var_99": D("99.00"),
        "es_99": D("99.50"),
    }


def test_each_path_is_split_with_the_largest_remainder_rule():
    # 1,234,567.89 split 5:3:2 is 617,283.94 / 370,370.37 / 246,913.58 (DOMAIN.md section 5)
    parts = sc.split_paths(np.array([123_456_789]), (D("0.5"), D("0.3"), D("0.2")))
    assert [int(parts[p][0]) for p in sc.PARTIES] == [61_728_394, 37_037_037, 24_691_358]


def test_subsidy_forecast_of_one_loan_by_hand():
    # given 1,000,000 interest-only at 4.5 % from 2025-01-15 for 12 months, #1-#5 paid; LPR 1Y 3.00 %
    loan = loan_state(
        "1000000.00", "0.045", 12, RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY, date(2025, 1, 15)
    )
    p = params(horizon_months=6, pd_by_grade={"A": D("0.01"), "B": D("0.03"), "C": D("0.06")}, paths=2_000)
    # when the 6-month horizon (to 30 December) is prepared and drawn
    book = sc.prepare_book([loan], p, AS_OF, TERMS, LPR)
    rows = sc.forecast_rows(book, sc.simulate(book, p))
    # then per quarter, on time: 1,000,000 x 3.00 % x days / 360 x 25 %: 30 days 625.00, 31 days 645.83
    # Q3: #6 (15 Jun-15 Jul, 30) + #7 (31) + #8 (31) = 1,916.66; Q4: #9 (30) + #10 (31) + #11 (30)
    # = 1,895.83; #12 (January 2026) and the premium subsidy lie beyond the horizon
    assert [(r["period"], r["interest_subsidy"], r["premium_subsidy"]) for r in rows] == [
        ("2025Q3", "1916.66", "0.00"),
        ("2025Q4", "1895.83", "0.00"),
    ]

    # and the expected figure weights each by the chance the loan still pays: (0.97)^(m/12) for
    # the installment in month m of the horizon (15 July is in month 1, ..., 15 December in month 6)
    def survive(m):
        return 0.97 ** (m / 12)

    q3 = 62_500 * survive(1) + 64_583 * survive(2) + 64_583 * survive(3)
    q4 = 62_500 * survive(4) + 64_583 * survive(5) + 62_500 * survive(6)
    assert [r["interest_subsidy_expected"] for r in rows] == [
        str(D(round(q3)) / 100),
        str(D(round(q4)) / 100),
    ]
    # the stressed figure lies between nothing and the on-time figure
    for r in rows:
        assert D(0) <= D(r["interest_subsidy_stressed"]) <= D(r["interest_subsidy"])


def test_fund_exhaustion_and_months_of_cover_by_hand():
    # given four paths losing 0, 100.00, 200.00 and 1,000.00, split 5:3:2, a fund of 50.00, 12 months
    losses = np.array([0, 10_000, 20_000, 100_000], dtype=np.int64)
    figures = sc.party_results(losses, (D("0.5"), D("0.3"), D("0.2")), D("50.00"), 12)
    # the government's parts are 0, 30.00, 60.00, 300.00: two of four exceed 50.00
    assert figures["fund_exhaustion_probability"] == "0.5000"
    # expected government loss 390.00 / 4 = 97.50, 8.125 a month: 50.00 / 8.125 = 6.15 months
    assert figures["expected_loss"] == {
        "insurer": "162.50",
        "government": "97.50",
        "bank": "65.00",
        "total": "325.00",
    }
    assert figures["months_of_cover"] == "6.2"
    # a fund already overdrawn is exhausted on every path, even one without a loss
    assert (
        sc.party_results(losses, (D("0.5"), D("0.3"), D("0.2")), D("-1.00"), 12)[
            "fund_exhaustion_probability"
        ]
        == "1.0000"
    )
    # nothing expected for the fund: no months of cover to state
    assert (
        sc.party_results(np.zeros(4, dtype=np.int64), (D("0.5"), D("0.3"), D("0.2")), D("50.00"), 12)[
            "months_of_cover"
        ]
        is None
    )


def test_progress_is_reported_after_each_chunk_of_paths():
    seen = []
    sc.simulate(homogeneous_book(10, 0.05, 100), params(paths=600, chunk_paths=250), seen.append)
    assert seen == [250, 500, 600]


def test_the_forecast_respects_the_annual_cap_per_sme_by_hand():
    # given the interest-only loan of the forecast test and a cap of 1,000.00 a year, 400.00 of it
    # already granted to the SME in 2025
    loan = loan_state(
        "1000000.00", "0.045", 12, RepaymentMethod.INTEREST_MONTHLY_PRINCIPAL_AT_MATURITY, date(2025, 1, 15)
    )
    terms = sc.SubsidyTerms(**{**TERMS.__dict__, "annual_cap": D("1000.00")})
    p = params(horizon_months=6, paths=200)
    book = sc.prepare_book([loan], p, AS_OF, terms, LPR, {(loan.sme_id, 2025): D("400.00")})
    rows = sc.forecast_rows(book, sc.simulate(book, p))
    # then 600.00 is left for 2025: #6 (625.00) is cut to 600.00, everything after to nothing; the
    # caps cut 25.00 + 645.83 + 645.83 = 1,316.66 in Q3 and the whole 1,895.83 of Q4
    assert [(r["period"], r["interest_subsidy"], r["capped_off"]) for r in rows] == [
        ("2025Q3", "600.00", "1316.66"),
        ("2025Q4", "0.00", "1895.83"),
    ]
