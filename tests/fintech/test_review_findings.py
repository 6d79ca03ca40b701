"""Defects found in review, each pinned by a test: a reversal after a subsidy, premium and
repayment date order, oversized valuations, out-of-range ids, multipart reports, appraiser scope."""

from datetime import date
from decimal import Decimal

import pytest

from fintech.errors import DatesOutOfOrder
from fintech.models import Installment, Repayment, RepaymentReversal
from fintech.services.policies import premium_payment_record
from fintech.services.repayments import repayment_record, repayment_reverse
from fintech.services.subsidies import subsidy_run_start
from tests.builders import active_loan, cast, loan_at
from tests.factories import wuhan_program
from tests.fintech.subsidies.helpers import regulator, regulator_org

D = Decimal
pytestmark = pytest.mark.django_db


def test_a_reversal_after_a_computed_subsidy_cancels_it_with_the_reason(
    django_capture_on_commit_callbacks,
):
    # given installment 1 (due 2025-03-20) paid on time and a 2025Q1 run that computed its subsidy
    # (once refused with a 409; DOMAIN.md 8a now says how a reversal treats the subsidy)
    loan, people = active_loan()
    first = Installment.objects.get(loan=loan, seq=1)
    repayment = repayment_record(
        actor=people.bank,
        loan_id=loan.pk,
        amount=first.principal_due + first.interest_due,
        paid_on=date(2025, 3, 20),
    )
    with django_capture_on_commit_callbacks(execute=True):
        subsidy_run_start(actor=regulator(regulator_org()), program_id=wuhan_program().pk, period="2025Q1")
    assert first.subsidies.count() == 1
    # when the bank takes the repayment back
    repayment_reverse(
        actor=people.bank,
        repayment_id=repayment.pk,
        reversed_on=date(2025, 3, 25),
        reason="wrong account",
    )
    # then the installment is unpaid again and its entitlement cancelled with the reason
    first.refresh_from_db()
    assert (first.status, first.paid_on) == ("overdue", None)
    entitlement = first.subsidies.get()
    assert entitlement.status == "cancelled" and "wrong account" in entitlement.cancel_reason
    assert entitlement.run.interest_total == D("0.00")
    assert RepaymentReversal.objects.count() == 1


def test_premium_paid_on_is_the_latest_payment_whatever_the_reporting_order():
    # given an approved loan whose 20,000.00 premium is paid in two halves, reported out of order:
    # the payment of 2025-03-10 first, then the one of 2025-02-05
    loan, people = loan_at("approved")
    premium_payment_record(
        actor=people.insurer, policy_id=loan.policy.pk, amount=D("10000.00"), paid_on=date(2025, 3, 10)
    )
    premium_payment_record(
        actor=people.insurer, policy_id=loan.policy.pk, amount=D("10000.00"), paid_on=date(2025, 2, 5)
    )
    # then the premium counts as paid on 2025-03-10, when its last part arrived, so a disbursement
    # on 2025-03-01 would precede it
    loan.policy.refresh_from_db()
    assert (loan.policy.status, loan.policy.premium_paid_on) == ("active", date(2025, 3, 10))


def test_an_appraised_value_beyond_the_money_columns_is_a_400_and_writes_nothing():
    from fintech.errors import InvalidInput
    from fintech.services.applications import application_create, application_submit
    from fintech.services.valuations import PatentReport, valuation_report
    from tests.factories import PatentFactory
    from valuation import public as val

    c = cast()
    patent = PatentFactory(owner=c.sme.organization)
    app = application_create(
        user=c.sme,
        program_id=wuhan_program().pk,
        patent_ids=[patent.pk],
        requested_amount=D("1000000.00"),
        term_months=12,
        repayment_method="equal_principal",
        bank_id=c.bank.organization_id,
        insurer_id=c.insurer.organization_id,
        appraiser_id=c.appraiser.organization_id,
    )
    application_submit(actor=c.sme, application_id=app.pk)
    huge = tuple([D("1000000000000000.00")] * 18)
    with pytest.raises(InvalidInput):
        valuation_report(
            actor=c.appraiser,
            valuation_id=app.valuation.pk,
            report_number="BIG",
            valuation_date=date(2025, 2, 1),
            patents=[
                PatentReport(
                    patent=patent.pk,
                    method=val.RELIEF_FROM_ROYALTY,
                    inputs=val.RoyaltyInputs(
                        revenue_forecast=huge, royalty_rate=D("0.99"), tax_rate=D("0"), discount_rate=D("0")
                    ),
                    indicators=val.PatentIndicators(legal=D(80), technical=D(75), economic=D(78)),
                )
            ],
            operating=D(70),
            economic_benefit=D(72),
        )
    app.refresh_from_db()
    app.valuation.refresh_from_db()
    assert (app.status, app.valuation.status, app.appraised_value) == ("valuation", "pending", None)


def test_a_repayment_may_not_precede_the_last_one():
    # given installment 1 paid on 2025-03-20
    loan, people = active_loan()
    repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("86833.33"), paid_on=date(2025, 3, 20))
    # when the bank reports another repayment dated 2025-03-01
    with pytest.raises(DatesOutOfOrder):
        repayment_record(actor=people.bank, loan_id=loan.pk, amount=D("100.00"), paid_on=date(2025, 3, 1))
    # then only the first stands
    assert Repayment.objects.filter(loan=loan).count() == 1


