"""Reads of applications, valuations, policies and loans, scoped per organisation: a party named
on an application sees it from submission on; SMEs see their own; regulators their region."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from fintech.errors import NotFound
from fintech.models import (
    Application,
    ApplicationPatent,
    ApplicationStatus,
    Installment,
    Loan,
    OrganizationKind,
    PatentValuation,
    Policy,
    User,
    Valuation,
)

from .parties import require_role

_NAMED_FIELD = {
    OrganizationKind.BANK: "bank",
    OrganizationKind.INSURER: "insurer",
    OrganizationKind.APPRAISER: "appraiser",
}


def applications_visible_to(user: User) -> QuerySet[Application]:
    qs = Application.objects.select_related(
        "sme", "program", "bank", "insurer", "appraiser", "policy", "loan", "valuation"
    ).prefetch_related("patents")
    if user.is_platform:
        return qs
    org = user.organization
    if org is None:
        return qs.none()
    if org.kind == OrganizationKind.SME:
        return qs.filter(sme=org)
    submitted = qs.exclude(status=ApplicationStatus.DRAFT)
    if org.kind == OrganizationKind.REGULATOR:
        return submitted.filter(sme__region_id=org.region_id)
    field = _NAMED_FIELD.get(OrganizationKind(org.kind))
    return submitted.filter(**{field: org}) if field else qs.none()


def application_patent_ids(application_ids: list[int]) -> dict[int, list[int]]:
    """{application id: its patents' ids in patent order}, in one query for a page of applications."""
    out: dict[int, list[int]] = {}
    links = ApplicationPatent.objects.filter(application_id__in=application_ids).order_by("patent_id")
    for application_id, patent_id in links.values_list("application_id", "patent_id"):
        out.setdefault(application_id, []).append(patent_id)
    return out


def valuation_line_values(valuation_ids: list[int]) -> dict[int, dict[int, Decimal]]:
    """{valuation id: {patent id: its appraised value}}, in one query for a page of valuations."""
    out: dict[int, dict[int, Decimal]] = {}
    lines = PatentValuation.objects.filter(valuation_id__in=valuation_ids)
    for valuation_id, patent_id, value in lines.values_list("valuation_id", "patent_id", "value"):
        out.setdefault(valuation_id, {})[patent_id] = value
    return out


def application_for(user: User, pk: int, *roles: str) -> Application:
    """The application, if the caller may see it (404 otherwise) and has one of the roles (403)."""
    require_role(user, *roles)
    app = applications_visible_to(user).filter(pk=pk).first()
    if app is None:
        raise NotFound("Application not found.")
    return app


def loans_visible_to(user: User) -> QuerySet[Loan]:
    """Loans of the applications the caller sees, except for appraisers: an appraisal firm sees its
    valuations only (DOMAIN.md section 11)."""
    if user.role == OrganizationKind.APPRAISER:
        return Loan.objects.none()
    return Loan.objects.filter(application__in=applications_visible_to(user).values("pk")).select_related(
        "application", "policy", "sme", "bank"
    )


def loan_for(user: User, pk: int, *roles: str) -> Loan:
    require_role(user, *roles)
    loan = loans_visible_to(user).filter(pk=pk).first()
    if loan is None:
        raise NotFound("Loan not found.")
    return loan


def loan_schedule(loan: Loan) -> QuerySet[Installment]:
    return loan.installments.order_by("seq")


def valuations_visible_to(user: User) -> QuerySet[Valuation]:
    return (
        Valuation.objects.filter(application__in=applications_visible_to(user).values("pk"))
        .select_related("application")
        .prefetch_related("application__patents", "lines")
        .order_by("-id")
    )


def valuation_for(user: User, pk: int) -> Valuation:
    require_role(user, OrganizationKind.APPRAISER)
    valuation = valuations_visible_to(user).filter(pk=pk).first()
    if valuation is None:
        raise NotFound("Valuation not found.")
    return valuation


def policy_for(user: User, pk: int, *roles: str) -> Policy:
    require_role(user, *roles)
    policy = Policy.objects.filter(application__in=applications_visible_to(user).values("pk"), pk=pk).first()
    if policy is None:
        raise NotFound("Policy not found.")
    return policy
