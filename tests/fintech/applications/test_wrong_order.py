"""Actions out of the flow's order: a 409 in the error shape naming the current state (or a 400 for
bad input), and nothing written. DOMAIN.md sections 1, 3, 6, 7 and 8; API.md "Conventions"."""

from __future__ import annotations

from datetime import timedelta

import pytest

from fintech.models import Application, AuditLog, Loan, Policy, Valuation
from fintech.rules.schedules import add_months

from .helpers import (
    GRADE_D_ENTERPRISE,
    GRADE_D_INDICATORS,
    PREMIUM_PAID_ON,
    World,
    advance,
    approve,
    approve_body,
    audit_trail,
    disburse,
    engagement_id,
    issue_policy,
    pay_premium,
    pledge,
    refused,
    register_patent,
    report,
    report_body,
    snapshot,
    today,
)


def test_approve_before_the_policy_is_409_naming_underwriting(world: World) -> None:
    # given an application valued and waiting for the insurer
    case = advance(world, "underwriting")
    before = snapshot()
    # when the bank approves it
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/approve/", approve_body(), format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot approve: the record is 'Underwriting'.",
    }
    assert snapshot() == before


def test_disburse_before_the_premium_is_409(world: World) -> None:
    # given an approved loan whose pledge is registered but whose premium (20,000.00) is unpaid
    case = advance(world, "approved", pledged=True)
    before = snapshot()
    # when the bank disburses
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-02-20"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "premium_not_paid",
        "message": "Cannot disburse: the premium is not paid (the policy is 'Issued',"
        " 0.00 of 20000.00 paid).",
    }
    assert snapshot() == before


def test_disburse_after_part_of_the_premium_is_409(world: World) -> None:
    # given an approved, pledged loan with 5,000.00 of the 20,000.00 premium paid
    case = advance(world, "approved", pledged=True)
    pay_premium(world, case.policy_id, "5000.00")
    before = snapshot()
    # when the bank disburses
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-02-20"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "premium_not_paid",
        "message": "Cannot disburse: the premium is not paid (the policy is 'Issued',"
        " 5000.00 of 20000.00 paid).",
    }
    assert snapshot() == before


def test_disburse_before_the_pledge_is_409(world: World) -> None:
    # given an approved loan whose premium is paid but whose pledge is not registered
    case = advance(world, "approved", premium_paid=True)
    before = snapshot()
    # when the bank disburses
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-02-20"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "pledge_not_registered",
        "message": "Cannot disburse: the pledge is not registered (the loan is 'Approved').",
    }
    assert snapshot() == before


def test_second_approval_is_409(world: World) -> None:
    # given an approved application
    case = advance(world, "approved")
    before = snapshot()
    # when the bank approves it again
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/approve/", approve_body(), format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot approve: the record is 'Approved'.",
    }
    assert snapshot() == before
    assert Loan.objects.filter(application_id=case.application).count() == 1


def test_second_pledge_for_the_loan_is_409(world: World) -> None:
    # given an approved loan whose pledge Y2025420000001 is registered
    case = advance(world, "approved")
    assert case.loan is not None
    pledge(world, case.loan, registration_number="Y2025420000001")
    before = snapshot()
    # when the bank registers another pledge for it
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/pledge/",
        {"registration_number": "Y2025420000002", "registered_on": "2025-02-13"},
        format="json",
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot register a pledge: pledge Y2025420000001 is already registered for this loan "
        "(the loan is 'Approved').",
    }
    assert snapshot() == before


def test_pledge_after_disbursement_is_409(world: World) -> None:
    # given a disbursed loan
    case = advance(world, "active")
    before = snapshot()
    # when the bank registers a pledge for it
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/pledge/",
        {"registration_number": "Y2025420000999", "registered_on": "2025-02-21"},
        format="json",
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot register a pledge: the record is 'Active'.",
    }
    assert snapshot() == before


def test_second_disbursement_is_409(world: World) -> None:
    # given a disbursed loan
    case = advance(world, "active")
    before = snapshot()
    # when the bank disburses it again
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-02-21"}, format="json"
    )
    # then
    assert refused(r, 409) == {"code": "invalid_state", "message": "Cannot disburse: the record is 'Active'."}
    assert snapshot() == before


def test_submit_twice_is_409(world: World) -> None:
    # given a submitted application
    case = advance(world, "valuation")
    before = snapshot()
    # when the SME submits it again
    r = world.sme.client.post(f"/api/v1/applications/{case.application}/submit/", format="json")
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot submit: the record is 'Valuation'.",
    }
    assert snapshot() == before
    assert Valuation.objects.filter(application_id=case.application).count() == 1


