"""One display of money, rates, dates and codes in the admin (fintech/admin/display.py), and the
rough edges: a refused admin page is an admin page, "View site" leads to the API explorer, a bank
gets no menu entry for a screen that would always list nothing.

Figures of the cast (conftest.py): requested and principal 300,000.00 at 4.35 % for 12 months,
premium 4,500.00 at 1.5 %."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import translation

from fintech.admin.display import audit_action, money, parameters, rate, state_label, valuation_method
from fintech.models import LossEvent

from .helpers import changelist_url

D = Decimal


@pytest.mark.parametrize(
    ("value", "shown"),
    [(D("1216115.08"), "1,216,115.08"), (D("0.5"), "0.50"), (D("-1234.5"), "-1,234.50"), (None, "—")],
)
def test_money_is_grouped_with_two_places(value, shown):
    assert money(value) == shown


@pytest.mark.parametrize(
    ("value", "shown"),
    [(D("0.04350000"), "4.35 %"), (D("0.04500000"), "4.5 %"), (D("0.25"), "25 %"), (D("1"), "100 %")],
)
def test_rates_are_percentages(value, shown):
    assert rate(value) == shown


def test_codes_have_labels_in_both_languages():
    with translation.override("en"):
        assert str(audit_action("application.policy_issued")) == "policy issued: application to the bank"
        assert str(valuation_method("relief_from_royalty")) == "relief from royalty"
        assert str(state_label("fintech.application", "bank_review")) == "Bank review"
        assert audit_action("something.new_here") == "something: new here"  # unknown: words, not a code
    with translation.override("zh-hans"):
        assert str(audit_action("application.policy_issued")) == "保单已出具，转银行审批"  # noqa: RUF001
        assert str(valuation_method("relief_from_royalty")) == "许可费节省法"
        assert str(state_label("fintech.application", "bank_review")) == "银行审批中"


def test_run_parameters_are_a_labelled_table_not_json():
    with translation.override("en"):
        html = str(
            parameters(
                {
                    "interest_subsidy_rate": "0.25",
                    "premium_subsidy_rate": "0.40",
                    "subsidy_period": "quarter",
                    "benchmark_mode": "daily",
                    "forfeit_after_late": True,
                    "annual_subsidy_cap": "500000.00",
                    "chunk_size": 500,
                },
                hidden=("chunk_size",),
            )
        )
    assert "<tr><th>interest subsidy rate</th><td>25 %</td></tr>" in html
    assert "<tr><th>premium subsidy rate</th><td>40 %</td></tr>" in html
    assert "<tr><th>subsidy period</th><td>quarter</td></tr>" in html
    assert "<tr><th>annual cap per SME</th><td>500,000.00</td></tr>" in html
    assert "chunk" not in html and "{" not in html


def test_a_title_shows_its_money_grouped():
    loss = LossEvent(loan_id=4, loss_amount=D("508830.71"))
    with translation.override("en"):
        assert str(loss) == "loss of loan 4: 508,830.71"


def test_lists_show_money_rates_and_dates_through_the_helpers(cast, make_application, login):
    # given an active loan of 300,000.00 at 4.35 %
    app = make_application("active")
    loan = app.loan

    # when the bank opens its loans
    page = login(cast.bank_user).get(changelist_url("loan")).content.decode()

    # then the principal is grouped, the rate a percentage and the dates ISO
    assert '<td class="field-principal">300,000.00</td>' in page
    assert '<td class="field-annual_rate">4.35 %</td>' in page
    assert f'<td class="field-disbursed_on">{loan.disbursed_on.isoformat()}</td>' in page
    assert "0.04350000" not in page and "300000.00" not in page


def test_the_audit_list_shows_labels_not_codes(cast, make_application, login):
    make_application("premium_paid")
    page = login(cast.insurer_user).get(changelist_url("auditlog")).content.decode()
    assert "policy issued: application to the bank" in page
    assert "Underwriting → Bank review" in page
    assert ">application.policy_issued<" not in page  # the code is only the filter's query value


def test_a_refused_admin_page_is_an_admin_page(cast, login):
    # a bank opens the patents (a bank never sees one): 403 as an admin page, not JSON
    response = login(cast.bank_user).get(changelist_url("patent"))
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    page = response.content.decode()
    assert "Your organisation may not open this page or take this action." in page
    assert 'href="/admin/"' in page


def test_a_missing_admin_page_is_an_admin_page(cast, login):
    response = login(cast.bank_user).get("/admin/fintech/nosuchthing/")
    assert response.status_code == 404
    assert "There is no such page, or it is not yours to see." in response.content.decode()


def test_the_api_still_answers_json(client):
    response = client.get("/api/v1/no-such-endpoint/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_view_site_opens_the_api_explorer(cast, login):
    page = login(cast.bank_user).get("/admin/").content.decode()
    assert 'href="/api/v1/docs/"' in page


def test_a_bank_gets_no_patents_menu(cast, login):
    response = login(cast.bank_user).get("/admin/")
    models = {m["object_name"] for app in response.context["app_list"] for m in app["models"]}
    assert "Patent" not in models
    assert {"Application", "Loan", "Pledge", "LossEvent"} <= models
