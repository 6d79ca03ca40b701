"""Loans, policies, valuations and pledges: read-only lists scoped to the organisation."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.fintech.admin.helpers import change_url, changelist_url, listed


def test_loans_are_listed_for_their_bank_sme_side_and_insurer_only(cast, make_application, login):
    # given a disbursed loan of this bank and insurer, and one of the other bank and insurer
    ours = make_application("active").loan
    theirs = make_application("active", bank=cast.other_bank, insurer=cast.other_insurer).loan

    # when / then
    assert listed(login(cast.bank_user).get(changelist_url("loan"))) == [ours.pk]
    assert listed(login(cast.insurer_user).get(changelist_url("loan"))) == [ours.pk]
    assert listed(login(cast.other_bank_user).get(changelist_url("loan"))) == [theirs.pk]
    assert listed(login(cast.other_insurer_user).get(changelist_url("loan"))) == [theirs.pk]


def test_loan_page_shows_the_schedule_read_only(cast, make_application, login):
    # given
    loan = make_application("active").loan
    client = login(cast.bank_user)

    # when
    response = client.get(change_url(loan, "loan"))

    # then the twelve installments are inlined, none editable, and the page cannot be saved
    assert response.status_code == 200
    formset = response.context["inline_admin_formsets"][0].formset
    assert [form.instance.seq for form in formset.forms] == list(range(1, 13))
    assert 'name="_save"' not in response.content.decode()
    assert client.get(change_url(loan, "loan").replace("change", "delete")).status_code == 403


def test_another_banks_loan_cannot_be_opened(cast, make_application, login):
    theirs = make_application("active", bank=cast.other_bank).loan

    response = login(cast.bank_user).get(change_url(theirs, "loan"))

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_policies_are_the_insurers_own(cast, make_application, login):
    ours = make_application("bank_review").policy
    theirs = make_application("bank_review", insurer=cast.other_insurer).policy

    assert listed(login(cast.insurer_user).get(changelist_url("policy"))) == [ours.pk]
    assert listed(login(cast.other_insurer_user).get(changelist_url("policy"))) == [theirs.pk]
    assert login(cast.bank_user).get(changelist_url("policy")).status_code == 403


def test_valuations_are_the_appraisers_own(cast, make_application, login):
    valuation = make_application("underwriting").valuation
    response = login(cast.appraiser_user).get(changelist_url("valuation"))

    assert listed(response) == [valuation.pk]
    page = login(cast.appraiser_user).get(change_url(valuation, "valuation"))
    assert page.status_code == 200
    assert len(page.context["inline_admin_formsets"][0].formset.forms) == 1


def test_pledges_are_the_banks_own(cast, make_application, login):
    ours = make_application("pledged").loan.pledge
    make_application("pledged", bank=cast.other_bank)

    assert listed(login(cast.bank_user).get(changelist_url("pledge"))) == [ours.pk]


@pytest.mark.parametrize("model", ["application", "loan", "policy", "valuation", "pledge"])
def test_nothing_can_be_added_by_hand(cast, superuser, login, model):
    response = login(superuser).get(reverse(f"admin:fintech_{model}_add"))

    assert response.status_code == 403


@pytest.mark.parametrize("model", ["application", "loan", "policy", "valuation", "pledge"])
def test_platform_lists_every_record_within_a_fixed_number_of_queries(
    cast, make_application, login, superuser, model, django_assert_max_num_queries
):
    make_application("active")
    make_application("active", bank=cast.other_bank, insurer=cast.other_insurer)
    client = login(superuser)
    client.get(changelist_url(model))

    with django_assert_max_num_queries(12):
        response = client.get(changelist_url(model))

    assert len(listed(response)) == 2
