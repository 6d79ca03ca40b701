"""The review actions of the detail page call the services with the user as actor: the same
rules, the same audit trail as the API (DOMAIN.md sections 7, 8, 11)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from fintech.errors import AmountOverLimit, DomainError, FutureDate, InvalidTransition, PledgeNotRegistered
from fintech.models import Application, AuditLog, Installment, Loan, Pledge, Policy
from fintech.services.loans import loan_approve, loan_disburse, pledge_register
from tests.fintech.admin.conftest import DISBURSED_DAYS_AGO, PLEDGED_DAYS_AGO, PREMIUM_PAID_DAYS_AGO, days_ago
from tests.fintech.admin.helpers import action_url, change_url, flashed, missing, snapshot

D = Decimal
APPROVAL = {
    "principal": "300000.00",
    "annual_rate": "0.0435",
    "term_months": "12",
    "repayment_method": "interest_monthly_principal_at_maturity",
}


def refusal(call: Callable[[], Any]) -> DomainError:
    """The error the service itself raises for these inputs (its wording is the service's to
    choose; the admin must show exactly that message). The service's transaction rolls back."""
    with pytest.raises(DomainError) as info:
        call()
    return info.value


def test_insurer_issues_the_policy_through_the_admin(cast, make_application, login):
    # given an application in underwriting (ceiling 400,000.00, requested 300,000.00)
    app = make_application("underwriting")
    client = login(cast.insurer_user)
    form = client.get(action_url(app, "issue-policy"))
    assert form.status_code == 200
    assert 'name="premium_rate"' in form.content.decode()

    # when the insurer issues it at 1.5 % a year
    response = client.post(action_url(app, "issue-policy"), {"premium_rate": "0.015", "insured_amount": ""})

    # then the application moves to bank review, and the audit trail names the user
    assert response.status_code == 302
    assert response["Location"] == change_url(app)
    policy = Policy.objects.get(application=app)
    assert (policy.insured_amount, policy.premium_rate, policy.premium) == (
        D("300000.00"),
        D("0.015"),
        D("4500.00"),
    )
    assert Application.objects.get(pk=app.pk).status == "bank_review"
    row = AuditLog.objects.get(
        object_type="fintech.application", object_id=str(app.pk), action="application.policy_issued"
    )
    assert (row.actor, row.actor_organization, row.from_state, row.to_state) == (
        cast.insurer_user,
        cast.insurer,
        "underwriting",
        "bank_review",
    )
    assert AuditLog.objects.get(action="policy.issue", object_id=str(policy.pk)).actor == cast.insurer_user
    assert flashed(response) == [
        (
            "success",
            f"Policy PLI{app.pk:010d} issued: insured amount 300,000.00, premium 4,500.00. "
            "The application is now with the bank.",
        )
    ]


def test_bank_approves_registers_the_pledge_and_disburses_through_the_admin(cast, make_application, login):
    # given a policy issued but unpaid; the insurer records the premium in the admin
    app = make_application("bank_review")
    insurer = login(cast.insurer_user)
    paid = insurer.post(
        action_url(app, "record-premium"),
        {"amount": "4500.00", "paid_on": days_ago(PREMIUM_PAID_DAYS_AGO).isoformat()},
    )
    assert flashed(paid) == [
        (
            "success",
            "Premium payment of 4,500.00 recorded; 4,500.00 of 4,500.00 paid, policy Active (premium paid).",
        )
    ]
    bank = login(cast.bank_user)

    # when the bank approves, registers the pledge and disburses, each on its own form
    # (following each redirect to the detail page, where the message is shown and consumed)
    approved = bank.post(action_url(app, "approve"), APPROVAL, follow=True)
    loan = Loan.objects.get(application=app)
    pledged = bank.post(
        action_url(app, "register-pledge"),
        {
            "registration_number": "Y2025420000123",
            "registered_on": days_ago(PLEDGED_DAYS_AGO).isoformat(),
        },
        follow=True,
    )
    disbursed = bank.post(
        action_url(app, "disburse"), {"disbursed_on": days_ago(DISBURSED_DAYS_AGO).isoformat()}, follow=True
    )

    # then each step succeeded and was recorded under the bank user's name
    assert [r.redirect_chain for r in (approved, pledged, disbursed)] == [[(change_url(app), 302)]] * 3
    loan.refresh_from_db()
    assert flashed(approved) == [
        ("success", f"Loan #{loan.pk} approved: principal 300,000.00 at 4.35 % for 12 months.")
    ]
    assert flashed(pledged) == [
        ("success", f"Pledge Y2025420000123 registered on {days_ago(PLEDGED_DAYS_AGO).isoformat()}.")
    ]
    assert flashed(disbursed) == [
        (
            "success",
            f"Loan #{loan.pk} disbursed on {loan.disbursed_on.isoformat()}; "
            f"it matures on {loan.maturity_on.isoformat()}.",
        )
    ]
    assert Application.objects.get(pk=app.pk).status == "active"
    assert (loan.status, loan.principal, loan.annual_rate, loan.disbursed_on) == (
        "active",
        D("300000.00"),
        D("0.0435"),
        days_ago(DISBURSED_DAYS_AGO),
    )
    assert Pledge.objects.get(loan=loan).registered_on == days_ago(PLEDGED_DAYS_AGO)
    actors = dict(
        AuditLog.objects.filter(action__in=["loan.approve", "pledge.register", "loan.disburse"]).values_list(
            "action", "actor"
        )
    )
    assert actors == {a: cast.bank_user.pk for a in ("loan.approve", "pledge.register", "loan.disburse")}

    # and the detail page shows the whole schedule, row by row
    html = bank.get(change_url(app)).content.decode()
    installments = list(Installment.objects.filter(loan=loan).order_by("seq"))
    assert len(installments) == 12
    for i in installments:
        assert (
            f"<tr><td>{i.seq}</td><td>{i.start_on.isoformat()}</td><td>{i.due_on.isoformat()}</td>"
            f"<td>{i.days}</td><td>{i.principal_due:,.2f}</td><td>{i.interest_due:,.2f}</td>"
            f"<td>0.00</td><td>—</td><td>Due</td></tr>"
        ) in html
    assert installments[-1].principal_due == D("300000.00")
    assert "/review/" not in html  # nothing left to do for the bank


