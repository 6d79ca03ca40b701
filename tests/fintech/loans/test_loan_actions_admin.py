"""The bank's loan page offers the payoff quote, the prepayments and the extension; the insurer's
desk lists the extensions waiting for its endorsement. Each button calls the same service as the
API (figures: test_settlement.py and test_extension.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from fintech.models import Loan, LoanExtension, Prepayment
from tests.builders import active_loan
from tests.fintech.repayments.conftest import _fast_hasher, book  # noqa: F401  (fixtures)
from tests.fintech.subsidies.helpers import pay

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _admin_settings(settings: Any) -> None:
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def login(user) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def flashed(response) -> list[tuple[str, str]]:
    return [(m.level_tag, str(m)) for m in get_messages(response.wsgi_request)]


def loan_action(pk: int, key: str) -> str:
    return reverse("admin:fintech_loan_loan_action", args=[pk, key])


def test_the_bank_quotes_prepays_and_settles_from_the_loan_page(book):  # noqa: F811
    loan, bank = book.loan, book.bank
    pay(loan, book.people, [1, 2, 3])
    client = login(bank)
    page = client.get(reverse("admin:fintech_loan_change", args=[loan.pk])).content.decode()
    for key in ("payoff", "prepay", "settle", "extend"):
        assert loan_action(loan.pk, key) in page
    # the insurer of the loan sees the page without the bank's buttons
    insurer_page = login(book.people.insurer).get(reverse("admin:fintech_loan_change", args=[loan.pk]))
    assert loan_action(loan.pk, "settle") not in insurer_page.content.decode()
    assert login(book.people.insurer).post(loan_action(loan.pk, "settle"), {}).status_code == 403
    # the payoff quote of 2025-06-05 (751,500.01) comes back as a message, nothing written
    quoted = client.post(loan_action(loan.pk, "payoff"), {"on": "2025-06-05"})
    assert quoted.status_code == 302
    assert flashed(quoted)[-1] == (
        "success",
        "Payoff on 2025-06-05: 751,500.01 (overdue 0.00, principal 750,000.01, accrued interest 1,500.00,"
        " prepayment fee 0.00).",
    )
    # a wrong settlement amount is an error on the page, nothing changed
    wrong = client.post(loan_action(loan.pk, "settle"), {"amount": "751500.00", "value_date": "2025-06-05"})
    assert not Prepayment.objects.exists() and "751,500.01" in str(flashed(wrong)) + wrong.content.decode()
    # a partial prepayment, then the settlement at the new payoff (test_prepayment.py: 601,875.01)
    client.post(
        loan_action(loan.pk, "prepay"),
        {"amount": "150000.00", "value_date": "2025-06-05", "recast": "keep_term"},
    )
    assert Prepayment.objects.get().schedule_version == 2
    settled = client.post(loan_action(loan.pk, "settle"), {"amount": "601875.01", "value_date": "2025-06-10"})
    assert flashed(settled)[-1] == ("success", "Loan settled on 2025-06-10 with 601,875.01.")
    assert Loan.objects.get(pk=loan.pk).status == "settled"


def test_the_insurer_desk_shows_extensions_waiting_for_endorsement(db):
    loan, people = active_loan(term_months=6, disbursed_on=date(2025, 6, 15), valuation_on=date(2025, 6, 1))
    pay(loan, people, [1, 2, 3, 4])
    bank = login(people.bank)
    bank.post(loan_action(loan.pk, "extend"), {"new_maturity_on": "2026-03-15", "agreed_on": "2025-10-20"})
    extension = LoanExtension.objects.get()
    desk = login(people.insurer).get(reverse("admin:fintech_loanextension_changelist") + "?status=pending")
    assert [e.pk for e in desk.context["cl"].result_list] == [extension.pk]
    endorse = reverse("admin:fintech_loanextension_extension_action", args=[extension.pk, "endorse"])
    page = login(people.insurer).get(reverse("admin:fintech_loanextension_change", args=[extension.pk]))
    assert endorse in page.content.decode()
    done = login(people.insurer).post(endorse, {"premium_rate": "0.02", "endorsed_on": "2025-10-25"})
    assert flashed(done)[-1] == (
        "success",
        "Extension endorsed; its premium of 1,666.67 is due (record it as a premium payment).",
    )
    assert LoanExtension.objects.get().status == "endorsed"
    # the bank may not endorse
    assert bank.post(endorse, {"premium_rate": "0.02", "endorsed_on": "2025-10-25"}).status_code == 403
