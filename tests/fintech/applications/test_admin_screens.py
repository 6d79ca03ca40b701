"""The application work queue and detail page: who sees what (DOMAIN.md section 11)."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fintech.models import OrganizationKind, Region
from tests.factories import OrganizationFactory, UserFactory
from tests.fintech.admin.helpers import action_url, change_url, changelist_url, flashed, listed, missing


def test_bank_queue_lists_only_its_own_applications_in_bank_review(cast, make_application, login):
    # given applications of this bank in bank review and approved, one still underwriting, one of
    # another bank in bank review, and a draft naming this bank
    mine = make_application("bank_review")
    approved = make_application("approved")
    underwriting = make_application("underwriting")
    make_application("bank_review", bank=cast.other_bank)
    make_application("draft")

    # when the bank's staff open the applications list (the default queue)
    response = login(cast.bank_user).get(changelist_url())

    # then only its work awaiting review is listed, newest first
    assert response.status_code == 200
    assert listed(response) == [approved.pk, mine.pk]

    # and "all" shows its whole book, still without the other bank's application or the draft
    everything = login(cast.bank_user).get(changelist_url(), {"queue": "all"})
    assert listed(everything) == [underwriting.pk, approved.pk, mine.pk]


def test_insurer_queue_lists_only_its_own_applications_in_underwriting(cast, make_application, login):
    # given applications of this insurer in underwriting and bank review, and one of another
    # insurer in underwriting
    mine = make_application("underwriting")
    make_application("bank_review")
    make_application("underwriting", insurer=cast.other_insurer)

    # when
    response = login(cast.insurer_user).get(changelist_url())

    # then
    assert response.status_code == 200
    assert listed(response) == [mine.pk]


def test_choosing_a_status_replaces_the_default_queue(cast, make_application, login):
    # given one application of the bank in bank review and one declined by the insurer
    make_application("bank_review")
    declined = make_application("underwriting")
    login(cast.insurer_user).post(action_url(declined, "decline"), {"reason": "Weak collateral."})

    # when the bank filters by status "declined"
    response = login(cast.bank_user).get(changelist_url(), {"status__exact": "declined"})

    # then the declined application is listed although it is not in the bank's queue
    assert listed(response) == [declined.pk]


def test_queue_is_searchable_by_sme_name_and_uscc(cast, make_application, login):
    # given
    app = make_application("bank_review")
    client = login(cast.bank_user)

    # when / then
    assert listed(client.get(changelist_url(), {"q": "Photonics"})) == [app.pk]
    assert listed(client.get(changelist_url(), {"q": cast.sme.uscc})) == [app.pk]
    assert listed(client.get(changelist_url(), {"q": "no such company"})) == []


def test_bank_cannot_open_another_banks_application(cast, make_application, login):
    # given an application naming another bank
    theirs = make_application("bank_review", bank=cast.other_bank)

    # when this bank's staff open its detail page
    response = login(cast.bank_user).get(change_url(theirs))

    # then the admin answers as for a missing object: back to the index, with its warning
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")
    assert flashed(response) == [("warning", missing(theirs.pk))]


def test_drafts_are_hidden_from_the_parties_named_on_them(cast, make_application, login):
    # given a draft naming the bank
    draft = make_application("draft")

    # when the bank opens it directly
    response = login(cast.bank_user).get(change_url(draft))

    # then
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_platform_superuser_sees_every_application(cast, make_application, login, superuser):
    # given applications of every bank and insurer, in every stage, drafts included
    apps = [
        make_application("draft"),
        make_application("underwriting", insurer=cast.other_insurer),
        make_application("bank_review", bank=cast.other_bank),
        make_application("active"),
    ]

    # when
    response = login(superuser).get(changelist_url())

    # then: no queue of its own, everything listed
    assert listed(response) == sorted((a.pk for a in apps), reverse=True)
    assert "work queue" not in response.content.decode()


def test_platform_member_without_superuser_flag_sees_every_application(cast, make_application, login):
    # given a platform organisation's staff member and applications of two banks
    member = UserFactory(organization=OrganizationFactory(kind=OrganizationKind.PLATFORM), is_staff=True)
    apps = [make_application("bank_review"), make_application("bank_review", bank=cast.other_bank)]

    # when
    response = login(member).get(changelist_url())

    # then
    assert listed(response) == sorted((a.pk for a in apps), reverse=True)


def test_regulator_sees_submitted_applications_of_its_region_only(cast, make_application, login):
    # given a Wuhan regulator, a Huangshi regulator, a submitted application and a draft of a
    # Wuhan SME
    wuhan_regulator = UserFactory(
        organization=OrganizationFactory(kind=OrganizationKind.REGULATOR), is_staff=True
    )
    huangshi_regulator = UserFactory(
        organization=OrganizationFactory(
            kind=OrganizationKind.REGULATOR, region=Region.objects.get(code="420200")
        ),
        is_staff=True,
    )
    submitted = make_application("underwriting")
    make_application("draft")

    # when / then
    assert listed(login(wuhan_regulator).get(changelist_url())) == [submitted.pk]
    assert listed(login(huangshi_regulator).get(changelist_url())) == []


def test_detail_page_shows_sme_patents_valuation_policy_and_audit_trail(cast, make_application, login):
    # given an application whose policy is issued and premium paid
    app = make_application("premium_paid")
    patent = app.patents.get()

    # when the bank opens it
    response = login(cast.bank_user).get(change_url(app))

    # then
    assert response.status_code == 200
    html = response.content.decode()
    assert f"<tr><th>unified social credit code</th><td>{cast.sme.uscc}</td></tr>" in html
    assert "<tr><th>size class</th><td>Small</td></tr>" in html
    assert (
        f"<tr><td>{patent.application_number}</td><td>{patent.title}</td><td>Invention</td>"
        f"<td>2020-04-01</td><td>2040-03-31</td><td>In force</td></tr>"
    ) in html
    valuation = app.valuation
    assert f"<tr><th>report number</th><td>{valuation.report_number}</td></tr>" in html
    assert f"<tr><th>valuation date</th><td>{valuation.valuation_date.isoformat()}</td></tr>" in html
    assert f"<tr><th>valid until</th><td>{valuation.valid_until.isoformat()}</td></tr>" in html
    assert "<tr><th>appraised value</th><td>1,000,000.00</td></tr>" in html
    assert "<tr><th>risk grade</th><td>B</td></tr>" in html
    assert "<tr><th>pledge rate</th><td>40 %</td></tr>" in html
    assert "<tr><th>credit ceiling</th><td>400,000.00</td></tr>" in html
    assert f"<tr><td>{patent.application_number}</td><td>market</td><td>1,000,000.00</td>" in html
    assert f"<tr><th>policy number</th><td>PLI{app.pk:010d}</td></tr>" in html
    assert "<tr><th>insured amount</th><td>300,000.00</td></tr>" in html
    assert "<tr><th>annual premium rate</th><td>1.5 %</td></tr>" in html
    assert "<tr><th>premium</th><td>4,500.00</td></tr>" in html
    assert "<tr><th>premium paid</th><td>4,500.00</td></tr>" in html
    assert "<tr><th>status</th><td>Active (premium paid)</td></tr>" in html
    assert "No loan has been approved." in html
    for action in (
        "application.create",
        "application.submit",
        "valuation.report",
        "policy.issue",
        "application.policy_issued",
        "policy.premium_paid",
    ):
        assert f"<td>{action}</td>" in html
    assert f"<td>underwriting</td><td>bank_review</td><td>{cast.insurer_user.username}</td>" in html


def test_detail_page_is_read_only(cast, make_application, login):
    # given
    app = make_application("bank_review")
    client = login(cast.bank_user)

    # when the bank posts an edit to the change form, or asks for the add and delete pages
    before = app.requested_amount
    edit = client.post(change_url(app), {"requested_amount": "1.00"})
    add = client.get(reverse("admin:fintech_application_add"))
    delete = client.get(reverse("admin:fintech_application_delete", args=[app.pk]))

    # then nothing is editable
    assert edit.status_code == 403
    assert add.status_code == 403
    assert delete.status_code == 403
    app.refresh_from_db()
    assert app.requested_amount == before == Decimal("300000.00")
    assert 'name="_save"' not in client.get(change_url(app)).content.decode()


def test_buttons_are_those_of_the_viewers_role_in_the_current_status(cast, make_application, login):
    # given an application in underwriting
    app = make_application("underwriting")

    # when the insurer and the bank open it
    as_insurer = login(cast.insurer_user).get(change_url(app)).content.decode()
    as_bank = login(cast.bank_user).get(change_url(app)).content.decode()

    # then the insurer may issue or decline; the bank has nothing to do yet
    assert action_url(app, "issue-policy") in as_insurer
    assert action_url(app, "decline") in as_insurer
    assert action_url(app, "record-premium") not in as_insurer
    assert action_url(app, "approve") not in as_insurer
    assert "/review/" not in as_bank


def test_bank_buttons_follow_the_loan_through_its_steps(cast, make_application, login):
    # given applications in bank review, approved, and approved with the pledge registered
    in_review = make_application("bank_review")
    approved = make_application("approved")
    pledged = make_application("pledged")
    client = login(cast.bank_user)

    # when / then
    page = client.get(change_url(in_review)).content.decode()
    assert [
        action_url(in_review, a) in page for a in ("approve", "decline", "register-pledge", "disburse")
    ] == [True, True, False, False]
    page = client.get(change_url(approved)).content.decode()
    assert [
        action_url(approved, a) in page for a in ("approve", "decline", "register-pledge", "disburse")
    ] == [False, False, True, True]
    page = client.get(change_url(pledged)).content.decode()
    assert [
        action_url(pledged, a) in page for a in ("approve", "decline", "register-pledge", "disburse")
    ] == [False, False, False, True]


def test_list_query_count_does_not_grow_with_the_page(cast, make_application, login):
    # given one application, then four more
    client = login(cast.bank_user)
    make_application("bank_review")
    client.get(changelist_url())  # warm the session and content types
    with CaptureQueriesContext(connection) as one:
        assert len(listed(client.get(changelist_url()))) == 1
    for _ in range(4):
        make_application("bank_review")

    # when
    with CaptureQueriesContext(connection) as five:
        assert len(listed(client.get(changelist_url()))) == 5

    # then
    assert len(five.captured_queries) == len(one.captured_queries)


def test_member_staff_see_the_review_screens_on_the_admin_index(cast, login):
    # when
    response = login(cast.bank_user).get(reverse("admin:index"))

    # then: viewing rests on the organisation's role, not on Django permission rows
    html = response.content.decode()
    assert response.status_code == 200
    assert changelist_url() in html
    assert changelist_url("loan") in html
    assert changelist_url("pledge") in html
    assert changelist_url("policy") not in html  # the insurer's book
