"""The demo book behind `manage.py seed_demo`: the stories of `cast.py` told through the same
services the API calls, each event on its business date.

The events of every story (submission, valuation, policy, approval, premium, pledge, disbursement,
repayments, defaults, recoveries, settlements), the daily closes (every month end, the day a loan
crosses 90 days past due, and yesterday) and the subsidy runs (every finished quarter, approved by a
second regulator and paid) are put on one calendar and played in date order, so each record's
dates follow its flow and each close or run sees exactly what had happened by its date.

Idempotent: parties are found by USCC and username, and the book is built once (it is skipped when
the demo SMEs already have applications).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from fintech.models import Application, Loan, Organization, Program, SubsidyEntitlement, SubsidyRun, User
from fintech.rules.identifiers import patent_check_character
from fintech.rules.loss import default_day
from fintech.rules.schedules import add_months, due_date
from fintech.rules.subsidies import period_containing
from fintech.services.applications import (
    application_create,
    application_decline,
    application_submit,
    application_withdraw,
)
from fintech.services.close import close_day
from fintech.services.common import business_today
from fintech.services.loans import loan_approve, loan_disburse, pledge_register
from fintech.services.parties import member_add, sme_register
from fintech.services.patents import PatenteeInput, patent_register
from fintech.services.policies import policy_issue, premium_payment_record
from fintech.services.repayments import repayment_record
from fintech.services.risk_pool import (
    fund_top_up_record,
    recovery_record,
    settlement_approve,
    settlement_record,
)
from fintech.services.subsidies import subsidy_run_approve, subsidy_run_pay, subsidy_run_start
from fintech.services.valuations import PatentReport, valuation_report
from valuation import public as val

from .cast import (
    COST,
    DEMO_PASSWORD,
    FUND_TOP_UP,
    MARKET,
    MEMBERS,
    RECOVERY,
    REGION,
    SMES,
    STORIES,
    Story,
)

D = Decimal
DISBURSED = {"active", "settled", "defaulted"}
# Order of events that share a date: the day's business first, then its close, then the runs.
BUSINESS, CLOSE, RUN = 0, 5, 8


def demo_seed() -> list[str]:
    """Create what is missing and describe the whole demo cast and book."""
    lines = _cast()
    if not Application.objects.filter(sme__uscc__in=[s.uscc for s in SMES]).exists():
        Book(business_today()).tell()
    return lines + summary()


def _cast() -> list[str]:
    lines = [f"Demo users (password for all: {DEMO_PASSWORD}):"]
    for m in MEMBERS:
        if not User.objects.filter(username=m.username).exists():
            member_add(
                kind=m.kind,
                org_name=m.name,
                uscc=m.uscc,
                region_code=REGION,
                username=m.username,
                password=DEMO_PASSWORD,
            )
        lines.append(f"  {m.username:<11} {m.kind:<10} {m.name}")
    for s in SMES:
        if not Organization.objects.filter(uscc=s.uscc).exists():
            sme_register(
                username=s.username,
                password=DEMO_PASSWORD,
                name=s.name,
                uscc=s.uscc,
                region_code=REGION,
                industry=s.industry,
                employees=s.employees,
                annual_revenue=D(s.revenue),
                total_assets=D(s.assets),
            )
        lines.append(f"  {s.username:<11} {'sme':<10} {s.name}")
    admin = User.objects.get(username="platform")
    if not admin.is_superuser:
        admin.is_superuser = True
        admin.save(update_fields=["is_superuser"])
    return lines


def book_start(today: date) -> date:
    """The 15th of the month thirteen months before today: the first disbursement."""
    return add_months(date(today.year, today.month, 15), -13)


class Book:
    def __init__(self, today: date) -> None:
        self.today = today
        self.base = book_start(today)
        self.users = {u.username: u for u in User.objects.select_related("organization")}
        self.program = Program.objects.get(code="wuhan")
        self.calendar: list[tuple[date, int, int, Callable[[], object]]] = []
        self.counter = itertools.count()
        self.apps: dict[str, Application] = {}
        self.loans: dict[str, Loan] = {}

    def on(self, day: date, what: Callable[[], object], order: int = BUSINESS) -> None:
        if day > self.today:
            raise ValueError(f"the demo book would record an event on {day}, after today {self.today}")
        heapq.heappush(self.calendar, (day, order, next(self.counter), what))

    def org(self, username: str) -> int:
        org_id = self.users[username].organization_id
        assert org_id is not None
        return org_id

    # --- the calendar ----------------------------------------------------------------------------

    def tell(self) -> None:
        self.on(self.base - timedelta(days=60), self._top_up)
        for serial, story in enumerate(STORIES, start=9001):
            self._plan(story, serial)
        self._plan_closes()
        self._plan_runs()
        while self.calendar:
            _day, _order, _n, what = heapq.heappop(self.calendar)
            what()

    def _top_up(self) -> None:
        fund_top_up_record(
            actor=self.users["regulator"],
            program_id=self.program.pk,
            amount=FUND_TOP_UP,
            received_on=self.base - timedelta(days=60),
        )

    def _plan(self, story: Story, serial: int) -> None:
        """Put one story's events on the calendar, each on its business date."""
        if story.until in DISBURSED:
            disbursed_on = add_months(self.base, story.disbursed_month)
            last = disbursed_on
        else:
            disbursed_on = None
            last = self.today - timedelta(days=story.days_ago)
        # Dates of the flow, counted back from its last step.
        if disbursed_on is not None:
            submitted, valued, issued, approved = (last - timedelta(days=d) for d in (40, 30, 25, 20))
        else:
            submitted, valued, issued, approved = (last - timedelta(days=d) for d in (14, 10, 7, 0))
        self.on(submitted - timedelta(days=1), lambda: self._draft(story, serial))
        if story.until == "draft":
            return
        self.on(submitted, lambda: self._submit(story, submitted))
        if story.until == "withdrawn":
            self.on(last, lambda: self._withdraw(story))
            return
        if story.until == "valuation":
            return
        self.on(valued, lambda: self._value(story, valued))
        if story.until == "declined":
            self.on(last, lambda: self._decline(story))
            return
        if story.until == "underwriting":
            return
        self.on(issued, lambda: self._issue(story))
        if story.until == "bank_review":
            return
        self.on(approved, lambda: self._approve(story, approved))
        if disbursed_on is None:
            return
        self.on(
            disbursed_on - timedelta(days=10), lambda: self._premium(story, disbursed_on - timedelta(days=10))
        )
        self.on(
            disbursed_on - timedelta(days=8), lambda: self._pledge(story, disbursed_on - timedelta(days=8))
        )
        self.on(disbursed_on, lambda: self._disburse(story, disbursed_on))
        late = dict(story.late)
        paid = story.term if story.stop_after is None else story.stop_after
        for seq in range(1, paid + 1):
            paid_on = due_date(disbursed_on, seq) + timedelta(days=late.get(seq, 0))
            if paid_on < self.today:
                self.on(paid_on, partial(self._repay, story, seq, paid_on))
        if story.until == "defaulted":
            assert story.stop_after is not None
            # The oldest unpaid installment crosses 90 days past due on its due date + 91 days: the
            # close of that day defaults the loan (a close on any later day would find the same date).
            default_on = default_day(
                due_date(disbursed_on, story.stop_after + 1), self.program.default_days_past_due
            )
            self.on(default_on, lambda: close_day(default_on), CLOSE)
            self.on(
                default_on + timedelta(days=30), lambda: self._recover(story, default_on + timedelta(days=30))
            )
            self.on(default_on + timedelta(days=45), lambda: self._settle(story, "insurer", default_on))
            self.on(default_on + timedelta(days=50), lambda: self._settle(story, "government", default_on))

    def _plan_closes(self) -> None:
        """The nightly close as beat runs it, at each month end and for yesterday."""
        month_end = add_months(self.base, 1).replace(day=1) - timedelta(days=1)
        while month_end < self.today - timedelta(days=1):
            self.on(month_end, partial(close_day, month_end), CLOSE)
            month_end = add_months(month_end.replace(day=1), 2) - timedelta(days=1)
        yesterday = self.today - timedelta(days=1)
        self.on(yesterday, lambda: close_day(yesterday), CLOSE)

    def _plan_runs(self) -> None:
        """A run for every quarter finished since the first disbursement, approved by a second
        regulator and paid ten days after the quarter (today at the latest)."""
        period = period_containing(self.base, self.program.subsidy_period)
        current = period_containing(self.today, self.program.subsidy_period)
        while period.start < current.start:
            start_on = min(period.end + timedelta(days=5), self.today)
            paid_on = min(period.end + timedelta(days=10), self.today)
            self.on(start_on, partial(self._run, period.label, paid_on), RUN)
            period = period_containing(period.end + timedelta(days=1), self.program.subsidy_period)

    # --- the events ------------------------------------------------------------------------------

    def _draft(self, story: Story, serial: int) -> None:
        sme = self.users[story.sme]
        org = sme.organization
        assert org is not None
        digits = f"20201{serial:07d}"
        patent = patent_register(
            user=sme,
            application_number=f"{digits}.{patent_check_character(digits)}",
            title=f"{org.name.split(' ')[0]} patent {serial}",
            patent_type="invention",
            filing_date=date(2020, 4, 1),
            grant_date=date(2022, 4, 1),
            patentees=[PatenteeInput(name=org.name, uscc=org.uscc)],
            claims_count=12,
        )
        self.apps[story.key] = application_create(
            user=sme,
            program_id=self.program.pk,
            patent_ids=[patent.pk],
            requested_amount=D(story.amount),
            term_months=story.term,
            repayment_method=story.method,
            bank_id=self.org(story.bank),
            insurer_id=self.org(story.insurer),
            appraiser_id=self.org(story.appraiser),
            purpose="R&D and working capital",
        )

    def _submit(self, story: Story, on: date) -> None:
        application_submit(
            actor=self.users[story.sme], application_id=self.apps[story.key].pk, submitted_on=on
        )

    def _withdraw(self, story: Story) -> None:
        application_withdraw(
            actor=self.users[story.sme], application_id=self.apps[story.key].pk, reason=story.reason
        )

    def _decline(self, story: Story) -> None:
        application_decline(
            actor=self.users[story.insurer], application_id=self.apps[story.key].pk, reason=story.reason
        )

    def _value(self, story: Story, on: date) -> None:
        app = Application.objects.get(pk=self.apps[story.key].pk)
        legal, technical, economic, operating, benefit = (D(s) for s in story.valuation.scores)
        valuation_report(
            actor=self.users[story.appraiser],
            valuation_id=app.valuation.pk,
            report_number=f"{story.appraiser.upper()}-{on:%Y}-{app.pk:04d}",
            valuation_date=on,
            patents=[
                PatentReport(
                    patent=app.patents.get().pk,
                    method=story.valuation.method,
                    inputs=_inputs(story.valuation.method),
                    indicators=val.PatentIndicators(legal=legal, technical=technical, economic=economic),
                )
            ],
            operating=operating,
            economic_benefit=benefit,
        )

    def _issue(self, story: Story) -> None:
        policy_issue(
            actor=self.users[story.insurer],
            application_id=self.apps[story.key].pk,
            premium_rate=D(story.premium_rate),
        )

    def _approve(self, story: Story, on: date) -> None:
        self.loans[story.key] = loan_approve(
            actor=self.users[story.bank],
            application_id=self.apps[story.key].pk,
            principal=D(story.amount),
            annual_rate=D(story.rate),
            term_months=story.term,
            repayment_method=story.method,
            approved_on=on,
        )

    def _premium(self, story: Story, on: date) -> None:
        policy = self.loans[story.key].policy
        premium_payment_record(
            actor=self.users[story.insurer], policy_id=policy.pk, amount=policy.premium, paid_on=on
        )

    def _pledge(self, story: Story, on: date) -> None:
        loan = self.loans[story.key]
        pledge_register(
            actor=self.users[story.bank],
            loan_id=loan.pk,
            registration_number=f"Y{on:%Y}420000{loan.pk:05d}",
            registered_on=on,
        )

    def _disburse(self, story: Story, on: date) -> None:
        loan_disburse(actor=self.users[story.bank], loan_id=self.loans[story.key].pk, disbursed_on=on)

    def _repay(self, story: Story, seq: int, on: date) -> None:
        loan = self.loans[story.key]
        row = loan.installments.get(seq=seq)
        repayment_record(
            actor=self.users[story.bank],
            loan_id=loan.pk,
            amount=row.principal_due + row.interest_due - row.principal_paid - row.interest_paid,
            paid_on=on,
            transaction_id=f"{story.bank.upper()}{loan.pk:04d}{seq:03d}",
        )

    def _recover(self, story: Story, on: date) -> None:
        recovery_record(
            actor=self.users[story.bank],
            loan_id=self.loans[story.key].pk,
            amount=RECOVERY,
            received_on=on,
            source="licence of the pledged patent",
        )

    def _settle(self, story: Story, party: str, default_on: date) -> None:
        """The insurer (or the regulator for the risk fund) pays its whole share to the bank; a
        second person of the same organisation approves the payment."""
        loan = Loan.objects.select_related("loss_event").get(pk=self.loans[story.key].pk)
        event = loan.loss_event
        payer, checker = (
            (story.insurer, f"{story.insurer}2") if party == "insurer" else ("regulator", "regulator2")
        )
        days = 45 if party == "insurer" else 50
        settlement = settlement_record(
            actor=self.users[payer],
            loan_id=loan.pk,
            party=party,
            amount=event.insurer_share if party == "insurer" else event.government_share,
            paid_on=default_on + timedelta(days=days),
            reference=f"{'CLM' if party == 'insurer' else 'FND'}-{loan.pk:05d}",
        )
        settlement_approve(actor=self.users[checker], settlement_id=settlement.pk)

    def _run(self, period: str, paid_on: date) -> None:
        run = subsidy_run_start(actor=self.users["regulator"], program_id=self.program.pk, period=period)
        run.refresh_from_db()
        if run.status != "computed":
            raise RuntimeError(f"the subsidy run for {period} ended {run.status}: {run.error}")
        subsidy_run_approve(actor=self.users["regulator2"], run_id=run.pk)
        subsidy_run_pay(
            actor=self.users["regulator2"], run_id=run.pk, paid_on=paid_on, reference=f"EDZ-SUB-{period}"
        )


