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

from fintech.models import Application, Organization, OrganizationKind, Patent, User
from fintech.services.valuations import PatentReport
from tests.builders import application_at
from tests.factories import OrganizationFactory, SmeFactory, UserFactory
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


def _market_report(patent: Patent) -> PatentReport:
    comparable = val.Comparable(D("1000000"), D("1"), D("1"), D("1"), D("1"))
    return PatentReport(
        patent=patent.pk,
        method=val.MARKET,
        inputs=val.MarketInputs(comparables=(comparable,)),
        indicators=val.PatentIndicators(legal=D("80"), technical=D("70"), economic=D("60")),
    )


@pytest.fixture
def make_application(cast: Cast) -> Callable[..., Application]:
    """make_application("bank_review", bank=..., insurer=...) walks a new application of the
    cast's SME (with its own patent) through the services up to the named step of FLOW
    (tests.builders.application_at; "premium_paid" is bank review with the premium paid; from
    there on the premium is paid unless `premium_paid=False`)."""

    def make(
        status: str,
        *,
        bank: Organization | None = None,
        insurer: Organization | None = None,
        requested: Decimal = REQUESTED,
        premium_paid: bool | None = None,
    ) -> Application:
        bank_user = cast.bank_user if bank in (None, cast.bank) else cast.other_bank_user
        insurer_user = cast.insurer_user if insurer in (None, cast.insurer) else cast.other_insurer_user
        step = "bank_review" if status == "premium_paid" else status
        return application_at(
            step,
            sme=cast.sme_user,
            bank=bank_user,
            insurer=insurer_user,
            appraiser=cast.appraiser_user,
            requested=requested,
            principal=REQUESTED,
            term_months=TERM,
            method="interest_monthly_principal_at_maturity",
            annual_rate=ANNUAL_RATE,
            premium_rate=PREMIUM_RATE,
            premium_paid=FLOW.index(status) >= FLOW.index("premium_paid")
            if premium_paid is None
            else premium_paid,
            valuation_on=days_ago(VALUED_ON_DAYS_AGO),
            premium_paid_on=days_ago(PREMIUM_PAID_DAYS_AGO),
            pledged_on=days_ago(PLEDGED_DAYS_AGO),
            disbursed_on=days_ago(DISBURSED_DAYS_AGO),
            report=_market_report,
            operating=D("90"),
            economic_benefit=D("50"),
            purpose="Working capital",
            report_number="ZS-{app.pk:05d}",
            registration_number="Y{app.pk:08d}",
        )

    return make


@pytest.fixture
def login() -> Callable[[User], Client]:
    """A browser session of the given user, asking for English so messages can be asserted."""

    def make(user: User, **kwargs: Any) -> Client:
        client = Client(headers={"accept-language": "en"}, **kwargs)
        client.force_login(user)
        return client

    return make
