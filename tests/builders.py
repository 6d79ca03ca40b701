"""The one builder that brings an application to any status through the real services (the same
calls an SME, an appraisal firm, an insurer and a bank make through the API), and the small casts
of parties the tests use with it.

    app = application_at("bank_review", sme=..., bank=..., insurer=..., appraiser=...)
    loan, people = active_loan()          # the standard active loan of the servicing tests
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from fintech.models import Application, Loan, Patent, User
from fintech.services.applications import application_create, application_submit
from fintech.services.loans import loan_approve, loan_disburse, pledge_register
from fintech.services.policies import policy_issue, premium_payment_record
from fintech.services.valuations import PatentReport, valuation_report
from tests.factories import OrganizationFactory, PatentFactory, SmeFactory, UserFactory, wuhan_program
from valuation import public as val

D = Decimal

# The steps of the flow, in order; `application_at` stops after the named one.
STEPS = ("draft", "valuation", "underwriting", "bank_review", "approved", "pledged", "active")


def royalty_report(patent: Patent) -> PatentReport:
    """Three years of 40/44/48 million revenue at a 4 % royalty: 3,040,287.70, grade B, ceiling 40 %."""
    return PatentReport(
        patent=patent.pk,
        method=val.RELIEF_FROM_ROYALTY,
        inputs=val.RoyaltyInputs(
            revenue_forecast=(D("40000000.00"), D("44000000.00"), D("48000000.00")),
            royalty_rate=D("0.04"),
            tax_rate=D("0.25"),
            discount_rate=D("0.14"),
        ),
        indicators=val.PatentIndicators(legal=D(80), technical=D(75), economic=D(78)),
    )


def application_at(
    status: str,
    *,
    sme: User,
    bank: User,
    insurer: User,
    appraiser: User,
    patents: list[Patent] | None = None,
    requested: Decimal = Decimal("1000000.00"),
    principal: Decimal | None = None,
    term_months: int = 12,
    method: str = "equal_principal",
    annual_rate: Decimal = Decimal("0.045"),
    premium_rate: Decimal = Decimal("0.02"),
    premium_paid: bool | None = None,
    valuation_on: date = date(2025, 2, 1),
    premium_paid_on: date | None = None,
    pledged_on: date | None = None,
    disbursed_on: date = date(2025, 2, 20),
    report: Callable[[Patent], PatentReport] = royalty_report,
    operating: Decimal = Decimal(70),
    economic_benefit: Decimal = Decimal(72),
    purpose: str = "",
    report_number: str = "R-{app.pk}",
    registration_number: str = "PLG-{loan.pk}",
) -> Application:
    """A new application of `sme`'s organisation walked through the services to `status` (a step of
    STEPS). The premium is paid in full right after the policy is issued when `premium_paid`, which
    defaults to "the step needs it" (pledged and active); `principal` defaults to `requested`.
    Payments and registrations happen on the valuation date unless given."""
    target = STEPS.index(status)
    paid = target >= STEPS.index("pledged") if premium_paid is None else premium_paid
    patents = patents if patents is not None else [PatentFactory(owner=sme.organization)]
    app = application_create(
        user=sme,
        program_id=wuhan_program().pk,
        patent_ids=[p.pk for p in patents],
        requested_amount=requested,
        term_months=term_months,
        repayment_method=method,
        bank_id=bank.organization_id,
        insurer_id=insurer.organization_id,
        appraiser_id=appraiser.organization_id,
        purpose=purpose,
    )
    if target >= STEPS.index("valuation"):
        application_submit(actor=sme, application_id=app.pk)
    if target >= STEPS.index("underwriting"):
        valuation_report(
            actor=appraiser,
            valuation_id=Application.objects.get(pk=app.pk).valuation.pk,
            report_number=report_number.format(app=app),
            valuation_date=valuation_on,
            patents=[report(p) for p in patents],
            operating=operating,
            economic_benefit=economic_benefit,
        )
    if target >= STEPS.index("bank_review"):
        policy = policy_issue(actor=insurer, application_id=app.pk, premium_rate=premium_rate)
    if target >= STEPS.index("approved"):
        loan = loan_approve(
            actor=bank,
            application_id=app.pk,
            principal=requested if principal is None else principal,
            annual_rate=annual_rate,
            term_months=term_months,
            repayment_method=method,
        )
    if paid and target >= STEPS.index("bank_review"):
        # After the approval when the step has one, so the premium's ledger entry names the loan.
        paid_on = premium_paid_on or valuation_on
        premium_payment_record(actor=insurer, policy_id=policy.pk, amount=policy.premium, paid_on=paid_on)
    if target >= STEPS.index("pledged"):
        pledge_register(
            actor=bank,
            loan_id=loan.pk,
            registration_number=registration_number.format(app=app, loan=loan),
            registered_on=pledged_on or valuation_on,
        )
    if target >= STEPS.index("active"):
        loan_disburse(actor=bank, loan_id=loan.pk, disbursed_on=disbursed_on)
    return Application.objects.get(pk=app.pk)


@dataclass
class Cast:
    sme: User
    bank: User
    insurer: User
    appraiser: User


def cast() -> Cast:
    """One user of each party: a new SME, bank, insurer and appraisal firm."""
    sme_org = SmeFactory()
    return Cast(
        sme=UserFactory(organization=sme_org),
        bank=UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True),
        insurer=UserFactory(organization=OrganizationFactory(kind="insurer"), is_staff=True),
        appraiser=UserFactory(organization=OrganizationFactory(kind="appraiser")),
    )


def loan_at(status: str, *, people: Cast | None = None, **terms: object) -> tuple[Loan, Cast]:
    """The loan of an application brought to `status` (approved, pledged or active) for `people`."""
    c = people or cast()
    app = application_at(status, sme=c.sme, bank=c.bank, insurer=c.insurer, appraiser=c.appraiser, **terms)  # type: ignore[arg-type]
    return Loan.objects.get(application=app), c


def active_loan(
    *,
    principal: Decimal = Decimal("1000000.00"),
    annual_rate: Decimal = Decimal("0.045"),
    term_months: int = 12,
    method: str = "equal_principal",
    disbursed_on: date = date(2025, 2, 20),
    valuation_on: date = date(2025, 2, 1),
    people: Cast | None = None,
) -> tuple[Loan, Cast]:
    """The servicing tests' standard loan: 1,000,000.00 at 4.5 %, equal principal over 12 months,
    disbursed 2025-02-20 (valued, paid and pledged on 2025-02-01)."""
    return loan_at(
        "active",
        people=people,
        requested=principal,
        annual_rate=annual_rate,
        term_months=term_months,
        method=method,
        disbursed_on=disbursed_on,
        valuation_on=valuation_on,
    )
