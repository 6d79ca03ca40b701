"""The admin: bank staff upload a repayment file (the same service as the API) and follow its result;
regulators and platform staff read the journal and the chart of accounts."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from fintech.models import JournalEntry, RepaymentFile
from fintech.services.repayments import repayment_record
from tests.factories import OrganizationFactory, UserFactory
from tests.fintech.repayments.conftest import snapshot

D = Decimal
pytestmark = pytest.mark.django_db

ADD = "/admin/fintech/repaymentfile/add/"


@pytest.fixture(autouse=True)
def _admin_settings(settings: Any) -> None:
    # Without DEBUG the project uses the manifest storage, whose manifest exists after collectstatic.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def login(user: Any) -> Client:
    client = Client(headers={"accept-language": "en"})
    client.force_login(user)
    return client


def test_bank_staff_upload_a_file_and_see_its_result(book, django_capture_on_commit_callbacks):
    client = login(book.bank)
    form = client.get(ADD)
    assert form.status_code == 200
    assert 'enctype="multipart/form-data"' in form.content.decode()
    content = (
        "loan,amount,value_date,transaction_id\n"
        f"{book.loan.pk},3500.00,2025-03-20,ADM-1\n"
        f"{book.loan.pk},1e3,2025-03-20,ADM-2\n"
    ).encode()
    # when the bank's user uploads it
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(ADD, {"file": SimpleUploadedFile("adm.csv", content, content_type="text/csv")})
    # then the file is stored for the bank, processed, and the detail page shows the result
    file = RepaymentFile.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/admin/fintech/repaymentfile/{file.pk}/change/"
    file.refresh_from_db()
    assert (file.bank_id, file.uploaded_by, file.status, file.lines_applied, file.lines_rejected) == (
        book.loan.bank_id,
        book.bank,
        "done",
        1,
        1,
    )
    page = client.get(response["Location"]).content.decode()
    assert "2 / 2" in page  # lines processed / lines in the file
    assert "invalid amount: plain notation, at most 2 decimal places" in page
    assert 'http-equiv="refresh"' not in page  # done: no more reloading
    assert client.get("/admin/fintech/repaymentfile/").status_code == 200


def test_a_refused_upload_shows_the_reason_and_stores_nothing(book):
    client = login(book.bank)
    before = snapshot()
    response = client.post(ADD, {"file": SimpleUploadedFile("bad.csv", b"1,10.00,2025-03-01,T\n")})
    assert response.status_code == 200
    assert (
        "The first line must be the header loan,amount,value_date,transaction_id" in response.content.decode()
    )
    assert snapshot() == before


def test_only_bank_staff_upload_and_see_files(book, regulator):
    insurer = book.people.insurer  # staff of the insurer
    assert login(insurer).get(ADD).status_code == 403
    assert login(regulator).get("/admin/fintech/repaymentfile/").status_code == 403
    other_bank = UserFactory(organization=OrganizationFactory(kind="bank"), is_staff=True)
    with_file = login(book.bank)
    with_file.post(ADD, {"file": SimpleUploadedFile("a.csv", b"loan,amount,value_date,transaction_id\n")})
    file = RepaymentFile.objects.get()
    # another bank's staff do not see it (the admin answers with a redirect to its index)
    assert login(other_bank).get(f"/admin/fintech/repaymentfile/{file.pk}/change/").status_code == 302


def test_regulators_read_the_journal_of_their_region(book, regulator, platform):
    repayment_record(actor=book.bank, loan_id=book.loan.pk, amount=D("90000.00"), paid_on=date(2025, 3, 20))
    entry = JournalEntry.objects.get(kind="repayment")
    page = login(regulator).get(f"/admin/fintech/journalentry/{entry.pk}/change/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "83333.33" in body or "83,333.33" in body
    assert login(regulator).get("/admin/fintech/journalentry/").status_code == 200
    assert login(platform).get("/admin/fintech/journalentry/").status_code == 200
    assert login(regulator).get("/admin/fintech/account/").status_code == 200
    # a regulator of another region sees none of it; a bank has no journal screen
    elsewhere = UserFactory(
        organization=OrganizationFactory(kind="regulator", region_id="420200"), is_staff=True
    )
    assert login(elsewhere).get(f"/admin/fintech/journalentry/{entry.pk}/change/").status_code == 302
    assert login(book.bank).get("/admin/fintech/journalentry/").status_code == 403
    # and nothing is editable: no add, no delete
    assert login(platform).get("/admin/fintech/journalentry/add/").status_code == 403
    assert login(platform).post(f"/admin/fintech/journalentry/{entry.pk}/delete/").status_code == 403
