"""factory_boy factories with explicit, valid identifiers (computed check characters)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import factory

from fintech.models import (
    Organization,
    OrganizationKind,
    Patent,
    Patentee,
    PatentStatus,
    Program,
    Region,
    User,
)
from fintech.rules.identifiers import patent_check_character, patent_expiry, uscc_check_character

PASSWORD = "Correct-horse-9!"
_serial = itertools.count(1)


def make_uscc(seed: int, region: str = "420100") -> str:
    body = f"91{region}MA{seed:07d}"[:17]
    return body + uscc_check_character(body)


def make_patent_number(year: int = 2020, type_digit: int = 1, serial: int | None = None) -> str:
    digits = f"{year}{type_digit}{(serial if serial is not None else next(_serial)):07d}"
    return f"{digits}.{patent_check_character(digits)}"


def wuhan() -> Region:
    return Region.objects.get(code="420100")


def wuhan_program() -> Program:
    return Program.objects.get(code="wuhan")


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    kind = OrganizationKind.BANK
    name = factory.Sequence(lambda n: f"Org {n}")
    uscc = factory.Sequence(lambda n: make_uscc(100000 + n))
    region = factory.LazyFunction(wuhan)


class SmeFactory(OrganizationFactory):
    kind = OrganizationKind.SME
    name = factory.Sequence(lambda n: f"SME {n} Technology Co., Ltd.")
    industry = "software_it"
    employees = 80
    annual_revenue = Decimal("30000000.00")
    total_assets = Decimal("20000000.00")
    size_class = "small"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    organization = factory.SubFactory(OrganizationFactory)
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create:
            self.save()


class PatentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patent
        skip_postgeneration_save = True

    application_number = factory.LazyFunction(lambda: make_patent_number(2020, 1))
    title = factory.Sequence(lambda n: f"Patent {n}")
    patent_type = "invention"
    filing_date = date(2020, 4, 1)
    grant_date = date(2022, 4, 1)
    expires_on = factory.LazyAttribute(lambda o: patent_expiry(o.patent_type, o.filing_date))
    status = PatentStatus.IN_FORCE
    owner = factory.SubFactory(SmeFactory)

    @factory.post_generation
    def with_patentee(self, create: bool, extracted: object, **kwargs: object) -> None:
        if create and extracted is not False:
            Patentee.objects.create(
                patent=self,
                position=1,
                name=self.owner.name,
                uscc=self.owner.uscc,
                pledge_consent_on=self.grant_date,
            )