def test_report_a_valuation_twice_is_409(world: World) -> None:
    # given a reported valuation
    case = advance(world, "underwriting")
    before = snapshot()
    # when the appraiser reports again, with another report number
    r = world.appraiser.client.post(
        f"/api/v1/valuations/{case.valuation}/report/",
        report_body(case.patents, report_number="VAL-AGAIN"),
        format="json",
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot report a valuation: the record is 'Underwriting'.",
    }
    assert snapshot() == before


def test_report_before_submission_is_impossible(world: World) -> None:
    # given a draft: no engagement exists, the appraiser has nothing to report on
    advance(world, "draft")
    # when the appraiser lists its engagements
    r = world.appraiser.client.get("/api/v1/valuations/")
    # then
    assert r.json()["count"] == 0


def test_issue_a_policy_twice_is_409(world: World) -> None:
    # given an issued policy
    case = advance(world, "bank_review")
    before = snapshot()
    # when the insurer issues another
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/policy/", {"premium_rate": "0.01"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot issue a policy: the record is 'Bank review'.",
    }
    assert snapshot() == before


def test_issue_a_policy_before_the_valuation_is_409(world: World) -> None:
    # given a submitted application not valued yet
    case = advance(world, "valuation")
    before = snapshot()
    # when the insurer issues a policy
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/policy/", {"premium_rate": "0.02"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot issue a policy: the record is 'Valuation'.",
    }
    assert snapshot() == before


def test_premium_overpayment_is_400(world: World) -> None:
    # given an issued policy, premium 20,000.00, of which 15,000.00 is paid
    case = advance(world, "bank_review")
    pay_premium(world, case.policy_id, "15000.00")
    before = snapshot()
    # when the insurer records 5,000.01
    r = world.insurer.client.post(
        f"/api/v1/policies/{case.policy_id}/premium-payments/",
        {"amount": "5000.01", "paid_on": PREMIUM_PAID_ON},
        format="json",
    )
    # then
    assert refused(r, 400) == {
        "code": "amount_over_limit",
        "message": "Only 5000.00 of the premium is outstanding.",
        "fields": {"amount": ["At most 5000.00."]},
    }
    assert snapshot() == before


def test_premium_payment_on_an_active_policy_is_409(world: World) -> None:
    # given a policy whose premium is paid in full
    case = advance(world, "bank_review")
    pay_premium(world, case.policy_id, "20000.00")
    before = snapshot()
    # when the insurer records another payment
    r = world.insurer.client.post(
        f"/api/v1/policies/{case.policy_id}/premium-payments/",
        {"amount": "0.01", "paid_on": PREMIUM_PAID_ON},
        format="json",
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot record a premium payment: the record is 'Active (premium paid)'.",
    }
    assert snapshot() == before


def test_premium_paid_in_two_parts_activates_the_policy(world: World) -> None:
    # given an issued policy, premium 20,000.00
    case = advance(world, "bank_review")
    # when the insurer records 12,345.67 then 7,654.33 (12,345.67 + 7,654.33 = 20,000.00)
    first = pay_premium(world, case.policy_id, "12345.67", "2025-02-05")
    second = pay_premium(world, case.policy_id, "7654.33", "2025-02-10")
    # then the policy stays issued after the first, is active after the second, paid on the second's date
    assert (first["policy"]["status"], first["policy"]["premium_paid_amount"]) == ("issued", "12345.67")
    assert (
        second["policy"]["status"],
        second["policy"]["premium_paid_amount"],
        second["policy"]["premium_paid_on"],
    ) == ("active", "20000.00", "2025-02-10")
    assert audit_trail(action="policy.premium_paid") == [
        ("policy.premium_paid", "issued", "issued"),
        ("policy.premium_paid", "issued", "active"),
    ]


def test_bank_declines_while_underwriting_is_409(world: World) -> None:
    # given an application the insurer is underwriting
    case = advance(world, "underwriting")
    before = snapshot()
    # when the bank declines it
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/decline/", {"reason": "Too risky"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot decline: the record is 'Underwriting'.",
    }
    assert snapshot() == before


def test_insurer_declines_while_underwriting(world: World) -> None:
    # given an application the insurer is underwriting
    case = advance(world, "underwriting")
    # when the insurer declines it
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/decline/",
        {"reason": "Concentration limit reached"},
        format="json",
    )
    # then
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["decline_reason"]) == ("declined", "Concentration limit reached")
    assert audit_trail(action="application.decline") == [("application.decline", "underwriting", "declined")]