def test_out_of_range_ids_are_a_400_not_a_500(client_for):
    _loan, people = active_loan()
    api = client_for(people.sme)
    r = api.post(
        "/api/v1/applications/",
        {
            "program": 1,
            "patents": [100000000000000000000],
            "requested_amount": "1000.00",
            "term_months": 12,
            "repayment_method": "equal_principal",
            "bank": 1,
            "insurer": 1,
            "appraiser": 1,
        },
        format="json",
    )
    assert r.status_code == 400
    assert list(r.json()["fields"]) == ["patents.0"]
    assert (
        client_for(people.sme).get("/api/v1/subsidies/?enterprise=100000000000000000000").status_code == 400
    )


def test_the_valuation_report_is_json_only(client_for):
    loan, people = active_loan()
    r = client_for(people.appraiser).post(
        f"/api/v1/valuations/{loan.application.valuation.pk}/report/",
        {"report_number": "X", "valuation_date": "2025-02-01", "patents[0]patent": "1"},
        format="multipart",
    )
    assert (r.status_code, r.json()["code"]) == (415, "unsupported_media_type")


def test_an_appraiser_sees_valuations_not_loans(client_for):
    loan, people = active_loan()
    api = client_for(people.appraiser)
    assert api.get(f"/api/v1/loans/{loan.pk}/").status_code == 404
    assert api.get(f"/api/v1/loans/{loan.pk}/schedule/").status_code == 403
    assert api.get("/api/v1/loans/").json()["count"] == 0
    application = api.get(f"/api/v1/applications/{loan.application_id}/").json()
    assert (application["status"], application["loan"], application["policy"]) == ("active", None, None)
    assert application["valuation"] == loan.application.valuation.pk


# --- the admin review ---------------------------------------------------------------------------


def _browser(user):
    from django.test import Client

    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    return client


def test_the_appraiser_sees_no_policy_loan_or_audit_panel_in_the_admin():
    loan, people = active_loan()
    people.appraiser.is_staff = True
    people.appraiser.save()
    page = _browser(people.appraiser).get(f"/admin/fintech/application/{loan.application_id}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Valuation report" in html
    for hidden in ("Insurance policy", "Loan and repayment schedule", "Audit trail"):
        assert hidden not in html
    bank_page = _browser(people.bank).get(f"/admin/fintech/application/{loan.application_id}/change/")
    assert "Loan and repayment schedule" in bank_page.content.decode()


def test_a_platform_member_who_is_not_superuser_cannot_grant_superuser_and_user_changes_are_audited():
    from fintech.models import AuditLog, User
    from tests.factories import OrganizationFactory, UserFactory

    member = UserFactory(organization=OrganizationFactory(kind="platform"), is_staff=True)
    target = UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True)
    page = _browser(member).get(f"/admin/fintech/user/{target.pk}/change/")
    assert page.status_code == 200
    assert 'name="is_superuser"' not in page.content.decode()
    form = {
        "username": target.username,
        "is_active": "on",
        "is_staff": "on",
        "is_superuser": "on",
        "organization": str(target.organization_id),
        "last_login_0": "",
        "last_login_1": "",
        "date_joined_0": "2025-01-01",
        "date_joined_1": "00:00:00",
        "first_name": "Li",
        "last_name": "",
        "email": "",
    }
    response = _browser(member).post(f"/admin/fintech/user/{target.pk}/change/", form)
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.is_superuser, target.first_name) == (False, "Li")
    audit = AuditLog.objects.get(action="user.change", object_id=str(target.pk))
    assert audit.actor == member
    assert audit.payload["first_name"] == "Li"
    assert "is_superuser" not in audit.payload
    assert User.objects.filter(is_superuser=True).count() == 0


def test_an_inactive_organisation_locks_out_its_staff(client_for):
    _loan, people = active_loan()
    bank = people.bank.organization
    bank.is_active = False
    bank.save()
    response = client_for(people.bank).get("/api/v1/loans/")
    assert (response.status_code, response.json()["code"]) == (403, "permission_denied")
    assert _browser(people.bank).get("/admin/fintech/loan/").status_code == 403
    # every admin screen shares the check: the repayment-file upload and the subsidy runs too
    assert _browser(people.bank).get("/admin/fintech/repaymentfile/add/").status_code == 403
    regulator_user = regulator(regulator_org(), is_staff=True)
    assert _browser(regulator_user).get("/admin/fintech/subsidyrun/").status_code == 200
    regulator_user.organization.is_active = False
    regulator_user.organization.save()
    assert _browser(regulator_user).get("/admin/fintech/subsidyrun/").status_code == 403


def test_an_organisation_keeps_its_kind_and_region():
    from tests.factories import OrganizationFactory, UserFactory

    platform = UserFactory(
        organization=OrganizationFactory(kind="platform"), is_staff=True, is_superuser=True
    )
    bank = OrganizationFactory(kind="bank")
    page = _browser(platform).get(f"/admin/fintech/organization/{bank.pk}/change/").content.decode()
    assert 'name="kind"' not in page
    assert 'name="region"' not in page


def test_an_expired_patent_cannot_be_reinstated():
    from fintech.errors import InvalidInput
    from fintech.services.patents import patent_status_set
    from tests.factories import PatentFactory

    patent = PatentFactory(
        patent_type="utility_model",
        filing_date=date(2009, 1, 1),
        grant_date=date(2010, 1, 1),
        status="expired",
    )
    with pytest.raises(InvalidInput):
        patent_status_set(actor=None, patent=patent, status="in_force", reason="appeal")
    patent.refresh_from_db()
    assert patent.status == "expired"
