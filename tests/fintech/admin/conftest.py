"""The cast of the review-screen tests and a builder that walks an application to a given status
through the same services the API calls (nothing is written to the models directly).

Figures: one patent worth 1,000,000.00 by the market approach, scores 80/70/60, operating 90,
economic benefit 50 -> composite 71.50 -> grade B -> pledge rate 40 % -> credit ceiling
400,000.00. Requested 300,000.00 for 12 months; premium rate 1.5 % -> premium 4,500.00.
Dates (all past, in the order of the flow): valued 60 days ago, premium paid 50 days ago, pledge
registered 40 days ago, disbursed 30 days ago; all within the 12-month validity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from fintech.models import Application, Organization, OrganizationKind, User
from fintech.services.applications import application_create, application_submit
from fintech.services.loans import loan_approve, loan_disburse, pledge_register
from fintech.services.policies import policy_issue, premium_payment_record
from fintech.services.valuations import PatentReport, valuation_report
from tests.factories import OrganizationFactory, PatentFactory, SmeFactory, UserFactory, wuhan_program
from valuation import public as val

D = Decimal
REQUESTED = D("300000.00")
CEILING = D("400000.00")
PREMIUM_RATE = D("0.015")
PREMIUM = D("4500.00")
ANNUAL_RATE = D("0.0435")
TERM = 12

# Where each status is reached, in the order of the flow.
FLOW = ("draft", "valuation", "underwriting", "bank_review", "premium_paid", "approved", "pledged", "active")


def days_ago(n: int) -> date:
    return timezone.localdate() - timedelta(days=n)


VALUED_ON_DAYS_AGO = 60
PREMIUM_PAID_DAYS_AGO = 50
PLEDGED_DAYS_AGO = 40
DISBURSED_DAYS_AGO = 30


@dataclass
class Cast:
    sme: Organization
    sme_user: User
    bank: Organization
    bank_user: User
    other_bank: Organization
    other_bank_user: User
    insurer: Organization
    insurer_user: User
    other_insurer: Organization
    other_insurer_user: User
    appraiser: Organization
    appraiser_user: User


def staff(org: Organization | None, **extra: Any) -> User:
    return UserFactory(organization=org, is_staff=True, **extra)


@pytest.fixture(autouse=True)
def _admin_test_settings(settings: Any) -> None:
    # Admin pages link static files; without DEBUG the project uses the manifest storage, whose
    # manifest exists only after collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # The cast has half a dozen users per test; the production hasher is slow by design.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def cast(db: None) -> Cast:
    sme = SmeFactory(name="Optics Valley Photonics 光谷光子科技")
    bank = OrganizationFactory(kind=OrganizationKind.BANK, name="Hankou Bank 汉口银行")
    other_bank = OrganizationFactory(kind=OrganizationKind.BANK, name="Other Bank 其他银行")
    insurer = OrganizationFactory(
        kind=OrganizationKind.INSURER, name="Wuhan Guarantee Insurance 武汉保证保险"
    )
    other_insurer = OrganizationFactory(kind=OrganizationKind.INSURER, name="Other Insurer 其他保险")
    appraiser = OrganizationFactory(kind=OrganizationKind.APPRAISER, name="Zhongshen Appraisal 中审评估")
    return Cast(
        sme=sme,
        sme_user=UserFactory(organization=sme),
        bank=bank,
        bank_user=staff(bank),
        other_bank=other_bank,
        other_bank_user=staff(other_bank),
        insurer=insurer,
        insurer_user=staff(insurer),
        other_insurer=other_insurer,
        other_insurer_user=staff(other_insurer),
        appraiser=appraiser,
        appraiser_user=staff(appraiser),
    )


@pytest.fixture
def superuser(db: None) -> User:
    return staff(None, is_superuser=True)


def _report(app: Application, appraiser_user: User) -> None:
    comparable = val.Comparable(D("1000000"), D("1"), D("1"), D("1"), D("1"))
    valuation_report(
        actor=appraiser_user,
        valuation_id=app.valuation.pk,
        report_number=f"ZS-{app.pk:05d}",
        valuation_date=days_ago(VALUED_ON_DAYS_AGO),
        patents=[
            PatentReport(
                patent=patent.pk,
                method=val.MARKET,
                inputs=val.MarketInputs(comparables=(comparable,)),
                indicators=val.PatentIndicators(legal=D("80"), technical=D("70"), economic=D("60")),
            )
            for patent in app.patents.all()
        ],
        operating=D("90"),
        economic_benefit=D("50"),
    )


@pytest.fixture
def make_application(cast: Cast) -> Callable[..., Application]:
    """make_application("bank_review", bank=..., insurer=...) walks a new application of the
    cast's SME (with its own patent) through the services up to the named step."""

    def make(
        status: str,
        *,
        bank: Organization | None = None,
        insurer: Organization | None = None,
        requested: Decimal = REQUESTED,
    ) -> Application:
        bank = bank or cast.bank
        insurer = insurer or cast.insurer
        bank_user = cast.bank_user if bank == cast.bank else cast.other_bank_user
        insurer_user = cast.insurer_user if insurer == cast.insurer else cast.other_insurer_user
        target = FLOW.index(status)
        patent = PatentFactory(owner=cast.sme)
        app = application_create(
            user=cast.sme_user,
            program_id=wuhan_program().pk,
            patent_ids=[patent.pk],
            requested_amount=requested,
            term_months=TERM,
            repayment_method="interest_monthly_principal_at_maturity",
            bank_id=bank.pk,
            insurer_id=insurer.pk,
            appraiser_id=cast.appraiser.pk,
            purpose="Working capital",
        )
        if target >= FLOW.index("valuation"):
            application_submit(actor=cast.sme_user, application_id=app.pk)
        if target >= FLOW.index("underwriting"):
            _report(Application.objects.get(pk=app.pk), cast.appraiser_user)
        if target >= FLOW.index("bank_review"):
            policy_issue(actor=insurer_user, application_id=app.pk, premium_rate=PREMIUM_RATE)
        if target >= FLOW.index("premium_paid"):
            premium_payment_record(
                actor=insurer_user,
                policy_id=Application.objects.get(pk=app.pk).policy.pk,
                amount=PREMIUM,
                paid_on=days_ago(PREMIUM_PAID_DAYS_AGO),
            )
        if target >= FLOW.index("approved"):
            loan_approve(
                actor=bank_user,
                application_id=app.pk,
                principal=REQUESTED,
                annual_rate=ANNUAL_RATE,
                term_months=TERM,
                repayment_method="interest_monthly_principal_at_maturity",
            )
        loan = getattr(Application.objects.get(pk=app.pk), "loan", None)
        if target >= FLOW.index("pledged"):
            assert loan is not None
            pledge_register(
                actor=bank_user,
                loan_id=loan.pk,
                registration_number=f"Y{app.pk:08d}",
                registered_on=days_ago(PLEDGED_DAYS_AGO),
            )
        if target >= FLOW.index("active"):
            assert loan is not None
            loan_disburse(actor=bank_user, loan_id=loan.pk, disbursed_on=days_ago(DISBURSED_DAYS_AGO))
        return Application.objects.get(pk=app.pk)

    return make


@pytest.fixture
def login() -> Callable[[User], Client]:
    """A browser session of the given user, asking for English so messages can be asserted."""

    def make(user: User, **kwargs: Any) -> Client:
        client = Client(headers={"accept-language": "en"}, **kwargs)
        client.force_login(user)
        return client

    return make