def test_bank_declines_in_review_and_the_policy_is_cancelled(world: World) -> None:
    # given an issued policy and an application in bank review
    case = advance(world, "bank_review")
    # when the bank declines
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/decline/", {"reason": "Collateral weak"}, format="json"
    )
    # then the application is declined and its policy cancelled
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "declined"
    assert Policy.objects.get(pk=case.policy_id).status == "cancelled"
    assert audit_trail(action__in=["application.decline", "policy.cancel"]) == [
        ("application.decline", "bank_review", "declined"),
        ("policy.cancel", "issued", "cancelled"),
    ]


def test_decline_without_a_reason_is_400(world: World) -> None:
    # given an application in bank review
    case = advance(world, "bank_review")
    before = snapshot()
    # when the bank declines it without a reason
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/decline/", {"reason": "  "}, format="json"
    )
    # then
    assert refused(r, 400)["fields"] == {"reason": ["This field may not be blank."]}
    assert snapshot() == before


def test_withdraw_after_approval_is_409(world: World) -> None:
    # given an approved application
    case = advance(world, "approved")
    before = snapshot()
    # when the SME withdraws it
    r = world.sme.client.post(
        f"/api/v1/applications/{case.application}/withdraw/", {"reason": "changed mind"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot withdraw: the record is 'Approved'.",
    }
    assert snapshot() == before


def test_withdraw_during_valuation_cancels_the_engagement(world: World) -> None:
    # given an application waiting for its valuation
    case = advance(world, "valuation")
    # when the SME withdraws it
    r = world.sme.client.post(f"/api/v1/applications/{case.application}/withdraw/", {}, format="json")
    # then the application is withdrawn and the appraiser's engagement cancelled
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "withdrawn"
    assert case.valuation is not None
    assert Valuation.objects.get(pk=case.valuation).status == "cancelled"
    assert audit_trail(action__in=["application.withdraw", "valuation.cancel"]) == [
        ("application.withdraw", "valuation", "withdrawn"),
        ("valuation.cancel", "pending", "cancelled"),
    ]
    # and a late report is refused
    late = world.appraiser.client.post(
        f"/api/v1/valuations/{case.valuation}/report/", report_body(case.patents), format="json"
    )
    assert refused(late, 409)["message"] == "Cannot report a valuation: the record is 'Withdrawn'."


def test_withdraw_in_bank_review_cancels_the_issued_policy(world: World) -> None:
    # given an issued policy and an application in bank review
    case = advance(world, "bank_review")
    # when the SME withdraws
    r = world.sme.client.post(
        f"/api/v1/applications/{case.application}/withdraw/", {"reason": "funded elsewhere"}, format="json"
    )
    # then the policy no longer stands (DOMAIN.md 7: "cancelled")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "withdrawn"
    assert r.json()["policy"]["status"] == "cancelled"
    assert audit_trail(action__in=["application.withdraw", "policy.cancel"]) == [
        ("application.withdraw", "bank_review", "withdrawn"),
        ("policy.cancel", "issued", "cancelled"),
    ]


def test_valuation_past_its_validity_on_the_disbursement_date_is_409(world: World) -> None:
    # given a valuation of 2024-03-01 (valid 12 months: until 2025-03-01), premium paid 2024-03-10 and
    # the pledge registered 2024-03-15
    case = advance(
        world,
        "approved",
        valued_on="2024-03-01",
        premium_paid=True,
        premium_paid_on="2024-03-10",
        pledged=True,
        pledged_on="2024-03-15",
    )
    assert case.loan is not None
    before = snapshot()
    # when the bank disburses on 2025-03-02, a day past the validity
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-03-02"}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "valuation_expired",
        "message": "The valuation of 2024-03-01 is valid until 2025-03-01; it cannot back a disbursement on "
        "2025-03-02.",
    }
    assert snapshot() == before
    # and on the last day of the validity it goes through
    assert disburse(world, case.loan, "2025-03-01")["status"] == "active"


