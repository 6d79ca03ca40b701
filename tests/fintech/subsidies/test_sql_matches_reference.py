"""Property: on random books (loans of any method, term, rate and date since 2019, repaid on time,
early, late or not at all, some with a partial prepayment, an early settlement or both) and random
programme parameters, the set-based SQL of a run gives exactly the entitlements of the plain-Python
reference, fintech.rules.subsidies, to the fen: computed amount, amount after the cap, capped flag,
one per installment and kind."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import transaction
from django.db.models import Max
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fintech.models import BenchmarkRate, Installment, Loan, Prepayment, SubsidyEntitlement
from fintech.rules import subsidies as rules
from fintech.services.common import business_today
from fintech.services.prepayments import loan_prepay_partial, loan_settle_early, payoff_quote
from fintech.services.repayments import repayment_record
from fintech.services.subsidies import run_params, subsidy_run_start
from tests.builders import active_loan, cast
from tests.factories import SmeFactory, UserFactory, wuhan_program

from .helpers import set_program

pytestmark = pytest.mark.django_db

D = Decimal
METHODS = ("interest_monthly_principal_at_maturity", "equal_principal", "equal_installment")
PAYMENTS = ("on_time",) * 6 + ("early", "late", "unpaid")

loan_spec = st.fixed_dictionaries(
    {
        "sme": st.integers(min_value=0, max_value=1),  # two SMEs share loans: the cap spans loans
        # 10,000.00 to 1,200,000.99 (the builder's credit ceiling is 1,216,115.08), spread evenly
        "principal": st.builds(
            lambda k, fen: D(k) * 1000 + D(fen) / 100, st.integers(10, 1200), st.integers(0, 99)
        ),
        "rate": st.decimals(min_value=D("0.0250"), max_value=D("0.0650"), places=4),
        "term": st.integers(min_value=1, max_value=15),
        "method": st.sampled_from(METHODS),
        "disbursed_day": st.integers(min_value=0, max_value=(date(2025, 3, 1) - date(2019, 1, 1)).days),
        "payments": st.lists(st.sampled_from(PAYMENTS), min_size=15, max_size=15),
        "shift": st.integers(min_value=1, max_value=20),
        # DOMAIN.md 8a: a prepayment in the period of installment `at`, `day` days into it
        "prepay": st.sampled_from([None, None, "keep_term", "shorten_term", "settle", "keep_then_settle"]),
        "at": st.integers(min_value=1, max_value=15),
        "day": st.integers(min_value=0, max_value=30),
        "share": st.integers(min_value=1, max_value=90),  # per cent of the principal prepaid
    }
)
params_spec = st.fixed_dictionaries(
    {
        "interest_subsidy_rate": st.sampled_from([D("0.25"), D("0.20"), D("0.50"), D("0.3333")]),
        "premium_subsidy_rate": st.sampled_from([D("0.40"), D("0.45"), D("0.50")]),
        "subsidy_period": st.sampled_from(["quarter", "month"]),
        "benchmark_mode": st.sampled_from(["daily", "fixed_at_disbursement"]),
        "forfeit_after_late": st.sampled_from([False, False, True]),
        "annual_subsidy_cap": st.sampled_from([D("500000.00"), D("1500.00"), D("300.00")]),
    }
)


def _repay(loan: Loan, people, spec: dict) -> None:
    """Pay the installments in order as the pattern says, until the first unpaid one. Value dates
    never go backwards (a bank reports them in order): an early payment after a late one is made
    the same day as the late one. With a prepayment planned, it is made `day` days into the
    period of installment `at` once the earlier ones are paid: a partial one (the schedule is
    rebuilt, the later installments are paid at their new amounts), a settlement at the payoff,
    or a partial one followed two days later by a settlement in the same period."""
    today = business_today()
    last = date.min
    seq = 1
    for how in spec["payments"]:
        loan.refresh_from_db()
        inst = Installment.objects.filter(loan=loan, seq=seq).first()
        if inst is None or loan.status != "active":
            return
        if spec["prepay"] and seq == spec["at"]:
            _prepay(loan, people, spec, inst, max(last, inst.start_on + timedelta(days=spec["day"])), today)
            spec = {**spec, "prepay": None}
            loan.refresh_from_db()
            inst = Installment.objects.get(loan=loan, seq=seq)
            last = max(last, Prepayment.objects.filter(loan=loan).aggregate(m=Max("value_date"))["m"] or last)
            if loan.status != "active":
                return
        if how == "unpaid":
            return
        paid_on = {
            "on_time": inst.due_on,
            "early": max(inst.start_on, inst.due_on - timedelta(days=spec["shift"])),
            "late": inst.due_on + timedelta(days=spec["shift"]),
        }[how]
        last = max(last, min(paid_on, today))
        repayment_record(
            actor=people.bank,
            loan_id=loan.pk,
            amount=inst.principal_due + inst.interest_due,
            paid_on=last,
        )
        seq += 1


def _prepay(loan: Loan, people, spec: dict, inst: Installment, on: date, today: date) -> None:
    if on >= inst.due_on or on > today:
        return
    if spec["prepay"] == "settle":
        quote = payoff_quote(actor=people.bank, loan_id=loan.pk, on=on)
        loan_settle_early(actor=people.bank, loan_id=loan.pk, amount=quote.total, value_date=on)
        return
    outstanding = sum(
        (i.principal_due for i in Installment.objects.filter(loan=loan, due_on__gt=on)), D("0.00")
    )
    amount = (outstanding * spec["share"] / 100).quantize(D("0.01"))
    if not D("0.00") < amount < outstanding:
        return
    recast = spec["prepay"] if spec["prepay"] in ("keep_term", "shorten_term") else "keep_term"
    if loan.repayment_method == METHODS[0]:
        recast = "keep_term"
    loan_prepay_partial(actor=people.bank, loan_id=loan.pk, amount=amount, value_date=on, recast=recast)
    later = on + timedelta(days=2)
    if spec["prepay"] == "keep_then_settle" and later < inst.due_on and later <= today:
        quote = payoff_quote(actor=people.bank, loan_id=loan.pk, on=later)
        loan_settle_early(actor=people.bank, loan_id=loan.pk, amount=quote.total, value_date=later)


def _facts(loan: Loan) -> rules.LoanFacts:
    loan.refresh_from_db()
    assert loan.disbursed_on is not None and loan.maturity_on is not None
    return rules.LoanFacts(
        loan_id=loan.pk,
        sme_id=loan.sme_id,
        term_months=loan.term_months,
        annual_rate=loan.annual_rate,
        disbursed_on=loan.disbursed_on,
        maturity_on=loan.maturity_on,
        settled_on=loan.settled_on,
        status=loan.status,
        premium_paid=loan.policy.premium_paid_amount,
        installments=tuple(
            rules.InstallmentFacts(
                i.seq,
                i.start_on,
                i.due_on,
                i.opening_principal,
                i.status,
                principal_changed_on=i.principal_changed_on,
                principal_after_change=i.principal_after_change,
                accrual_end_on=i.accrual_end_on,
                after_extension=i.after_extension,
            )
            for i in Installment.objects.filter(loan=loan).order_by("seq")
        ),
    )


def _key(row: tuple) -> tuple:
    return (row[0], row[1] or 0, row[2])


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    loans=st.lists(loan_spec, min_size=1, max_size=3),
    params=params_spec,
    pick=st.integers(min_value=0, max_value=10**6),
    chunk_size=st.integers(min_value=1, max_value=3),
)
def test_the_sql_of_a_run_equals_the_reference(
    regulators, django_capture_on_commit_callbacks, loans, params, pick, chunk_size
):
    with transaction.atomic():  # each example starts from the same database
        # given a book built through the services, and the programme's parameters
        set_program(**params)
        smes = [cast(), cast()]
        smes[1].sme = UserFactory(organization=SmeFactory())
        built = []
        for spec in loans:
            disbursed = date(2019, 1, 1) + timedelta(days=spec["disbursed_day"])
            people = smes[spec["sme"]]
            people.bank, people.insurer = cast().bank, cast().insurer
            loan, _ = active_loan(
                principal=spec["principal"],
                annual_rate=spec["rate"],
                term_months=spec["term"],
                method=spec["method"],
                disbursed_on=disbursed,
                valuation_on=disbursed - timedelta(days=10),
                people=people,
            )
            _repay(loan, people, spec)
            built.append(loan)
        # a period with something in it: the one containing one of the book's due dates
        dues = sorted(
            [*Installment.objects.filter(loan__in=built).values_list("due_on", flat=True)]
            + [*Prepayment.objects.filter(loan__in=built).values_list("value_date", flat=True)] * 3
        )
        period = rules.period_containing(dues[pick % len(dues)], params["subsidy_period"])

        # when the period is run (in chunks of 1-3 loans)
        with django_capture_on_commit_callbacks(execute=True):
            run = subsidy_run_start(
                actor=regulators.starter,
                program_id=wuhan_program().pk,
                period=period.label,
                chunk_size=chunk_size,
            )
        run.refresh_from_db()

        # then its entitlements are the reference's, to the fen, after the same cap
        table = [
            rules.BenchmarkRow(b.effective_on, b.term_min_months, b.term_max_months, b.rate)
            for b in BenchmarkRate.objects.all()
        ]
        owed = [
            o for loan in built for o in rules.loan_subsidies(_facts(loan), period, run_params(run), table)
        ]
        expected = sorted(
            (
                (o.loan_id, o.seq, o.kind, o.computed_amount, amount, capped)
                for o, amount, capped in rules.cap_book(owed, {}, run_params(run).annual_cap)
            ),
            key=_key,
        )
        got = sorted(
            (
                (
                    e.loan_id,
                    e.installment.seq if e.installment else None,
                    e.kind,
                    e.computed_amount,
                    e.amount,
                    e.capped,
                )
                for e in SubsidyEntitlement.objects.filter(run=run).select_related("installment")
            ),
            key=_key,
        )
        assert got == expected, (period, params)
        assert run.status == "computed"
        assert run.interest_total + run.premium_total == sum((row[4] for row in expected), D("0.00"))
        transaction.set_rollback(True)