def _inputs(method: str) -> val.MethodInputs:
    if method == MARKET:
        # Two licence deals of comparable photonics and machining patents, adjusted to the subject.
        return val.MarketInputs(
            comparables=(
                val.Comparable(D("4500000.00"), D("1.10"), D("1.02"), D("0.95"), D("1.00")),
                val.Comparable(D("5200000.00"), D("0.95"), D("1.00"), D("1.00"), D("0.90")),
            )
        )
    if method == COST:
        return val.CostInputs(
            replacement_cost=D("3200000.00"),
            functional_obsolescence_rate=D("0.10"),
            economic_obsolescence_rate=D("0.05"),
            economic_life_years=D("15"),
            remaining_economic_life_years=D("12"),
        )
    return val.RoyaltyInputs(
        revenue_forecast=(D("40000000.00"), D("44000000.00"), D("48000000.00")),
        royalty_rate=D("0.04"),
        tax_rate=D("0.25"),
        discount_rate=D("0.14"),
    )


def summary() -> list[str]:
    uscc = [s.uscc for s in SMES]
    loans = Loan.objects.filter(sme__uscc__in=uscc)
    apps = Application.objects.filter(sme__uscc__in=uscc)
    entitlements = SubsidyEntitlement.objects.filter(sme__uscc__in=uscc).exclude(status="cancelled")
    total = sum((e.amount for e in entitlements), D("0.00"))
    runs = SubsidyRun.objects.filter(program__code="wuhan").order_by("period_start")
    by_status = {s: loans.filter(status=s).count() for s in ("approved", "active", "settled", "defaulted")}
    queues = {s: apps.filter(status=s).count() for s in ("valuation", "underwriting", "bank_review", "draft")}
    lines = [
        "Book:",
        f"  loans: {by_status['approved']} approved, {by_status['active']} active,"
        f" {by_status['settled']} settled, {by_status['defaulted']} defaulted",
        f"  applications waiting: {queues['valuation']} with the appraiser, {queues['underwriting']} with"
        f" the insurer, {queues['bank_review']} with the bank; {queues['draft']} draft,"
        f" {apps.filter(status='declined').count()} declined,"
        f" {apps.filter(status='withdrawn').count()} withdrawn",
        f"  subsidy entitlements: {entitlements.count()} worth {total:,.2f} CNY",
        "  subsidy runs: " + (", ".join(f"{r.period} {r.status}" for r in runs) or "none"),
    ]
    for loan in loans.filter(status="defaulted").select_related("loss_event"):
        event = loan.loss_event
        lines.append(
            f"  default: loan {loan.pk} on {event.default_on}, loss {event.loss_amount:,.2f} CNY"
            f" shared {event.insurer_share:,.2f} / {event.government_share:,.2f} / {event.bank_share:,.2f}"
        )
    return lines