def test_maturity_after_a_patents_expiry_is_409(world: World) -> None:
    # given a utility model expiring 30 months from today, on the 15th: filed on the 16th ten years
    # earlier (term 10 years: filing + 10 years - 1 day), so it passes the 24-month remaining-term
    # check at submission
    expires = add_months(today(), 30).replace(day=15)
    filed = expires.replace(year=expires.year - 10) + timedelta(days=1)
    patent = register_patent(
        world.sme, patent_type="utility_model", filing_date=filed, grant_date=filed + timedelta(days=200)
    )
    assert patent["expires_on"] == expires.isoformat()
    # and a 36-month loan: disbursed on D0 = expiry - 36 months it matures on the expiry day itself
    d0 = add_months(expires, -36)
    valued = d0 - timedelta(days=20)
    case = advance(
        world,
        "approved",
        patents=[patent["id"]],
        term_months=36,
        valued_on=valued.isoformat(),
        premium_paid=True,
        premium_paid_on=(d0 - timedelta(days=5)).isoformat(),
        pledged=True,
        pledged_on=(d0 - timedelta(days=5)).isoformat(),
    )
    assert case.loan is not None
    before = snapshot()
    # when the bank disburses a day later, so that the loan would mature a day after the expiry
    late = d0 + timedelta(days=1)
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": late.isoformat()}, format="json"
    )
    # then
    assert refused(r, 409) == {
        "code": "maturity_after_patent_expiry",
        "message": f"The loan would mature on {add_months(late, 36)},"
        f" after patent {patent['application_number']} expires ({expires}).",
    }
    assert snapshot() == before
    # and disbursed on D0 it matures on the expiry day, which the patent office accepts
    assert disburse(world, case.loan, d0.isoformat())["maturity_on"] == expires.isoformat()


@pytest.mark.parametrize(
    ("step", "field", "day", "message"),
    [
        (
            "premium",
            "paid_on",
            "2025-01-31",
            "The premium cannot be paid (2025-01-31) before the valuation date (2025-02-01).",
        ),
        (
            "pledge",
            "registered_on",
            "2025-01-31",
            "The pledge cannot be registered (2025-01-31) before the valuation date (2025-02-01).",
        ),
    ],
)
def test_premium_or_pledge_before_the_valuation_date_is_400(
    world: World, step: str, field: str, day: str, message: str
) -> None:
    # given an approved loan valued on 2025-02-01
    case = advance(world, "approved")
    before = snapshot()
    # when the premium is paid, or the pledge registered, the day before
    if step == "premium":
        r = world.insurer.client.post(
            f"/api/v1/policies/{case.policy_id}/premium-payments/",
            {"amount": "20000.00", "paid_on": day},
            format="json",
        )
    else:
        r = world.bank.client.post(
            f"/api/v1/loans/{case.loan}/pledge/",
            {"registration_number": "Y2025420000077", "registered_on": day},
            format="json",
        )
    # then
    assert refused(r, 400) == {
        "code": "dates_out_of_order",
        "message": message,
        "fields": {field: ["Not before the valuation date 2025-02-01."]},
    }
    assert snapshot() == before


@pytest.mark.parametrize(
    ("premium_on", "pledge_on"), [("2025-02-21", "2025-02-12"), ("2025-02-10", "2025-02-21")]
)
def test_disbursement_before_the_premium_or_the_pledge_is_400(
    world: World, premium_on: str, pledge_on: str
) -> None:
    # given the premium paid and the pledge registered, one of them on 2025-02-21
    case = advance(
        world, "approved", premium_paid=True, premium_paid_on=premium_on, pledged=True, pledged_on=pledge_on
    )
    before = snapshot()
    # when the bank disburses on 2025-02-20
    r = world.bank.client.post(
        f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": "2025-02-20"}, format="json"
    )
    # then
    assert refused(r, 400) == {
        "code": "dates_out_of_order",
        "message": "Disbursement (2025-02-20) cannot precede the premium payment, the pledge registration"
        " or the valuation (latest 2025-02-21).",
        "fields": {"disbursed_on": ["Not before 2025-02-21."]},
    }
    assert snapshot() == before


