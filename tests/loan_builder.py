"""Take an application through the real services to an active loan (for servicing tests)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from fintech.models import Loan, User
from fintech.services.applications import application_create, application_submit
from fintech.services.loans import loan_approve, loan_disburse, pledge_register
from fintech.services.policies import policy_issue, premium_payment_record
from fintech.services.valuations import PatentReport, valuation_report
from tests.factories import OrganizationFactory, PatentFactory, SmeFactory, UserFactory, wuhan_program
from valuation import public as val


@dataclass
class Cast:
    sme: User
    bank: User
    insurer: User
    appraiser: User


def cast() -> Cast:
    sme_org = SmeFactory()
    return Cast(
        sme=UserFactory(organization=sme_org),
        bank=UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True),
        insurer=UserFactory(organization=OrganizationFactory(kind="insurer"), is_staff=True),
        appraiser=UserFactory(organization=OrganizationFactory(kind="appraiser")),
    )


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
    c = people or cast()
    patent = PatentFactory(owner=c.sme.organization)
    app = application_create(
        user=c.sme,
        program_id=wuhan_program().pk,
        patent_ids=[patent.pk],
        requested_amount=principal,
        term_months=term_months,
        repayment_method=method,
        bank_id=c.bank.organization_id,
        insurer_id=c.insurer.organization_id,
        appraiser_id=c.appraiser.organization_id,
    )
    application_submit(actor=c.sme, application_id=app.pk)
    # Three years of 40/44/48 million revenue at a 4 % royalty: 3,040,287.70, grade B, ceiling 40 %.
    valuation_report(
        actor=c.appraiser,
        valuation_id=app.valuation.pk,
        report_number=f"R-{app.pk}",
        valuation_date=valuation_on,
        patents=[
            PatentReport(
                patent=patent.pk,
                method=val.RELIEF_FROM_ROYALTY,
                inputs=val.RoyaltyInputs(
                    revenue_forecast=(Decimal("40000000.00"), Decimal("44000000.00"), Decimal("48000000.00")),
                    royalty_rate=Decimal("0.04"),
                    tax_rate=Decimal("0.25"),
                    discount_rate=Decimal("0.14"),
                ),
                indicators=val.PatentIndicators(
                    legal=Decimal(80), technical=Decimal(75), economic=Decimal(78)
                ),
            )
        ],
        operating=Decimal(70),
        economic_benefit=Decimal(72),
    )
    policy = policy_issue(actor=c.insurer, application_id=app.pk, premium_rate=Decimal("0.02"))
    loan = loan_approve(
        actor=c.bank,
        application_id=app.pk,
        principal=principal,
        annual_rate=annual_rate,
        term_months=term_months,
        repayment_method=method,
    )
    premium_payment_record(actor=c.insurer, policy_id=policy.pk, amount=policy.premium, paid_on=valuation_on)
    pledge_register(
        actor=c.bank, loan_id=loan.pk, registration_number=f"PLG-{loan.pk}", registered_on=valuation_on
    )
    loan = loan_disburse(actor=c.bank, loan_id=loan.pk, disbursed_on=disbursed_on)
    return loan, c
