"""Helpers for the origination tests: the parties, one function per API step (each asserts its own
success status, so a test reads as the flow), a snapshot of every table origination writes for the
"nothing changed" assertions, and the audit trail.

Every date is a business date in the past (DOMAIN.md section 1): the standard flow is valued on
2025-02-01, the premium paid on 2025-02-10, the pledge registered on 2025-02-12 and the loan
disbursed on 2025-02-20, as in the contract walk-through.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date
from typing import Any, cast

from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from fintech.models import (
    Application,
    AuditLog,
    IdempotencyKey,
    Installment,
    Loan,
    Organization,
    PatentValuation,
    Pledge,
    PledgedPatent,
    Policy,
    PremiumPayment,
    Program,
    Region,
    User,
    Valuation,
)
from tests.factories import OrganizationFactory, SmeFactory, UserFactory, make_patent_number, wuhan_program

VALUED_ON = "2025-02-01"
PREMIUM_PAID_ON = "2025-02-10"
PLEDGED_ON = "2025-02-12"
DISBURSED_ON = "2025-02-20"

# The walk-through's report: composite 80 x 0.25 + 75 x 0.20 + 78 x 0.20 + 70 x 0.20 + 72 x 0.15
# = 20 + 15 + 15.6 + 14 + 10.8 = 75.40 -> grade B (70 <= 75.40 < 80), pledge rate 0.40.
INDICATORS = {"legal": 80, "technical": 75, "economic": 78}
ENTERPRISE = {"operating": 70, "economic_benefit": 72}
FORECAST = ["40000000.00", "44000000.00", "48000000.00"]
# Scores giving grade D (composite 50.00 < 60): not eligible, the application is declined.
GRADE_D_INDICATORS = {"legal": 50, "technical": 50, "economic": 50}
GRADE_D_ENTERPRISE = {"operating": 50, "economic_benefit": 50}

_TYPE_DIGIT = {"invention": 1, "utility_model": 2, "design": 3}
_serial = itertools.count(1)


def today() -> date:
    """The business 'today' of the services (Asia/Shanghai)."""
    return timezone.localdate()


def client_for(user: User) -> APIClient:
    """An API client with a real JWT access token that asks for English messages."""
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


@dataclass
class Party:
    org: Organization
    user: User
    client: APIClient

    @property
    def id(self) -> int:
        return self.org.pk


def make_party(kind: str, *, region: str = "420100", **org_fields: Any) -> Party:
    """An organisation of this kind with one user who has an e-mail address."""
    n = next(_serial)
    region_obj = Region.objects.get(code=region)
    if kind == "sme":
        org = cast(Organization, SmeFactory(region=region_obj, **org_fields))
    else:
        org = cast(
            Organization,
            OrganizationFactory(kind=kind, region=region_obj, name=f"{kind.title()} {n}", **org_fields),
        )
    user = cast(User, UserFactory(organization=org, email=f"{kind}{n}@example.cn"))
    return Party(org=org, user=user, client=client_for(user))


def add_user(party: Party, *, email: str = "") -> Party:
    """Another user of the same organisation."""
    user = cast(User, UserFactory(organization=party.org, email=email))
    return Party(org=party.org, user=user, client=client_for(user))


@dataclass
class World:
    program: Program
    sme: Party
    bank: Party
    insurer: Party
    appraiser: Party
    regulator: Party


def make_world() -> World:
    return World(
        program=wuhan_program(),
        sme=make_party("sme"),
        bank=make_party("bank"),
        insurer=make_party("insurer"),
        appraiser=make_party("appraiser"),
        regulator=make_party("regulator"),
    )


# --- API steps ----------------------------------------------------------------------------------


def post(party: Party, path: str, body: dict[str, Any] | None = None, *, expect: int, key: str = "") -> Any:
    headers: dict[str, Any] = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    r: Any = party.client.post(path, body or {}, format="json", **headers)
    assert r.status_code == expect, (r.status_code, r.content)
    return r.json()


def get(party: Party, path: str) -> Any:
    r = party.client.get(path)
    assert r.status_code == 200, (r.status_code, r.content)
    return r.json()


def patent_body(
    sme: Party,
    *,
    filing_date: date = date(2020, 4, 1),
    grant_date: date = date(2022, 4, 1),
    patent_type: str = "invention",
    co_owners: tuple[dict[str, str], ...] = (),
) -> dict[str, Any]:
    return {
        "application_number": make_patent_number(filing_date.year, _TYPE_DIGIT[patent_type]),
        "title": "A method of pledging patents",
        "patent_type": patent_type,
        "filing_date": filing_date.isoformat(),
        "grant_date": grant_date.isoformat(),
        "patentees": [{"name": sme.org.name, "uscc": sme.org.uscc}, *co_owners],
        "claims_count": 9,
    }


def register_patent(sme: Party, **kwargs: Any) -> dict[str, Any]:
    """POST /patents/ -> 201. By default an invention filed 2020-04-01: expires 2040-03-31."""
    body: dict[str, Any] = post(sme, "/api/v1/patents/", patent_body(sme, **kwargs), expect=201)
    return body


def application_body(w: World, patent_ids: list[int], **overrides: Any) -> dict[str, Any]:
    body = {
        "program": w.program.pk,
        "patents": patent_ids,
        "requested_amount": "1000000.00",
        "term_months": 12,
        "repayment_method": "equal_principal",
        "bank": w.bank.id,
        "insurer": w.insurer.id,
        "appraiser": w.appraiser.id,
        "purpose": "R&D",
    }
    body.update(overrides)
    return body


def create_application(w: World, patent_ids: list[int], *, sme: Party | None = None, **overrides: Any) -> Any:
    return post(
        sme or w.sme, "/api/v1/applications/", application_body(w, patent_ids, **overrides), expect=201
    )


def submit(w: World, app_id: int, *, sme: Party | None = None) -> Any:
    return post(sme or w.sme, f"/api/v1/applications/{app_id}/submit/", expect=200)


def engagement_id(w: World, app_id: int) -> int:
    rows = get(w.appraiser, "/api/v1/valuations/")["results"]
    return int(next(v["id"] for v in rows if v["application"] == app_id))


def report_body(
    patent_ids: list[int],
    *,
    valuation_date: str = VALUED_ON,
    report_number: str = "",
    indicators: dict[str, int] = INDICATORS,
    enterprise: dict[str, int] = ENTERPRISE,
) -> dict[str, Any]:
    return {
        "report_number": report_number or f"VAL-{next(_serial)}",
        "valuation_date": valuation_date,
        "patents": [
            {
                "patent": pk,
                "method": "relief_from_royalty",
                "revenue_forecast": FORECAST,
                "royalty_rate": "0.04",
                "tax_rate": "0.25",
                "discount_rate": "0.14",
                "indicators": indicators,
            }
            for pk in patent_ids
        ],
        "enterprise": enterprise,
    }


def report(w: World, app_id: int, patent_ids: list[int], **kwargs: Any) -> Any:
    return post(
        w.appraiser,
        f"/api/v1/valuations/{engagement_id(w, app_id)}/report/",
        report_body(patent_ids, **kwargs),
        expect=201,
    )


def issue_policy(w: World, app_id: int, *, premium_rate: str = "0.02", **extra: Any) -> Any:
    return post(
        w.insurer,
        f"/api/v1/applications/{app_id}/policy/",
        {"premium_rate": premium_rate, **extra},
        expect=201,
    )


def approve_body(
    principal: str = "1000000.00",
    annual_rate: str = "0.045",
    term_months: int = 12,
    repayment_method: str = "equal_principal",
) -> dict[str, Any]:
    return {
        "principal": principal,
        "annual_rate": annual_rate,
        "term_months": term_months,
        "repayment_method": repayment_method,
    }


def approve(w: World, app_id: int, **kwargs: Any) -> Any:
    return post(w.bank, f"/api/v1/applications/{app_id}/approve/", approve_body(**kwargs), expect=201)["loan"]


def pay_premium(w: World, policy_id: int, amount: str, paid_on: str = PREMIUM_PAID_ON) -> Any:
    return post(
        w.insurer,
        f"/api/v1/policies/{policy_id}/premium-payments/",
        {"amount": amount, "paid_on": paid_on},
        expect=201,
    )


def pledge(w: World, loan_id: int, *, registration_number: str = "", registered_on: str = PLEDGED_ON) -> Any:
    number = registration_number or f"Y2025420000{next(_serial):05d}"
    return post(
        w.bank,
        f"/api/v1/loans/{loan_id}/pledge/",
        {"registration_number": number, "registered_on": registered_on},
        expect=201,
    )


def disburse(w: World, loan_id: int, disbursed_on: str = DISBURSED_ON) -> Any:
    return post(w.bank, f"/api/v1/loans/{loan_id}/disburse/", {"disbursed_on": disbursed_on}, expect=200)


@dataclass
class Case:
    """The ids (and the policy) of one application taken through the flow."""

    patents: list[int]
    application: int
    valuation: int | None = None
    policy: dict[str, Any] | None = None
    loan: int | None = None

    @property
    def policy_id(self) -> int:
        assert self.policy is not None
        return int(self.policy["id"])


STAGES = ("draft", "valuation", "underwriting", "bank_review", "approved", "active")


def advance(
    w: World,
    until: str,
    *,
    patents: list[int] | None = None,
    requested_amount: str = "1000000.00",
    term_months: int = 12,
    valued_on: str = VALUED_ON,
    premium_rate: str = "0.02",
    principal: str = "1000000.00",
    premium_paid: bool | None = None,
    pledged: bool | None = None,
    premium_paid_on: str = PREMIUM_PAID_ON,
    pledged_on: str = PLEDGED_ON,
    disbursed_on: str = DISBURSED_ON,
) -> Case:
    """Take a new application (with a new patent unless given) through the API up to `until`.

    At `approved` the premium and the pledge are left undone unless asked for; `active` does both.
    """
    stage = STAGES.index(until)
    patent_ids = patents or [register_patent(w.sme)["id"]]
    app = create_application(w, patent_ids, requested_amount=requested_amount, term_months=term_months)
    case = Case(patents=patent_ids, application=app["id"])
    if stage >= 1:
        submit(w, case.application)
        case.valuation = engagement_id(w, case.application)
    if stage >= 2:
        report(w, case.application, patent_ids, valuation_date=valued_on)
    if stage >= 3:
        case.policy = issue_policy(w, case.application, premium_rate=premium_rate)
    if stage >= 4:
        case.loan = approve(w, case.application, principal=principal, term_months=term_months)["id"]
    active = stage >= 5
    if premium_paid or (premium_paid is None and active):
        assert case.policy is not None
        pay_premium(w, case.policy_id, case.policy["premium"], premium_paid_on)
    if pledged or (pledged is None and active):
        assert case.loan is not None
        pledge(w, case.loan, registered_on=pledged_on)
    if active:
        assert case.loan is not None
        disburse(w, case.loan, disbursed_on)
    return case


# --- Assertions ---------------------------------------------------------------------------------


def snapshot() -> dict[str, Any]:
    """Every status and row count origination writes: equal before and after a refused request."""
    return {
        "applications": dict(Application.objects.values_list("pk", "status")),
        "valuations": dict(Valuation.objects.values_list("pk", "status")),
        "policies": {
            pk: (status, str(paid))
            for pk, status, paid in Policy.objects.values_list("pk", "status", "premium_paid_amount")
        },
        "loans": {
            pk: (status, disbursed_on)
            for pk, status, disbursed_on in Loan.objects.values_list("pk", "status", "disbursed_on")
        },
        "counts": {
            model.__name__: model.objects.count()
            for model in (
                Application,
                Valuation,
                PatentValuation,
                Policy,
                PremiumPayment,
                Loan,
                Pledge,
                PledgedPatent,
                Installment,
                AuditLog,
                IdempotencyKey,
            )
        },
    }


def refused(r: Any, status: int) -> dict[str, Any]:
    """Assert the status and the one error shape {code, message, fields?}; return the body."""
    assert r.status_code == status, (r.status_code, r.content)
    body: dict[str, Any] = r.json()
    assert set(body) in ({"code", "message"}, {"code", "message", "fields"}), body
    assert isinstance(body["code"], str) and body["code"]
    assert isinstance(body["message"], str) and body["message"]
    return body


ORIGINATION_ACTIONS = ("application.", "valuation.", "policy.", "loan.", "pledge.")


def audit_trail(**filters: Any) -> list[tuple[str, str, str]]:
    """(action, from_state, to_state) of the origination audit rows, oldest first."""
    rows = AuditLog.objects.filter(**filters).order_by("id").values_list("action", "from_state", "to_state")
    return [row for row in rows if row[0].startswith(ORIGINATION_ACTIONS)]