@pytest.mark.parametrize("step", ["valuation_date", "paid_on", "registered_on", "disbursed_on"])
def test_future_dates_are_400(world: World, step: str) -> None:
    # given an application at the step that takes the date
    tomorrow = (today() + timedelta(days=1)).isoformat()
    stage = {
        "valuation_date": "valuation",
        "paid_on": "bank_review",
        "registered_on": "approved",
        "disbursed_on": "approved",
    }[step]
    case = advance(world, stage, premium_paid=step == "disbursed_on", pledged=step == "disbursed_on")
    before = snapshot()
    # when the step is dated tomorrow
    if step == "valuation_date":
        r = world.appraiser.client.post(
            f"/api/v1/valuations/{case.valuation}/report/",
            report_body(case.patents, valuation_date=tomorrow),
            format="json",
        )
    elif step == "paid_on":
        r = world.insurer.client.post(
            f"/api/v1/policies/{case.policy_id}/premium-payments/",
            {"amount": "20000.00", "paid_on": tomorrow},
            format="json",
        )
    elif step == "registered_on":
        r = world.bank.client.post(
            f"/api/v1/loans/{case.loan}/pledge/",
            {"registration_number": "Y2025420000078", "registered_on": tomorrow},
            format="json",
        )
    else:
        r = world.bank.client.post(
            f"/api/v1/loans/{case.loan}/disburse/", {"disbursed_on": tomorrow}, format="json"
        )
    # then
    assert refused(r, 400) == {
        "code": "future_date",
        "message": f"{step} {tomorrow} is in the future.",
        "fields": {step: [f"A business date may not lie in the future (today is {today()})."]},
    }
    assert snapshot() == before


def test_principal_above_the_insured_amount_is_400(world: World) -> None:
    # given a policy insuring 800,000.00 (below the ceiling 1,216,115.08)
    case = advance(world, "underwriting")
    issue_policy(world, case.application, insured_amount="800000.00")
    before = snapshot()
    # when the bank approves 800,000.01
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/approve/",
        approve_body(principal="800000.01"),
        format="json",
    )
    # then
    assert refused(r, 400) == {
        "code": "amount_over_limit",
        "message": "The principal may not exceed the insured amount 800000.00.",
        "fields": {"principal": ["At most the insured amount 800000.00."]},
    }
    assert snapshot() == before
    # and 800,000.00 is approved
    assert approve(world, case.application, principal="800000.00")["principal"] == "800000.00"


def test_principal_above_the_credit_ceiling_is_400(world: World) -> None:
    # given 2,000,000.00 requested: the policy insures the ceiling 1,216,115.08
    case = advance(world, "bank_review", requested_amount="2000000.00")
    assert case.policy is not None and case.policy["insured_amount"] == "1216115.08"
    before = snapshot()
    # when the bank approves the requested 2,000,000.00
    r = world.bank.client.post(
        f"/api/v1/applications/{case.application}/approve/",
        approve_body(principal="2000000.00"),
        format="json",
    )
    # then
    assert refused(r, 400) == {
        "code": "amount_over_limit",
        "message": "The principal may not exceed the credit ceiling 1216115.08.",
        "fields": {"principal": ["At most the credit ceiling 1216115.08."]},
    }
    assert snapshot() == before


def test_insured_amount_above_the_credit_ceiling_is_400(world: World) -> None:
    # given an application valued with a ceiling of 1,216,115.08
    case = advance(world, "underwriting", requested_amount="2000000.00")
    before = snapshot()
    # when the insurer insures 1,216,115.09
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/policy/",
        {"premium_rate": "0.02", "insured_amount": "1216115.09"},
        format="json",
    )
    # then
    assert refused(r, 400) == {
        "code": "amount_over_limit",
        "message": "The insured amount may not exceed the credit ceiling 1216115.08.",
        "fields": {"insured_amount": ["At most the credit ceiling 1216115.08."]},
    }
    assert snapshot() == before


def test_insured_amount_above_the_requested_amount_is_400(world: World) -> None:
    # given 500,000.00 requested, well below the ceiling 1,216,115.08
    case = advance(world, "underwriting", requested_amount="500000.00")
    before = snapshot()
    # when the insurer insures 500,000.01
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/policy/",
        {"premium_rate": "0.02", "insured_amount": "500000.01"},
        format="json",
    )
    # then
    assert refused(r, 400) == {
        "code": "amount_over_limit",
        "message": "The insured amount may not exceed the requested amount 500000.00.",
        "fields": {"insured_amount": ["At most the requested amount 500000.00."]},
    }
    assert snapshot() == before


@pytest.mark.parametrize("rate", ["0.0049", "0.0301", "0.5"])
def test_premium_rate_outside_the_band_is_400(world: World, rate: str) -> None:
    # given an application in underwriting; the Wuhan band is 0.5 % to 3 % a year
    case = advance(world, "underwriting")
    before = snapshot()
    # when the insurer quotes outside it
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/policy/", {"premium_rate": rate}, format="json"
    )
    # then
    message = "The premium rate must lie within the programme band 0.005 to 0.03 a year."
    assert refused(r, 400) == {"code": "invalid", "message": message, "fields": {"premium_rate": [message]}}
    assert snapshot() == before


