"""The security proof (issue 10): every test under tests/proof is marked `proof`, runs as its own CI
step (`./dev test -q -m proof`) and reports one figure line each at the end of the run, for example
`authz cells=528 leaks=0`.

The seeded world: two disjoint casts in Wuhan (A: the standard active loan with every party; B: the
same flow for another SME, bank, insurer and appraiser), a repayment and a repayment file on each
loan, a defaulted third loan with a pending settlement, a subsidy run. B's SME and patent carry a
canary string: no response to a caller outside B (or outside Wuhan) may contain it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import connection
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from fintech.models import (
    AuditLog,
    Finding,
    Loan,
    Organization,
    Patent,
    Repayment,
    RepaymentFile,
    Settlement,
    SubsidyRun,
    User,
    WebhookDelivery,
)
from tests.builders import active_loan
from tests.factories import OrganizationFactory, UserFactory
from tests.figures import figure  # noqa: F401  (the proof tests import it from here)


@dataclass
class Seeded:
    roles: dict[str, User | None]  # role name -> user (None: anonymous)
    own: dict[str, int]  # path segment -> id of an object of cast A
    other: dict[str, int]  # path segment -> id of an object of cast B
    canaries: tuple[str, ...]  # strings only cast B (and Wuhan's regulator, the platform) may see
    foreign_to: dict[str, bool]  # role -> whether cast B's objects are someone else's for it
    program_id: int


def client_for(user: User | None) -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    return client


def _repayment(loan: Loan, bank: User, amount: str, paid_on: date) -> Repayment:
    from fintech.services.repayments import repayment_record

    return repayment_record(
        actor=bank, loan_id=loan.pk, amount=Decimal(amount), paid_on=paid_on, transaction_id=uuid.uuid4().hex
    )


def _file(bank: User, loan: Loan) -> RepaymentFile:
    from fintech.services.repayment_files import repayment_file_upload

    content = f"loan,amount,value_date,transaction_id\n{loan.pk},1.00,2025-04-21,{uuid.uuid4().hex}\n"
    return repayment_file_upload(actor=bank, filename="day.csv", content=content.encode())


def seed() -> Seeded:
    """Build the two casts and the objects behind every {id} of the API."""
    from fintech.models import OrganizationKind, Region
    from fintech.services.collateral import (
        finding_revaluation_request,
        patent_event_file_upload,
        patent_event_record,
    )
    from fintech.services.defaults import loan_default_declare
    from fintech.services.extensions import loan_extension_request
    from fintech.services.risk_pool import settlement_record
    from fintech.services.scenarios import scenario_start
    from fintech.services.subsidies import subsidy_run_start
    from fintech.services.webhooks import endpoint_create
    from tests.factories import wuhan_program

    loan_a, a = active_loan()
    loan_b, b = active_loan()
    loan_d, d = active_loan(people=a)  # a third loan of cast A, defaulted below
    # Each bank's webhook endpoint, registered before the events below, which owe it deliveries.
    with override_settings(WEBHOOK_ALLOW_PRIVATE_HOSTS=True):
        endpoint_a, endpoint_b = (
            endpoint_create(actor=people.bank, url="http://127.0.0.1:9/hook", event_types=[])
            for people in (a, b)
        )
    canary = f"CANARY{uuid.uuid4().hex[:10].upper()}"
    sme_b = b.sme.organization
    assert sme_b is not None
    Organization.objects.filter(pk=sme_b.pk).update(name=f"{canary} SME")
    Patent.objects.filter(owner=sme_b).update(title=f"{canary} patent")

    regulator_org = OrganizationFactory(kind=OrganizationKind.REGULATOR, name="Wuhan Finance Bureau")
    huangshi = OrganizationFactory(kind=OrganizationKind.REGULATOR, region=Region.objects.get(code="420200"))
    roles: dict[str, User | None] = {
        "anonymous": None,
        "sme": a.sme,
        "sme_colleague": UserFactory(organization=a.sme.organization),
        "bank": a.bank,
        "bank_clerk": UserFactory(organization=a.bank.organization),
        "insurer": a.insurer,
        "insurer_clerk": UserFactory(organization=a.insurer.organization),
        "appraiser": a.appraiser,
        "regulator": UserFactory(organization=regulator_org, is_staff=True),
        "other_regulator": UserFactory(organization=huangshi, is_staff=True),
        "platform": UserFactory(
            organization=OrganizationFactory(kind=OrganizationKind.PLATFORM), is_staff=True
        ),
    }
    rep_a = _repayment(loan_a, a.bank, "100.00", date(2025, 3, 1))
    rep_b = _repayment(loan_b, b.bank, "100.00", date(2025, 3, 1))
    file_a, file_b = _file(a.bank, loan_a), _file(b.bank, loan_b)
    # An extension agreed on each cast's loan, waiting for its insurer (DOMAIN.md 8a).
    ext_a, ext_b = (
        loan_extension_request(
            actor=people.bank, loan_id=loan.pk, new_maturity_on=date(2026, 3, 20), agreed_on=date(2025, 3, 2)
        )
        for loan, people in ((loan_a, a), (loan_b, b))
    )
    loan_default_declare(
        actor=d.bank, loan_id=loan_d.pk, default_on=date(2025, 7, 1), reason="90 days past due"
    )
    settlement = settlement_record(
        actor=d.insurer,
        loan_id=loan_d.pk,
        party="insurer",
        amount=Decimal("1000.00"),
        paid_on=date(2025, 7, 2),
        reference="S-1",
    )
    run = subsidy_run_start(actor=roles["regulator"], program_id=wuhan_program().pk, period="2025Q1")  # type: ignore[arg-type]
    scenario = scenario_start(
        actor=roles["regulator"],  # type: ignore[arg-type]
        program_id=wuhan_program().pk,
        raw={"horizon_months": 6, "paths": 200, "seed": 1},
    )

    # Last, as it lapses a pledged patent: a critical finding on each cast's first loan, a
    # revaluation asked of its appraisal firm, and a bank's file of legal-status events.
    findings, revaluations, event_files = {}, {}, {}
    for loan, people in ((loan_a, a), (loan_b, b)):
        patent_id = loan.pledge.items.get().patent_id
        patent_event_record(actor=None, patent_id=patent_id, code="lapse", event_on=date(2025, 6, 1))
        findings[loan.pk] = Finding.objects.get(loan=loan, patent_id=patent_id).pk
        revaluations[loan.pk] = finding_revaluation_request(
            actor=people.bank, finding_id=findings[loan.pk]
        ).pk
        number = Patent.objects.get(pk=patent_id).application_number
        event_files[loan.pk] = patent_event_file_upload(
            actor=people.bank,
            filename="events.csv",
            content=f"patent_number,event_date,event_code,description\n{number},2025-06-02,transfer,\n".encode(),
        ).pk

    def ids(loan: Loan, rep: Repayment, file: RepaymentFile, extension: object) -> dict[str, int]:
        app = loan.application
        endpoint = endpoint_a if loan == loan_a else endpoint_b
        return {
            "findings": findings[loan.pk],
            "revaluations": revaluations[loan.pk],
            "patent-events": event_files[loan.pk],
            "webhook-endpoints": endpoint.pk,
            "webhook-deliveries": WebhookDelivery.objects.filter(endpoint=endpoint).order_by("id").first().pk,  # type: ignore[union-attr]
            "applications": app.pk,
            "loans": loan.pk,
            "patents": app.patents.first().pk,  # type: ignore[union-attr]
            "policies": app.policy.pk,
            "valuations": app.valuation.pk,
            "repayments": rep.pk,
            "repayment-files": file.pk,
            "programs": wuhan_program().pk,
            "settlements": settlement.pk,
            "subsidy-runs": run.pk,
            "scenarios": scenario.pk,
            "extensions": extension.pk,  # type: ignore[attr-defined]
        }

    own, other = ids(loan_a, rep_a, file_a, ext_a), ids(loan_b, rep_b, file_b, ext_b)
    # Programmes, the settlement (of cast A's defaulted loan), the run and the stress scenario
    # (Wuhan's) have no B twin: their "other" cell is an id that does not exist.
    for shared in ("programs", "settlements", "subsidy-runs", "scenarios"):
        other[shared] = 2_000_000_000
    foreign = {role: role not in {"regulator", "platform"} for role in roles}
    return Seeded(roles, own, other, (canary, sme_b.uscc), foreign, wuhan_program().pk)


def table_counts() -> dict[str, int]:
    """Rows of the tables a write would touch: equal before and after a refused request."""
    from fintech.models import (
        Application,
        FundMovement,
        Installment,
        JournalEntry,
        LossEvent,
        Policy,
        PremiumPayment,
        Recovery,
        RepaymentReversal,
        Valuation,
    )

    models = (
        Organization,
        User,
        Patent,
        Loan,
        Repayment,
        RepaymentFile,
        Settlement,
        SubsidyRun,
        AuditLog,
        Application,
        FundMovement,
        Installment,
        JournalEntry,
        LossEvent,
        Policy,
        PremiumPayment,
        Recovery,
        RepaymentReversal,
        Valuation,
    )
    return {model.__name__: model.objects.count() for model in models}


def is_postgres() -> bool:
    return connection.vendor == "postgresql"