def test_approving_above_the_insured_amount_is_refused_and_changes_nothing(cast, make_application, login):
    # given an application in bank review: insured 300,000.00, ceiling 400,000.00
    app = make_application("premium_paid")
    before = snapshot(app)

    # when the bank asks for more than the ceiling
    response = login(cast.bank_user).post(action_url(app, "approve"), {**APPROVAL, "principal": "400000.01"})

    # then the service's message is shown on the detail page and nothing changed
    error = refusal(
        lambda: loan_approve(
            actor=cast.bank_user,
            application_id=app.pk,
            principal=D("400000.01"),
            annual_rate=D("0.0435"),
            term_months=12,
            repayment_method="interest_monthly_principal_at_maturity",
        )
    )
    assert isinstance(error, AmountOverLimit)
    assert response.status_code == 302
    assert response["Location"] == change_url(app)
    assert flashed(response) == [("error", error.message)]
    assert snapshot(app) == before


def test_an_action_in_the_wrong_status_is_refused_and_changes_nothing(cast, make_application, login):
    # given an application still in underwriting
    app = make_application("underwriting")
    before = snapshot(app)

    # when the bank posts an approval anyway (a stale page)
    response = login(cast.bank_user).post(action_url(app, "approve"), APPROVAL)

    # then
    error = refusal(
        lambda: loan_approve(
            actor=cast.bank_user,
            application_id=app.pk,
            principal=D("300000.00"),
            annual_rate=D("0.0435"),
            term_months=12,
            repayment_method="interest_monthly_principal_at_maturity",
        )
    )
    assert isinstance(error, InvalidTransition)
    assert response.status_code == 302
    assert response["Location"] == change_url(app)
    assert flashed(response) == [("error", error.message)]
    assert snapshot(app) == before


def test_opening_an_action_that_is_not_open_in_this_status_redirects_with_a_warning(
    cast, make_application, login
):
    # given
    app = make_application("underwriting")

    # when the bank opens the approval form early
    response = login(cast.bank_user).get(action_url(app, "approve"))

    # then
    assert response.status_code == 302
    assert response["Location"] == change_url(app)
    assert flashed(response) == [("warning", "“Approve” is not open while the application is Underwriting.")]


def test_disbursing_before_the_pledge_is_registered_is_refused(cast, make_application, login):
    # given an approved loan whose pledge is not registered
    app = make_application("approved")
    before = snapshot(app)

    # when
    response = login(cast.bank_user).post(
        action_url(app, "disburse"), {"disbursed_on": days_ago(DISBURSED_DAYS_AGO).isoformat()}
    )

    # then
    error = refusal(
        lambda: loan_disburse(
            actor=cast.bank_user, loan_id=app.loan.pk, disbursed_on=days_ago(DISBURSED_DAYS_AGO)
        )
    )
    assert isinstance(error, PledgeNotRegistered)
    assert flashed(response) == [("error", error.message)]
    assert snapshot(app) == before


def test_a_future_business_date_is_refused(cast, make_application, login):
    # given
    app = make_application("approved")
    before = snapshot(app)

    # when the pledge is dated tomorrow
    tomorrow = days_ago(-1)
    response = login(cast.bank_user).post(
        action_url(app, "register-pledge"),
        {"registration_number": "Y1", "registered_on": tomorrow.isoformat()},
    )

    # then
    error = refusal(
        lambda: pledge_register(
            actor=cast.bank_user, loan_id=app.loan.pk, registration_number="Y1", registered_on=tomorrow
        )
    )
    assert isinstance(error, FutureDate)
    assert flashed(response) == [("error", error.message)]
    assert snapshot(app) == before