@pytest.mark.parametrize(("rate", "premium"), [("0.005", "5000.00"), ("0.03", "30000.00")])
def test_premium_rate_on_the_band_edges_is_accepted(world: World, rate: str, premium: str) -> None:
    # given an application in underwriting (insured 1,000,000.00, 12 months)
    case = advance(world, "underwriting")
    # when the insurer quotes the edge: 1,000,000.00 x 0.005 = 5,000.00; x 0.03 = 30,000.00
    policy = issue_policy(world, case.application, premium_rate=rate)
    # then
    assert (policy["premium_rate"], policy["premium"]) == (rate, premium)


def test_premium_for_a_part_year_term(world: World) -> None:
    # given an application for 7 months (ceiling 1,216,115.08)
    case = advance(world, "underwriting", requested_amount="1000000.00", term_months=7)
    # when the insurer insures 987,654.32
    policy = issue_policy(world, case.application, premium_rate="0.0123", insured_amount="987654.32")
    # then premium = round(987,654.32 x 0.0123 x 7 / 12) = round(12,148.148136 x 7 / 12)
    #            = round(85,037.036952 / 12) = round(7,086.419746) = 7,086.42
    assert (policy["insured_amount"], policy["term_months"], policy["premium"]) == ("987654.32", 7, "7086.42")


def test_grade_d_declines_the_application(world: World) -> None:
    # given an application waiting for its valuation
    case = advance(world, "valuation")
    # when the appraiser reports scores of 50 everywhere: composite 50.00 < 60 -> grade D
    body = world.appraiser.client.post(
        f"/api/v1/valuations/{engagement_id(world, case.application)}/report/",
        report_body(case.patents, indicators=GRADE_D_INDICATORS, enterprise=GRADE_D_ENTERPRISE),
        format="json",
    )
    # then the report is recorded (201) with no pledge rate and a zero ceiling, and the application declined
    assert body.status_code == 201, body.content
    assert {
        k: body.json()[k]
        for k in ("appraised_value", "composite_score", "risk_grade", "pledge_rate", "credit_ceiling")
    } == {
        "appraised_value": "3040287.70",
        "composite_score": "50.00",
        "risk_grade": "D",
        "pledge_rate": None,
        "credit_ceiling": "0.00",
    }
    app = Application.objects.get(pk=case.application)
    assert (app.status, app.risk_grade, app.decline_reason) == (
        "declined",
        "D",
        "Risk grade D is not eligible for a pledge loan.",
    )
    assert list(
        AuditLog.objects.filter(object_id=str(app.pk), object_type="fintech.application")
        .order_by("id")
        .values_list("action", "from_state", "to_state")
    ) == [
        ("application.create", "", "draft"),
        ("application.submit", "draft", "valuation"),
        ("application.decline", "valuation", "declined"),
    ]
    # and the insurer cannot underwrite it
    before = snapshot()
    r = world.insurer.client.post(
        f"/api/v1/applications/{case.application}/policy/", {"premium_rate": "0.02"}, format="json"
    )
    assert refused(r, 409) == {
        "code": "invalid_state",
        "message": "Cannot issue a policy: the record is 'Declined'.",
    }
    assert snapshot() == before


def test_report_for_other_patents_than_the_applications_is_400(world: World) -> None:
    # given an application for one patent and another patent of the SME
    case = advance(world, "valuation")
    other = register_patent(world.sme)
    before = snapshot()
    # when the appraiser reports the other patent
    r = world.appraiser.client.post(
        f"/api/v1/valuations/{case.valuation}/report/", report_body([other["id"]]), format="json"
    )
    # then
    message = f"Report exactly the application's patents: {case.patents}."
    assert refused(r, 400) == {"code": "invalid", "message": message, "fields": {"patents": [message]}}
    assert snapshot() == before


def test_report_number_reused_by_the_firm_is_409(world: World) -> None:
    # given a report HBPG-1 on one application and a second application waiting for its valuation
    first = advance(world, "valuation")
    report(world, first.application, first.patents, report_number="HBPG-1")
    second = advance(world, "valuation")
    before = snapshot()
    # when the firm files HBPG-1 again for the second
    r = world.appraiser.client.post(
        f"/api/v1/valuations/{second.valuation}/report/",
        report_body(second.patents, report_number="HBPG-1"),
        format="json",
    )
    # then
    assert refused(r, 409) == {
        "code": "already_registered",
        "message": "Report number HBPG-1 is already used by your firm.",
        "fields": {"report_number": ["Already used."]},
    }
    assert snapshot() == before
