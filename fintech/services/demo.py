"""The demo book behind `manage.py seed_demo`: the whole Wuhan scenario on the embedded default.

Idempotent: parties are found by USCC and username, and the book is built once (it is skipped when
the demo SMEs already have applications). Dates are business dates placed relative to today, so
the book is always "live": loans disbursed about ten months ago, paid on time, paid late and
defaulted; applications waiting in the insurer's and the bank's queues; subsidy runs approved and
paid; a recovery shared 5:3:2 and a settlement approved by a second person.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from fintech.models import (
    Application,
    Installment,
    Loan,
    Organization,
    OrganizationKind,
    Program,
    SubsidyEntitlement,
    User,
)
from fintech.rules.schedules import add_months
from fintech.rules.subsidies import parse_period, period_containing
from fintech.services.applications import application_create, application_submit
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

DEMO_PASSWORD = "Demo-pledge-2025!"
D = Decimal

# (kind, name, USCC, username) -- USCCs with valid GB 32100 check characters.
MEMBERS = [
    ("platform", "Wuhan IP Finance Platform 武汉知识产权金融平台", "91420100MA00090013", "platform"),
    ("bank", "Hankou Bank Optics Valley Branch 汉口银行光谷支行", "91420100MA00090026", "bank"),
    ("insurer", "Wuhan Guarantee Insurance 武汉保证保险", "91420100MA00090039", "insurer"),
    ("insurer", "Wuhan Guarantee Insurance 武汉保证保险", "91420100MA00090039", "insurer2"),
    ("appraiser", "Hubei Zhongshen Appraisal 湖北中审资产评估", "91420100MA0009004C", "appraiser"),
    (
        "regulator",
        "East Lake High-tech Zone Finance Office 东湖高新区金融办",
        "91420100MA0009005F",
        "regulator",
    ),
    (
        "regulator",
        "East Lake High-tech Zone Finance Office 东湖高新区金融办",
        "91420100MA0009005F",
        "regulator2",
    ),
]
# (name, USCC, username, industry, employees, revenue)
SMES = [
    ("Optics Valley Photonics 光谷光子科技", "91420100MA0009006J", "sme1", "software_it", 80, "30000000.00"),
    ("Jiangcheng Biotech 江城生物", "91420100MA0009007M", "sme2", "industry", 150, "60000000.00"),
    ("Huazhong Robotics 华中机器人", "91420100MA0009008Q", "sme3", "industry", 120, "45000000.00"),
    ("Donghu Materials 东湖新材料", "91420100MA0009009U", "sme4", "industry", 60, "18000000.00"),
    ("Guanggu Software 光谷软件", "91420100MA00090101", "sme5", "software_it", 40, "12000000.00"),
]


@dataclass
class Cast:
    bank: User
    insurer: User
    insurer2: User
    appraiser: User
    regulator: User
    regulator2: User


def _cast() -> tuple[list[str], Cast]:
    lines = [f"Demo users (password for all: {DEMO_PASSWORD}):"]
    for kind, name, uscc, username in MEMBERS:
        if not User.objects.filter(username=username).exists():
            member_add(
                kind=kind,
                org_name=name,
                uscc=uscc,
                region_code="420100",
                username=username,
                password=DEMO_PASSWORD,
            )
        lines.append(f"  {username:<11} {kind:<10} {name}")
    for name, uscc, username, industry, employees, revenue in SMES:
        if not Organization.objects.filter(uscc=uscc).exists():
            sme_register(
                username=username,
                password=DEMO_PASSWORD,
                name=name,
                uscc=uscc,
                region_code="420100",
                industry=industry,
                employees=employees,
                annual_revenue=D(revenue),
                total_assets=D("20000000.00"),
            )
        lines.append(f"  {username:<11} {OrganizationKind.SME:<10} {name}")
    admin = User.objects.get(username="platform")
    if not admin.is_superuser:
        admin.is_superuser = True
        admin.save(update_fields=["is_superuser"])
    users = {u.username: u for u in User.objects.filter(username__in=[m[3] for m in MEMBERS])}
    return lines, Cast(
        users["bank"],
        users["insurer"],
        users["insurer2"],
        users["appraiser"],
        users["regulator"],
        users["regulator2"],
    )


def _application(sme: User, cast: Cast, serial: int, amount: str, term: int, method: str) -> Application:
    """Register a patent of the SME and open and submit an application pledging it."""
    digits = f"20201{serial:07d}"
    check = sum(int(c) * w for c, w in zip(digits, (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5), strict=True)) % 11
    org = sme.organization
    assert org is not None
    patent = patent_register(
        user=sme,
        application_number=f"{digits}.{'X' if check == 10 else check}",
        title=f"{org.name.split()[0]} core patent",
        patent_type="invention",
        filing_date=date(2020, 4, 1),
        grant_date=date(2022, 4, 1),
        patentees=[PatenteeInput(name=org.name, uscc=org.uscc)],
        claims_count=12,
    )
    program = Program.objects.get(code="wuhan")
    app = application_create(
        user=sme,
        program_id=program.pk,
        patent_ids=[patent.pk],
        requested_amount=D(amount),
        term_months=term,
        repayment_method=method,
        bank_id=cast.bank.organization_id or 0,
        insurer_id=cast.insurer.organization_id or 0,
        appraiser_id=cast.appraiser.organization_id or 0,
        purpose="R&D and working capital",
    )
    application_submit(actor=sme, application_id=app.pk)
    return app


def _value(app: Application, cast: Cast, valuation_on: date) -> None:
    patent = app.patents.get()
    valuation_report(
        actor=cast.appraiser,
        valuation_id=app.valuation.pk,
        report_number=f"ZS-{valuation_on:%Y}-{app.pk:04d}",
        valuation_date=valuation_on,
        patents=[
            PatentReport(
                patent=patent.pk,
                method=val.RELIEF_FROM_ROYALTY,
                inputs=val.RoyaltyInputs(
                    revenue_forecast=(D("40000000.00"), D("44000000.00"), D("48000000.00")),
                    royalty_rate=D("0.04"),
                    tax_rate=D("0.25"),
                    discount_rate=D("0.14"),
                ),
                indicators=val.PatentIndicators(legal=D(82), technical=D(76), economic=D(78)),
            )
        ],
        operating=D(72),
        economic_benefit=D(74),
    )


def _loan(
    app: Application, cast: Cast, *, amount: str, rate: str, term: int, method: str, disbursed_on: date
) -> Loan:
    """Take a submitted application through valuation, policy, approval, premium, pledge, disbursement."""
    _value(app, cast, disbursed_on - timedelta(days=20))
    policy = policy_issue(actor=cast.insurer, application_id=app.pk, premium_rate=D("0.02"))
    loan = loan_approve(
        actor=cast.bank,
        application_id=app.pk,
        principal=D(amount),
        annual_rate=D(rate),
        term_months=term,
        repayment_method=method,
    )
    premium_payment_record(
        actor=cast.insurer,
        policy_id=policy.pk,
        amount=policy.premium,
        paid_on=disbursed_on - timedelta(days=5),
    )
    pledge_register(
        actor=cast.bank,
        loan_id=loan.pk,
        registration_number=f"Y{disbursed_on:%Y}420000{loan.pk:05d}",
        registered_on=disbursed_on - timedelta(days=5),
    )
    return loan_disburse(actor=cast.bank, loan_id=loan.pk, disbursed_on=disbursed_on)


def _repay(
    loan: Loan, cast: Cast, today: date, *, late: dict[int, int] | None = None, stop_after: int | None = None
) -> None:
    """Pay each installment due before today on its due date (or `late[seq]` days after)."""
    for row in Installment.objects.filter(loan=loan).order_by("seq"):
        if stop_after is not None and row.seq > stop_after:
            return
        paid_on = row.due_on + timedelta(days=(late or {}).get(row.seq, 0))
        if paid_on >= today:
            return
        repayment_record(
            actor=cast.bank,
            loan_id=loan.pk,
            amount=row.principal_due + row.interest_due,
            paid_on=paid_on,
            transaction_id=f"HK{loan.pk:04d}{row.seq:03d}",
        )


def demo_seed() -> list[str]:
    """Create what is missing and describe the whole demo cast and book."""
    lines, cast = _cast()
    smes = {u.username: u for u in User.objects.filter(username__in=[s[2] for s in SMES])}
    if not Application.objects.filter(sme__uscc__in=[s[1] for s in SMES]).exists():
        _book(cast, smes)
    lines += _summary()
    return lines


def _book(cast: Cast, smes: dict[str, User]) -> None:
    today = business_today()
    anchor = add_months(date(today.year, today.month, 15), -10)  # about ten months ago
    program = Program.objects.get(code="wuhan")
    fund_top_up_record(
        actor=cast.regulator,
        program_id=program.pk,
        amount=D("5000000.00"),
        received_on=anchor - timedelta(days=30),
    )
    # sme1: a 12-month equal-principal loan paid on time, and a 6-month loan settled at maturity.
    on_time = _loan(
        _application(smes["sme1"], cast, 9001, "1000000.00", 12, "equal_principal"),
        cast,
        amount="1000000.00",
        rate="0.045",
        term=12,
        method="equal_principal",
        disbursed_on=anchor,
    )
    _repay(on_time, cast, today)
    short = _loan(
        _application(smes["sme1"], cast, 9002, "500000.00", 6, "interest_monthly_principal_at_maturity"),
        cast,
        amount="500000.00",
        rate="0.042",
        term=6,
        method="interest_monthly_principal_at_maturity",
        disbursed_on=anchor,
    )
    _repay(short, cast, today)
    # sme2: interest monthly, the fourth installment paid five days late.
    late = _loan(
        _application(smes["sme2"], cast, 9003, "800000.00", 12, "interest_monthly_principal_at_maturity"),
        cast,
        amount="800000.00",
        rate="0.042",
        term=12,
        method="interest_monthly_principal_at_maturity",
        disbursed_on=anchor + timedelta(days=5),
    )
    _repay(late, cast, today, late={4: 5})
    # sme3: equal installment, two installments paid, then nothing: the close defaults it.
    lost = _loan(
        _application(smes["sme3"], cast, 9004, "600000.00", 12, "equal_installment"),
        cast,
        amount="600000.00",
        rate="0.048",
        term=12,
        method="equal_installment",
        disbursed_on=anchor - timedelta(days=5),
    )
    _repay(lost, cast, today, stop_after=2)
    close_day(today - timedelta(days=1))
    lost.refresh_from_db()
    if lost.status == "defaulted":
        event = lost.loss_event
        recovered_on = event.default_on + timedelta(days=30)
        if recovered_on < today:
            recovery_record(
                actor=cast.bank,
                loan_id=lost.pk,
                amount=D("100000.00"),
                received_on=recovered_on,
                source="licence of the pledged patent",
            )
            settlement = settlement_record(
                actor=cast.insurer,
                loan_id=lost.pk,
                party="insurer",
                amount=event.insurer_share - D("50000.00"),
                paid_on=recovered_on,
                reference=f"CLM-{lost.pk:05d}",
            )
            settlement_approve(actor=cast.insurer2, settlement_id=settlement.pk)
    # Queues: sme4 waits for the insurer, sme5 for the bank.
    waiting = _application(smes["sme4"], cast, 9005, "700000.00", 12, "equal_principal")
    _value(waiting, cast, today - timedelta(days=3))
    review = _application(smes["sme5"], cast, 9006, "400000.00", 12, "equal_principal")
    _value(review, cast, today - timedelta(days=3))
    policy_issue(actor=cast.insurer, application_id=review.pk, premium_rate=D("0.015"))
    # Subsidy runs for every finished quarter since the first disbursement: approved by a second
    # regulator; all but the latest paid.
    current = period_containing(today, program.subsidy_period)
    period = period_containing(anchor, program.subsidy_period)
    runs = []
    while period.start < current.start:
        run = subsidy_run_start(actor=cast.regulator, program_id=program.pk, period=period.label)
        run.refresh_from_db()
        if run.status == "computed":
            runs.append(subsidy_run_approve(actor=cast.regulator2, run_id=run.pk))
        period = period_containing(period.end + timedelta(days=1), program.subsidy_period)
    for run in runs[:-1]:
        subsidy_run_pay(
            actor=cast.regulator2,
            run_id=run.pk,
            paid_on=parse_period(run.period).end + timedelta(days=10),
            reference=f"EDZ-SUB-{run.period}",
        )


def _summary() -> list[str]:
    loans = Loan.objects.filter(sme__uscc__in=[s[1] for s in SMES])
    subsidies = SubsidyEntitlement.objects.filter(sme__uscc__in=[s[1] for s in SMES]).exclude(
        status="cancelled"
    )
    by_status = {s: loans.filter(status=s).count() for s in ("active", "settled", "defaulted")}
    total = sum((e.amount for e in subsidies), D("0.00"))
    apps = Application.objects.filter(sme__uscc__in=[s[1] for s in SMES])
    return [
        "Book:",
        f"  loans: {by_status['active']} active, {by_status['settled']} settled,"
        f" {by_status['defaulted']} defaulted",
        f"  applications waiting: {apps.filter(status='underwriting').count()} with the insurer,"
        f" {apps.filter(status='bank_review').count()} with the bank",
        f"  subsidy entitlements: {subsidies.count()} worth {total:,.2f} CNY",
    ]
