"""The whole origination flow through the API, once per repayment method, from the SME's
registration to the disbursement, with the stored schedule checked row by row against figures
worked out by hand from DOMAIN.md sections 6, 7 and 8."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from rest_framework.test import APIClient

from fintech.models import AuditLog, Pledge, PledgedPatent, User
from tests.factories import make_uscc, wuhan_program

from .helpers import (
    ENTERPRISE,
    FORECAST,
    INDICATORS,
    Party,
    World,
    client_for,
    get,
    make_party,
    post,
    register_patent,
    report_body,
    today,
)

PASSWORD = "Correct-horse-9!"

# The walk-through's valuation, by hand (DOMAIN.md section 6, relief from royalty). The patent is an
# invention filed 2020-04-01: it expires 2020-04-01 + 20 years - 1 day = 2040-03-31, so from any
# valuation date in 2024-2025 more than 3 years remain and all three forecast years count in full.
#   after-tax royalty = 0.04 x (1 - 0.25) = 0.03
#   year 1: 40,000,000 x 0.03 / 1.14   = 1,200,000 / 1.14     = 1,052,631.578947...
#   year 2: 44,000,000 x 0.03 / 1.14^2 = 1,320,000 / 1.2996   = 1,015,697.137580...
#   year 3: 48,000,000 x 0.03 / 1.14^3 = 1,440,000 / 1.481544 =   971,958.983330...
#   sum = 3,040,287.699859... -> rounded once to the fen: 3,040,287.70
# Composite score 80 x 0.25 + 75 x 0.20 + 78 x 0.20 + 70 x 0.20 + 72 x 0.15 = 75.40 -> grade B,
# pledge rate 0.40; credit ceiling = min(round(3,040,287.70 x 0.40), 5,000,000.00) = 1,216,115.08.
APPRAISED = "3040287.70"
CEILING = "1216115.08"


def _register_sme(api: APIClient) -> Party:
    """POST /auth/register/ then POST /auth/token/, as an SME portal would."""
    body = {
        "username": "guanggu",
        "password": PASSWORD,
        "enterprise": {
            "name": "Guanggu Photonics Co., Ltd.",
            "uscc": make_uscc(4242),
            "region_code": "420100",
            "industry": "software_it",
            "employees": 80,
            "annual_revenue": "30000000.00",
            "total_assets": "20000000.00",
        },
    }
    r = api.post("/api/v1/auth/register/", body, format="json")
    assert r.status_code == 201, r.content
    token = api.post("/api/v1/auth/token/", {"username": "guanggu", "password": PASSWORD}, format="json")
    assert token.status_code == 200, token.content
    client = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    user = User.objects.get(username="guanggu")
    assert user.organization is not None
    return Party(org=user.organization, user=user, client=client)


@pytest.fixture
def parties(db: None) -> World:
    api = APIClient(HTTP_ACCEPT_LANGUAGE="en")
    return World(
        program=wuhan_program(),
        sme=_register_sme(api),
        bank=make_party("bank"),
        insurer=make_party("insurer"),
        appraiser=make_party("appraiser"),
        regulator=make_party("regulator"),
    )


def _status(w: World, app_id: int) -> str:
    return str(get(w.sme, f"/api/v1/applications/{app_id}/")["status"])


def _originate(
    w: World,
    *,
    method: str,
    requested_amount: str,
    principal: str,
    annual_rate: str,
    term_months: int,
    premium_rate: str,
    insured_amount: str,
    premium: str,
    valued_on: str,
    premium_paid_on: str,
    pledged_on: str,
    disbursed_on: str,
    maturity_on: str,
) -> dict[str, Any]:
    """Run the flow through the API, checking every step; return the disbursed loan."""
    # given the SME's granted invention patent, registered through the API
    patent = post(
        w.sme,
        "/api/v1/patents/",
        {
            # an optional ZL prefix and spaces are accepted; the check of 202010601862 is 5
            "application_number": "ZL 2020 1060 1862.5",
            "title": "Photonic pledge",
            "patent_type": "invention",
            "filing_date": "2020-04-01",
            "grant_date": "2022-04-01",
            "patentees": [{"name": w.sme.org.name, "uscc": w.sme.org.uscc}],
            "claims_count": 9,
        },
        expect=201,
    )
    assert (patent["application_number"], patent["expires_on"], patent["status"]) == (
        "202010601862.5",
        "2040-03-31",
        "in_force",
    )

    # when the SME drafts the application -> draft
    app = post(
        w.sme,
        "/api/v1/applications/",
        {
            "program": w.program.pk,
            "patents": [patent["id"]],
            "requested_amount": requested_amount,
            "term_months": term_months,
            "repayment_method": method,
            "bank": w.bank.id,
            "insurer": w.insurer.id,
            "appraiser": w.appraiser.id,
            "purpose": "R&D",
        },
        expect=201,
    )
    a = app["id"]
    assert (app["status"], app["requested_amount"], app["patents"]) == (
        "draft",
        requested_amount,
        [patent["id"]],
    )
    assert (app["appraised_value"], app["policy"], app["loan"], app["valuation"]) == (None, None, None, None)

    # and submits it -> valuation; the appraisal firm gets an engagement
    submitted = post(w.sme, f"/api/v1/applications/{a}/submit/", expect=200)
    assert (submitted["status"], submitted["submitted_on"]) == ("valuation", today().isoformat())
    engagements = get(w.appraiser, "/api/v1/valuations/")["results"]
    assert [(e["application"], e["status"], e["patents"]) for e in engagements] == [
        (a, "pending", [{"patent": patent["id"], "value": None}])
    ]

    # and the appraiser reports -> underwriting, with the figures worked out above
    valuation = post(
        w.appraiser,
        f"/api/v1/valuations/{engagements[0]['id']}/report/",
        {
            "report_number": "HBPG-2025-017",
            "valuation_date": valued_on,
            "patents": [
                {
                    "patent": patent["id"],
                    "method": "relief_from_royalty",
                    "revenue_forecast": FORECAST,
                    "royalty_rate": "0.04",
                    "tax_rate": "0.25",
                    "discount_rate": "0.14",
                    "indicators": INDICATORS,
                }
            ],
            "enterprise": ENTERPRISE,
        },
        expect=201,
    )
    assert {
        k: valuation[k]
        for k in (
            "appraised_value",
            "composite_score",
            "risk_grade",
            "pledge_rate",
            "credit_ceiling",
            "status",
            "valuation_date",
            "patents",
        )
    } == {
        "appraised_value": APPRAISED,
        "composite_score": "75.40",
        "risk_grade": "B",
        "pledge_rate": "0.40",
        "credit_ceiling": CEILING,
        "status": "reported",
        "valuation_date": valued_on,
        "patents": [{"patent": patent["id"], "value": APPRAISED}],
    }
    seen = get(w.sme, f"/api/v1/applications/{a}/")
    assert (
        seen["status"],
        seen["appraised_value"],
        seen["risk_grade"],
        seen["pledge_rate"],
        seen["credit_ceiling"],
    ) == ("underwriting", APPRAISED, "B", "0.40", CEILING)

    # and the insurer issues the policy -> bank_review
    policy = post(w.insurer, f"/api/v1/applications/{a}/policy/", {"premium_rate": premium_rate}, expect=201)
    assert {
        k: policy[k]
        for k in (
            "policy_number",
            "insured_amount",
            "premium_rate",
            "term_months",
            "premium",
            "premium_paid_amount",
            "status",
        )
    } == {
        "policy_number": f"PLI{a:010d}",
        "insured_amount": insured_amount,
        "premium_rate": premium_rate,
        "term_months": term_months,
        "premium": premium,
        "premium_paid_amount": "0.00",
        "status": "issued",
    }
    assert _status(w, a) == "bank_review"

    # and the bank approves -> approved, the loan "approved"
    loan = post(
        w.bank,
        f"/api/v1/applications/{a}/approve/",
        {
            "principal": principal,
            "annual_rate": annual_rate,
            "term_months": term_months,
            "repayment_method": method,
        },
        expect=201,
    )["loan"]
    assert {
        k: loan[k]
        for k in (
            "application",
            "policy",
            "principal",
            "annual_rate",
            "term_months",
            "repayment_method",
            "status",
            "approved_on",
            "disbursed_on",
            "maturity_on",
            "grace_days",
            "default_days_past_due",
        )
    } == {
        "application": a,
        "policy": policy["id"],
        "principal": principal,
        "annual_rate": annual_rate,
        "term_months": term_months,
        "repayment_method": method,
        "status": "approved",
        "approved_on": today().isoformat(),
        "disbursed_on": None,
        "maturity_on": None,
        "grace_days": 0,
        "default_days_past_due": 90,
    }
    assert _status(w, a) == "approved"

    # and the insurer records the premium -> the policy is "active"
    paid = post(
        w.insurer,
        f"/api/v1/policies/{policy['id']}/premium-payments/",
        {"amount": premium, "paid_on": premium_paid_on},
        expect=201,
    )
    assert (
        paid["amount"],
        paid["paid_on"],
        paid["policy"]["status"],
        paid["policy"]["premium_paid_amount"],
        paid["policy"]["premium_paid_on"],
    ) == (premium, premium_paid_on, "active", premium, premium_paid_on)

    # and the bank records the CNIPA pledge registration
    pledge = post(
        w.bank,
        f"/api/v1/loans/{loan['id']}/pledge/",
        {"registration_number": "Y2025420000123", "registered_on": pledged_on},
        expect=201,
    )
    assert {
        k: pledge[k]
        for k in ("loan", "registration_number", "registered_on", "secured_amount", "patents", "released_on")
    } == {
        "loan": loan["id"],
        "registration_number": "Y2025420000123",
        "registered_on": pledged_on,
        "secured_amount": principal,
        "patents": [patent["id"]],
        "released_on": None,
    }

    # and disburses -> the loan and the application are "active"
    disbursed = post(
        w.bank, f"/api/v1/loans/{loan['id']}/disburse/", {"disbursed_on": disbursed_on}, expect=200
    )
    assert (disbursed["status"], disbursed["disbursed_on"], disbursed["maturity_on"]) == (
        "active",
        disbursed_on,
        maturity_on,
    )
    final = get(w.sme, f"/api/v1/applications/{a}/")
    assert (final["status"], final["policy"]["status"], final["loan"]["status"]) == (
        "active",
        "active",
        "active",
    )
    stored = Pledge.objects.get(loan_id=loan["id"])
    assert (stored.debt_start_on.isoformat(), stored.debt_end_on.isoformat()) == (disbursed_on, maturity_on)  # type: ignore[union-attr]

    # then every transition left its audit row: action, from-state, to-state, by whom
    trail = list(
        AuditLog.objects.filter(action__regex=r"^(application|valuation|policy|loan|pledge)\.")
        .order_by("id")
        .values_list("action", "from_state", "to_state", "actor__username")
    )
    sme, appraiser, insurer, bank = (p.user.username for p in (w.sme, w.appraiser, w.insurer, w.bank))
    assert trail == [
        ("application.create", "", "draft", sme),
        ("application.submit", "draft", "valuation", sme),
        ("valuation.report", "pending", "reported", appraiser),
        ("application.valuation_reported", "valuation", "underwriting", appraiser),
        ("policy.issue", "", "issued", insurer),
        ("application.policy_issued", "underwriting", "bank_review", insurer),
        ("loan.approve", "", "approved", bank),
        ("application.approve", "bank_review", "approved", bank),
        ("policy.premium_paid", "issued", "active", insurer),
        ("pledge.register", "", "active", bank),
        ("loan.disburse", "approved", "active", bank),
        ("application.disburse", "approved", "active", bank),
    ]
    return dict(disbursed)


def _row(
    seq: int, start_on: str, due_on: str, days: int, opening: str, principal: str, interest: str
) -> dict:
    return {
        "seq": seq,
        "start_on": start_on,
        "due_on": due_on,
        "days": days,
        "opening_principal": opening,
        "principal_due": principal,
        "interest_due": interest,
        "principal_paid": "0.00",
        "interest_paid": "0.00",
        "paid_on": None,
        "status": "due",
    }


def _schedule(party: Party, loan_id: int) -> list[dict[str, Any]]:
    r = party.client.get(f"/api/v1/loans/{loan_id}/schedule/")
    assert r.status_code == 200, r.content
    rows = r.json()
    assert isinstance(rows, list)  # a bare array, not a page
    return rows


def test_interest_monthly_principal_at_maturity_disbursed_on_the_31st(parties: World) -> None:
    # given 1,000,000.00 at 4.35 % for 12 months, interest monthly, principal at maturity, valued
    # 2025-01-02, premium paid 2025-01-20, pledge registered 2025-01-24, disbursed 2025-01-31.
    # Premium (DOMAIN.md 7): 1,000,000.00 x 0.02 x 12 / 12 = 20,000.00.
    # when
    loan = _originate(
        parties,
        method="interest_monthly_principal_at_maturity",
        requested_amount="1000000.00",
        principal="1000000.00",
        annual_rate="0.0435",
        term_months=12,
        premium_rate="0.02",
        insured_amount="1000000.00",
        premium="20000.00",
        valued_on="2025-01-02",
        premium_paid_on="2025-01-20",
        pledged_on="2025-01-24",
        disbursed_on="2025-01-31",
        maturity_on="2026-01-31",
    )
    # then the schedule, by hand (DOMAIN.md 8). Due date k = 2025-01-31 + k months, clipped to the
    # month's last day and never chained: 02-28, 03-31, 04-30, 05-31, 06-30, 07-31, 08-31, 09-30,
    # 10-31, 11-30, 12-31, 2026-01-31. Days: 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31 (= 365).
    # Interest = round(1,000,000.00 x 0.0435 x days / 360), i.e. 120.8333... a day:
    #   28 days: 3,383.333... -> 3,383.33;  30 days: 3,625.00;  31 days: 3,745.8333... -> 3,745.83
    # Principal 0.00 each month, all 1,000,000.00 with the last installment.
    p = "1000000.00"
    assert _schedule(parties.sme, loan["id"]) == [
        _row(1, "2025-01-31", "2025-02-28", 28, p, "0.00", "3383.33"),
        _row(2, "2025-02-28", "2025-03-31", 31, p, "0.00", "3745.83"),
        _row(3, "2025-03-31", "2025-04-30", 30, p, "0.00", "3625.00"),
        _row(4, "2025-04-30", "2025-05-31", 31, p, "0.00", "3745.83"),
        _row(5, "2025-05-31", "2025-06-30", 30, p, "0.00", "3625.00"),
        _row(6, "2025-06-30", "2025-07-31", 31, p, "0.00", "3745.83"),
        _row(7, "2025-07-31", "2025-08-31", 31, p, "0.00", "3745.83"),
        _row(8, "2025-08-31", "2025-09-30", 30, p, "0.00", "3625.00"),
        _row(9, "2025-09-30", "2025-10-31", 31, p, "0.00", "3745.83"),
        _row(10, "2025-10-31", "2025-11-30", 30, p, "0.00", "3625.00"),
        _row(11, "2025-11-30", "2025-12-31", 31, p, "0.00", "3745.83"),
        _row(12, "2025-12-31", "2026-01-31", 31, p, "1000000.00", "3745.83"),
    ]
    # and the bank sees the same schedule as the SME
    assert _schedule(parties.bank, loan["id"]) == _schedule(parties.sme, loan["id"])


def test_equal_principal_as_in_the_walkthrough(parties: World) -> None:
    # given the walk-through: 1,000,000.00 at 4.5 % for 12 months, equal principal, valued
    # 2025-02-01, premium paid 2025-02-10, pledge registered 2025-02-12, disbursed 2025-02-20.
    # Premium: 1,000,000.00 x 0.02 x 12 / 12 = 20,000.00.
    # when
    loan = _originate(
        parties,
        method="equal_principal",
        requested_amount="1000000.00",
        principal="1000000.00",
        annual_rate="0.045",
        term_months=12,
        premium_rate="0.02",
        insured_amount="1000000.00",
        premium="20000.00",
        valued_on="2025-02-01",
        premium_paid_on="2025-02-10",
        pledged_on="2025-02-12",
        disbursed_on="2025-02-20",
        maturity_on="2026-02-20",
    )
    # then, by hand: principal each month round(1,000,000.00 / 12) = round(83,333.333...) = 83,333.33;
    # the last takes the remainder 1,000,000.00 - 11 x 83,333.33 = 1,000,000.00 - 916,666.63 = 83,333.37.
    # Due on the 20th; days 28 (Feb), 31, 30, 31, 30, 31, 31, 30, 31, 30, 31, 31 (= 365).
    # Interest = round(outstanding x 0.045 x days / 360) = round(outstanding x 0.000125 x days):
    #  1: 1,000,000.00 x 0.000125 x 28 = 3,500.00
    #  2:   916,666.67 x 0.000125 x 31 = 3,552.083346... -> 3,552.08
    #  3:   833,333.34 x 0.000125 x 30 = 3,125.000025    -> 3,125.00
    #  4:   750,000.01 x 0.000125 x 31 = 2,906.250038... -> 2,906.25
    #  5:   666,666.68 x 0.000125 x 30 = 2,500.00005     -> 2,500.00
    #  6:   583,333.35 x 0.000125 x 31 = 2,260.416731... -> 2,260.42
    #  7:   500,000.02 x 0.000125 x 31 = 1,937.500077... -> 1,937.50
    #  8:   416,666.69 x 0.000125 x 30 = 1,562.500087... -> 1,562.50
    #  9:   333,333.36 x 0.000125 x 31 = 1,291.66677     -> 1,291.67
    # 10:   250,000.03 x 0.000125 x 30 =   937.500112... ->   937.50
    # 11:   166,666.70 x 0.000125 x 31 =   645.833462... ->   645.83
    # 12:    83,333.37 x 0.000125 x 31 =   322.916808... ->   322.92
    m = "83333.33"
    assert _schedule(parties.sme, loan["id"]) == [
        _row(1, "2025-02-20", "2025-03-20", 28, "1000000.00", m, "3500.00"),
        _row(2, "2025-03-20", "2025-04-20", 31, "916666.67", m, "3552.08"),
        _row(3, "2025-04-20", "2025-05-20", 30, "833333.34", m, "3125.00"),
        _row(4, "2025-05-20", "2025-06-20", 31, "750000.01", m, "2906.25"),
        _row(5, "2025-06-20", "2025-07-20", 30, "666666.68", m, "2500.00"),
        _row(6, "2025-07-20", "2025-08-20", 31, "583333.35", m, "2260.42"),
        _row(7, "2025-08-20", "2025-09-20", 31, "500000.02", m, "1937.50"),
        _row(8, "2025-09-20", "2025-10-20", 30, "416666.69", m, "1562.50"),
        _row(9, "2025-10-20", "2025-11-20", 31, "333333.36", m, "1291.67"),
        _row(10, "2025-11-20", "2025-12-20", 30, "250000.03", m, "937.50"),
        _row(11, "2025-12-20", "2026-01-20", 31, "166666.70", m, "645.83"),
        _row(12, "2026-01-20", "2026-02-20", 31, "83333.37", "83333.37", "322.92"),
    ]


def test_equal_installment_with_the_insured_amount_capped_at_the_ceiling(parties: World) -> None:
    # given 1,300,000.00 requested, above the credit ceiling 1,216,115.08: the policy insures the
    # ceiling (DOMAIN.md 7); the bank lends 1,200,000.00 at 4.8 % for 12 months, equal installment,
    # valued 2024-08-01, premium paid 2024-08-20, pledge 2024-08-25, disbursed 2024-08-31.
    # Premium at 1.5 %: round(1,216,115.08 x 0.015 x 12 / 12) = round(18,241.7262) = 18,241.73.
    # when
    loan = _originate(
        parties,
        method="equal_installment",
        requested_amount="1300000.00",
        principal="1200000.00",
        annual_rate="0.048",
        term_months=12,
        premium_rate="0.015",
        insured_amount=CEILING,
        premium="18241.73",
        valued_on="2024-08-01",
        premium_paid_on="2024-08-20",
        pledged_on="2024-08-25",
        disbursed_on="2024-08-31",
        maturity_on="2025-08-31",
    )
    # then, by hand: i = 0.048 / 12 = 0.004 (not rounded); (1 + i)^12 = 1.004^12 = 1.049070208...
    # A = round(1,200,000 x 0.004 x 1.049070208 / 0.049070208) = round(102,619.0279...) = 102,619.03
    # interest_k = round(outstanding x 0.004), principal_k = A - interest_k:
    #  1: 1,200,000.00 x 0.004 = 4,800.00     principal 97,819.03
    #  2: 1,102,180.97 x 0.004 = 4,408.72388  -> 4,408.72, principal  98,210.31
    #  3: 1,003,970.66 x 0.004 = 4,015.88264  -> 4,015.88, principal  98,603.15
    #  4:   905,367.51 x 0.004 = 3,621.47004  -> 3,621.47, principal  98,997.56
    #  5:   806,369.95 x 0.004 = 3,225.4798   -> 3,225.48, principal  99,393.55
    #  6:   706,976.40 x 0.004 = 2,827.9056   -> 2,827.91, principal  99,791.12
    #  7:   607,185.28 x 0.004 = 2,428.74112  -> 2,428.74, principal 100,190.29
    #  8:   506,994.99 x 0.004 = 2,027.97996  -> 2,027.98, principal 100,591.05
    #  9:   406,403.94 x 0.004 = 1,625.61576  -> 1,625.62, principal 100,993.41
    # 10:   305,410.53 x 0.004 = 1,221.64212  -> 1,221.64, principal 101,397.39
    # 11:   204,013.14 x 0.004 =   816.05256  ->   816.05, principal 101,802.98
    # 12:   102,210.16 x 0.004 =   408.84064  ->   408.84, the last clears 102,210.16 (total 102,619.00)
    # Due dates from 2024-08-31: 09-30, 10-31, 11-30, 12-31, 2025-01-31, 02-28, 03-31, 04-30, 05-31,
    # 06-30, 07-31, 08-31; days 30, 31, 30, 31, 31, 28, 31, 30, 31, 30, 31, 31 (= 365).
    assert _schedule(parties.sme, loan["id"]) == [
        _row(1, "2024-08-31", "2024-09-30", 30, "1200000.00", "97819.03", "4800.00"),
        _row(2, "2024-09-30", "2024-10-31", 31, "1102180.97", "98210.31", "4408.72"),
        _row(3, "2024-10-31", "2024-11-30", 30, "1003970.66", "98603.15", "4015.88"),
        _row(4, "2024-11-30", "2024-12-31", 31, "905367.51", "98997.56", "3621.47"),
        _row(5, "2024-12-31", "2025-01-31", 31, "806369.95", "99393.55", "3225.48"),
        _row(6, "2025-01-31", "2025-02-28", 28, "706976.40", "99791.12", "2827.91"),
        _row(7, "2025-02-28", "2025-03-31", 31, "607185.28", "100190.29", "2428.74"),
        _row(8, "2025-03-31", "2025-04-30", 30, "506994.99", "100591.05", "2027.98"),
        _row(9, "2025-04-30", "2025-05-31", 31, "406403.94", "100993.41", "1625.62"),
        _row(10, "2025-05-31", "2025-06-30", 30, "305410.53", "101397.39", "1221.64"),
        _row(11, "2025-06-30", "2025-07-31", 31, "204013.14", "101802.98", "816.05"),
        _row(12, "2025-07-31", "2025-08-31", 31, "102210.16", "102210.16", "408.84"),
    ]


def test_regulator_of_the_region_reads_the_schedule(parties: World) -> None:
    # given a loan disbursed on 2025-02-20 (equal principal, as in the walk-through)
    loan = _originate(
        parties,
        method="equal_principal",
        requested_amount="1000000.00",
        principal="1000000.00",
        annual_rate="0.045",
        term_months=12,
        premium_rate="0.02",
        insured_amount="1000000.00",
        premium="20000.00",
        valued_on="2025-02-01",
        premium_paid_on="2025-02-10",
        pledged_on="2025-02-12",
        disbursed_on="2025-02-20",
        maturity_on="2026-02-20",
    )
    # when the Wuhan regulator and the insurer read it
    regulator_rows = _schedule(parties.regulator, loan["id"])
    insurer_rows = _schedule(parties.insurer, loan["id"])
    # then they see the SME's schedule
    assert regulator_rows == insurer_rows == _schedule(parties.sme, loan["id"])
    assert [r["due_on"] for r in regulator_rows][:2] == ["2025-03-20", "2025-04-20"]
    assert (
        client_for(parties.bank.user).get(f"/api/v1/loans/{loan['id']}/").json()["maturity_on"]
        == "2026-02-20"
    )


def test_two_patents_are_valued_weighted_and_pledged_together(world: World) -> None:
    # given two inventions of the SME (expiring 2040-03-31 and 2041-02-28) in one application
    first = register_patent(world.sme)
    second = register_patent(world.sme, filing_date=date(2021, 3, 1), grant_date=date(2023, 3, 1))
    assert second["expires_on"] == "2041-02-28"
    app = post(
        world.sme,
        "/api/v1/applications/",
        {
            "program": world.program.pk,
            "patents": [first["id"], second["id"]],
            "requested_amount": "1300000.00",
            "term_months": 3,
            "repayment_method": "interest_monthly_principal_at_maturity",
            "bank": world.bank.id,
            "insurer": world.insurer.id,
            "appraiser": world.appraiser.id,
        },
        expect=201,
    )
    post(world.sme, f"/api/v1/applications/{app['id']}/submit/", expect=200)
    engagement = get(world.appraiser, "/api/v1/valuations/")["results"][0]["id"]
    # when the appraiser values the first as in the walk-through and the second on one year of
    # 10,000,000.00 revenue at a 5 % royalty, 25 % tax, 12 % discount, scoring it 60 on each patent group
    second_line = {
        "patent": second["id"],
        "method": "relief_from_royalty",
        "revenue_forecast": ["10000000.00"],
        "royalty_rate": "0.05",
        "tax_rate": "0.25",
        "discount_rate": "0.12",
        "indicators": {"legal": 60, "technical": 60, "economic": 60},
    }
    body = report_body([first["id"]], valuation_date="2025-03-03")
    body["patents"].append(second_line)
    valuation = post(world.appraiser, f"/api/v1/valuations/{engagement}/report/", body, expect=201)
    # then, by hand: second = round(10,000,000 x 0.05 x 0.75 / 1.12) = round(334,821.428571...) = 334,821.43
    # appraised = 3,040,287.70 + 334,821.43 = 3,375,109.13
    # patent groups, value-weighted (divided by 3,375,109.13), 2 places:
    #   legal     (3,040,287.70 x 80 + 334,821.43 x 60) = 263,312,301.80 -> 78.0159... -> 78.02
    #   technical (3,040,287.70 x 75 + 334,821.43 x 60) = 248,110,863.30 -> 73.5119... -> 73.51
    #   economic  (3,040,287.70 x 78 + 334,821.43 x 60) = 257,231,726.40 -> 76.2143... -> 76.21
    # composite = 78.02 x 0.25 + 73.51 x 0.20 + 76.21 x 0.20 + 70 x 0.20 + 72 x 0.15
    #           = 19.505 + 14.702 + 15.242 + 14 + 10.8 = 74.249 -> 74.25: grade B, pledge rate 0.40
    # ceiling = round(3,375,109.13 x 0.40) = round(1,350,043.652) = 1,350,043.65
    assert {
        k: valuation[k]
        for k in ("appraised_value", "composite_score", "risk_grade", "credit_ceiling", "patents")
    } == {
        "appraised_value": "3375109.13",
        "composite_score": "74.25",
        "risk_grade": "B",
        "credit_ceiling": "1350043.65",
        "patents": [
            {"patent": first["id"], "value": APPRAISED},
            {"patent": second["id"], "value": "334821.43"},
        ],
    }
    # and through to disbursement on 2025-03-31: premium 1,300,000.00 x 0.01 x 3 / 12 = 3,250.00
    policy = post(
        world.insurer, f"/api/v1/applications/{app['id']}/policy/", {"premium_rate": "0.01"}, expect=201
    )
    assert (policy["insured_amount"], policy["premium"]) == ("1300000.00", "3250.00")
    loan = post(
        world.bank,
        f"/api/v1/applications/{app['id']}/approve/",
        {
            "principal": "1300000.00",
            "annual_rate": "0.04",
            "term_months": 3,
            "repayment_method": "interest_monthly_principal_at_maturity",
        },
        expect=201,
    )["loan"]
    post(
        world.insurer,
        f"/api/v1/policies/{policy['id']}/premium-payments/",
        {"amount": "3250.00", "paid_on": "2025-03-10"},
        expect=201,
    )
    pledged = post(
        world.bank,
        f"/api/v1/loans/{loan['id']}/pledge/",
        {"registration_number": "Y2025420000456", "registered_on": "2025-03-20"},
        expect=201,
    )
    assert pledged["patents"] == [first["id"], second["id"]]
    post(world.bank, f"/api/v1/loans/{loan['id']}/disburse/", {"disbursed_on": "2025-03-31"}, expect=200)
    # and the schedule: 1,300,000.00 x 0.04 / 360 = 144.444... a day; 30 days 4,333.33, 31 days 4,477.78
    p = "1300000.00"
    assert _schedule(world.sme, loan["id"]) == [
        _row(1, "2025-03-31", "2025-04-30", 30, p, "0.00", "4333.33"),
        _row(2, "2025-04-30", "2025-05-31", 31, p, "0.00", "4477.78"),
        _row(3, "2025-05-31", "2025-06-30", 30, p, "1300000.00", "4333.33"),
    ]
    assert PledgedPatent.objects.filter(is_active=True).count() == 2
