"""The review desks (fintech.selectors.desks and the application screens): what each application
waits for and on whom, the counts per step of each organisation's queue, only the buttons that can
succeed, and the page's remaining patent term, the SME's other loans with the bank and the decline
reason.

The cast's applications (conftest.py): bank review with the premium unpaid, bank review with it
paid ("premium_paid"), approved (premium paid, no pledge), pledged, active, and the same with the
premium unpaid where the rule book allows it (the bank may approve once the policy is issued; it
disburses only when the premium is paid and the pledge registered)."""

from __future__ import annotations

from datetime import date

import pytest
from django.utils import translation

from fintech.admin.display import local_name, term_left
from fintech.models import Application
from fintech.selectors import desks

from .helpers import action_url, change_url, changelist_url, flashed, listed, snapshot

BANK_ACTIONS = ("approve", "decline", "register-pledge", "disburse")
INSURER_ACTIONS = ("issue-policy", "record-premium", "decline")


def offered(page: str, app: Application, actions: tuple[str, ...]) -> list[str]:
    return [a for a in actions if action_url(app, a) in page]


@pytest.fixture
def book(make_application):
    """One application at each point of the flow, named by where it stands."""
    return {
        "draft": make_application("draft"),
        "valuation": make_application("valuation"),
        "underwriting": make_application("underwriting"),
        "review_unpaid": make_application("bank_review"),
        "review_paid": make_application("premium_paid"),
        "approved_unpaid": make_application("approved", premium_paid=False),
        "approved": make_application("approved"),
        "pledged_unpaid": make_application("pledged", premium_paid=False),
        "pledged": make_application("pledged"),
        "active": make_application("active"),
    }


# the open steps of each application, worked out from the table in fintech/selectors/desks.py
EXPECTED_STEPS = {
    "draft": ["submission"],
    "valuation": ["valuation"],
    "underwriting": ["policy"],
    "review_unpaid": ["premium", "approval"],
    "review_paid": ["approval"],
    "approved_unpaid": ["premium", "pledge"],
    "approved": ["pledge"],
    "pledged_unpaid": ["premium"],
    "pledged": ["disbursement"],
    "active": [],
}


def test_each_application_waits_for_its_open_steps(book):
    fresh = {
        name: Application.objects.select_related("policy", "loan__pledge").get(pk=app.pk)
        for name, app in book.items()
    }
    assert {name: [s.key for s in desks.open_steps(app)] for name, app in fresh.items()} == EXPECTED_STEPS


def test_the_filter_of_each_step_finds_the_applications_where_it_is_open(book):
    # the SQL side of the rule equals the Python side on every application of the book
    for step in desks.STEPS:
        found = set(Application.objects.filter(desks.step_filter(step.key)).values_list("pk", flat=True))
        expected = {book[name].pk for name, steps in EXPECTED_STEPS.items() if step.key in steps}
        assert found == expected, step.key


def test_the_bank_desk_counts_its_steps(cast, book, login):
    # given the book: approval is open on review_unpaid and review_paid (2), the pledge on
    # approved_unpaid and approved (2), the disbursement on pledged (1)
    client = login(cast.bank_user)

    # when the bank opens its queue (the default)
    response = client.get(changelist_url())

    # then the filter shows the counts of its steps, and the queue lists the 5 applications
    page = response.content.decode()
    assert "Waiting on my organisation (5)" in page
    assert "Approve or decline (2)" in page
    assert "Register the pledge (2)" in page
    assert "Disburse the loan (1)" in page
    names = ("pledged", "approved", "approved_unpaid", "review_paid", "review_unpaid")  # newest first
    assert listed(response) == [book[name].pk for name in names]

    # and one step alone
    only = client.get(changelist_url(), {"queue": "disbursement"})
    assert listed(only) == [book["pledged"].pk]


def test_the_insurer_desk_holds_the_premiums_to_record(cast, book, login):
    # given the book: the policy is open on underwriting (1), the premium on review_unpaid,
    # approved_unpaid and pledged_unpaid (3)
    response = login(cast.insurer_user).get(changelist_url())
    page = response.content.decode()
    assert "Waiting on my organisation (4)" in page
    assert "Issue the policy (1)" in page
    assert "Record the premium payment (3)" in page
    names = ("pledged_unpaid", "approved_unpaid", "review_unpaid", "underwriting")
    assert listed(response) == [book[name].pk for name in names]