def test_malformed_money_and_rates_are_refused_by_the_form(cast, make_application, login):
    # given
    app = make_application("premium_paid")
    before = snapshot(app)

    # when the bank types an exponent, three decimal places, and a percentage for a fraction
    response = login(cast.bank_user).post(
        action_url(app, "approve"), {**APPROVAL, "principal": "3e5", "annual_rate": "4.35"}
    )
    fen = login(cast.bank_user).post(action_url(app, "approve"), {**APPROVAL, "principal": "300000.001"})

    # then the form is shown again with the field errors, and the service was not called
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "principal": [
            "Enter a non-negative amount in plain notation with at most 2 decimal places, e.g. 1000000.00."
        ],
        "annual_rate": ["Enter the rate as a fraction below 1 (0.015 for 1.5 percent)."],
    }
    assert list(fen.context["form"].errors) == ["principal"]
    assert snapshot(app) == before


def test_insurer_declines_with_a_reason(cast, make_application, login):
    # given
    app = make_application("underwriting")
    client = login(cast.insurer_user)

    # when the reason is left out, then given
    empty = client.post(action_url(app, "decline"), {"reason": ""})
    response = client.post(
        action_url(app, "decline"), {"reason": "The SME's cash flow does not cover interest."}
    )

    # then the first is refused by the form, the second declines and is audited with the reason
    assert empty.status_code == 200
    assert empty.context["form"].errors == {"reason": ["This field is required."]}
    assert flashed(response) == [("success", f"Application #{app.pk} declined.")]
    fresh = Application.objects.get(pk=app.pk)
    assert (fresh.status, fresh.decline_reason) == (
        "declined",
        "The SME's cash flow does not cover interest.",
    )
    row = AuditLog.objects.get(action="application.decline", object_id=str(app.pk))
    assert (row.actor, row.reason) == (cast.insurer_user, "The SME's cash flow does not cover interest.")


def test_bank_decline_cancels_the_issued_policy(cast, make_application, login):
    # given an application in bank review with its policy issued
    app = make_application("bank_review")

    # when the bank declines
    response = login(cast.bank_user).post(
        action_url(app, "decline"), {"reason": "Outside our sector limits."}
    )

    # then
    assert flashed(response) == [("success", f"Application #{app.pk} declined.")]
    assert Application.objects.get(pk=app.pk).status == "declined"
    assert Policy.objects.get(application=app).status == "cancelled"


def test_another_roles_action_is_forbidden(cast, make_application, login):
    # given an application in bank review, visible to its insurer
    app = make_application("premium_paid")
    before = snapshot(app)

    # when the insurer posts the bank's approval
    response = login(cast.insurer_user).post(action_url(app, "approve"), APPROVAL)

    # then
    assert response.status_code == 403
    assert snapshot(app) == before


def test_another_banks_application_cannot_be_acted_on(cast, make_application, login):
    # given an application naming another bank
    app = make_application("premium_paid", bank=cast.other_bank)
    before = snapshot(app)

    # when this bank posts an approval to its URL
    response = login(cast.bank_user).post(action_url(app, "approve"), APPROVAL)

    # then the admin answers as for a missing object, and nothing changed
    assert response.status_code == 302
    assert flashed(response) == [("warning", missing(app.pk))]
    assert snapshot(app) == before


def test_an_unknown_action_is_not_found(cast, make_application, login):
    app = make_application("underwriting")

    response = login(cast.insurer_user).get(action_url(app, "waive-premium"))

    assert response.status_code == 404


def test_actions_need_the_csrf_token(cast, make_application, login):
    # given a session whose requests are checked for the CSRF token like a browser's
    app = make_application("underwriting")
    before = snapshot(app)
    client = login(cast.insurer_user, enforce_csrf_checks=True)

    # when a POST arrives without the token
    response = client.post(action_url(app, "issue-policy"), {"premium_rate": "0.015"})

    # then
    assert response.status_code == 403
    assert snapshot(app) == before

    # and with the token from the form page it goes through
    token = client.get(action_url(app, "issue-policy")).cookies["csrftoken"].value
    ok = client.post(action_url(app, "issue-policy"), {"premium_rate": "0.015", "csrfmiddlewaretoken": token})
    assert ok.status_code == 302
    assert Application.objects.get(pk=app.pk).status == "bank_review"


def test_actions_accept_only_get_and_post(cast, make_application, login):
    app = make_application("underwriting")

    response = login(cast.insurer_user).put(action_url(app, "issue-policy"))

    assert response.status_code == 405