def test_the_bank_sees_waiting_for_premium_and_no_disburse_button(cast, book, login):
    # given an approved application with its pledge registered and the premium unpaid
    app = book["pledged_unpaid"]

    # when the bank opens it
    page = login(cast.bank_user).get(change_url(app)).content.decode()

    # then it waits for the insurer's premium, and the bank is offered no button
    assert "waiting for premium (insurer)" in page
    assert offered(page, app, BANK_ACTIONS) == []

    # and the disburse form, opened anyway, says it is not open and changes nothing
    before = snapshot(app)
    response = login(cast.bank_user).get(action_url(app, "disburse"))
    assert response.status_code == 302
    assert flashed(response) == [("warning", "“Disburse” is not open while the application is Approved.")]
    assert snapshot(app) == before

    # while the insurer is offered "Record premium payment" only
    insurer_page = login(cast.insurer_user).get(change_url(app)).content.decode()
    assert offered(insurer_page, app, INSURER_ACTIONS) == ["record-premium"]
    assert "<strong>Record the premium payment</strong>" in insurer_page


@pytest.mark.parametrize(
    ("name", "bank_buttons"),
    [
        ("review_unpaid", ["approve", "decline"]),  # the rule book lets the bank approve before the premium
        ("review_paid", ["approve", "decline"]),
        ("approved_unpaid", ["register-pledge"]),
        ("approved", ["register-pledge"]),
        ("pledged_unpaid", []),
        ("pledged", ["disburse"]),
        ("active", []),
    ],
)
def test_the_bank_is_offered_only_the_steps_open_now(cast, book, login, name, bank_buttons):
    app = book[name]
    page = login(cast.bank_user).get(change_url(app)).content.decode()
    assert offered(page, app, BANK_ACTIONS) == bank_buttons


def test_the_bank_list_fits_a_laptop(cast, book, login):
    # the bank's columns: no terms, ceiling or own name (they are on the page); the insurer shown
    response = login(cast.bank_user).get(changelist_url())
    headers = [str(h["text"]) for h in _headers(response)]
    assert headers == ["ID", "SME", "requested amount", "status", "next step", "insurer", "submitted on"]
    # names in the user's language and money grouped
    page = response.content.decode()
    assert "Optics Valley Photonics</a>" in page
    assert "300,000.00" in page


def _headers(response):
    from django.contrib.admin.templatetags.admin_list import result_headers

    return list(result_headers(response.context["cl"]))


def test_the_page_shows_the_other_loans_of_the_sme_with_this_bank(cast, book, login):
    # given the book: the SME has loans with the bank from approved_unpaid, approved,
    # pledged_unpaid, pledged and active
    app = book["review_paid"]

    # when the bank opens the application in review
    page = login(cast.bank_user).get(change_url(app)).content.decode()

    # then the panel lists the SME's five loans with this bank, newest first
    section = page.split("The SME&#x27;s other loans with this bank")[1].split("</fieldset>")[0]
    loans = [
        book[name].loan.pk for name in ("active", "pledged", "pledged_unpaid", "approved", "approved_unpaid")
    ]
    assert [f'fintech/loan/{pk}/change/">#{pk}</a>' in section for pk in loans] == [True] * 5
    assert section.index(f">#{loans[0]}<") < section.index(f">#{loans[-1]}<")
    assert "300,000.00" in section and "4.35 %" in section


def test_another_banks_officer_sees_none_of_these_loans(cast, make_application, book, login):
    # given an application of the same SME with the other bank
    theirs = make_application("premium_paid", bank=cast.other_bank)
    page = login(cast.other_bank_user).get(change_url(theirs)).content.decode()
    assert "No other loan with this bank." in page


def test_a_decline_needs_a_reason(cast, book, login):
    app = book["review_paid"]
    before = snapshot(app)
    response = login(cast.bank_user).post(action_url(app, "decline"), {"reason": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("until", "today", "shown"),
    [
        (date(2040, 3, 31), date(2026, 12, 7), "13 years 3 months"),  # 159 whole months
        (date(2027, 1, 6), date(2026, 12, 7), "0 years 0 months"),  # 30 days: no whole month
        (date(2027, 1, 7), date(2026, 12, 7), "0 years 1 months"),
        (date(2026, 12, 7), date(2026, 12, 7), "expired"),
    ],
)
def test_the_remaining_term_counts_whole_months(until, today, shown):
    with translation.override("en"):
        assert str(term_left(until, today)) == shown


def test_a_bilingual_name_is_shown_in_the_users_language():
    name = "Hankou Bank Optics Valley Branch 汉口银行光谷支行"
    with translation.override("en"):
        assert local_name(name) == "Hankou Bank Optics Valley Branch"
    with translation.override("zh-hans"):
        assert local_name(name) == "汉口银行光谷支行"
        assert local_name("Acme Ltd") == "Acme Ltd"
