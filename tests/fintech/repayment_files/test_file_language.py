"""A file's reasons are written in the uploader's language, whichever language the worker runs in
(a Celery worker runs under the platform language, Chinese)."""

from __future__ import annotations

import pytest
from django.utils import translation

from fintech.models import RepaymentFile
from fintech.services.repayment_files import repayment_file_process, repayment_file_upload

pytestmark = pytest.mark.django_db


def _content(loan_id: int) -> bytes:
    return (
        "loan,amount,value_date,transaction_id\n"
        "999999,10.00,2025-03-21,L-1\n"  # 2 unknown loan (a reason of the file)
        f"{loan_id},5000000.00,2025-03-21,L-2\n"  # 3 more than the loan owes (a domain error)
        f"{loan_id},10.00,2025-03-21,\n"  # 4 no transaction id
    ).encode()


def _upload_then_process_in_a_worker(book, language: str) -> RepaymentFile:
    with translation.override(language):  # the uploader's request
        file = repayment_file_upload(actor=book.bank, filename="l.csv", content=_content(book.loan.pk))
    with translation.override("zh-hans"):  # the worker: the platform language
        repayment_file_process(file.pk)
    file.refresh_from_db()
    return file


def test_a_file_uploaded_in_english_gets_english_reasons_from_a_chinese_worker(book):
    file = _upload_then_process_in_a_worker(book, "en")
    assert file.language == "en"
    assert file.errors == [
        {"line": 2, "reason": "unknown loan"},
        {"line": 3, "reason": "The loan still owes 1024541.67; 5000000.00 is more."},
        {"line": 4, "reason": "missing transaction id"},
    ]


def test_a_file_uploaded_in_chinese_gets_chinese_reasons(book):
    file = _upload_then_process_in_a_worker(book, "zh-hans")
    assert file.language == "zh-hans"
    assert file.errors == [
        {"line": 2, "reason": "未知的贷款"},
        {"line": 3, "reason": "该贷款尚欠 1024541.67；5000000.00 超出了这一金额。"},  # noqa: RUF001
        {"line": 4, "reason": "缺少交易流水号"},
    ]


def test_a_file_that_fails_as_a_whole_says_why_in_the_uploaders_language(book):
    with translation.override("en"):
        file = repayment_file_upload(
            actor=book.bank, filename="x.csv", content=b"loan,amount,value_date,transaction_id\n"
        )
    RepaymentFile.objects.filter(pk=file.pk).update(content="garbage\n")
    with translation.override("zh-hans"):
        repayment_file_process(file.pk)
    file.refresh_from_db()
    assert (file.status, file.errors) == (
        "failed",
        [
            {
                "line": None,
                "reason": "The first line must be the header loan,amount,value_date,transaction_id"
                " (found 'garbage').",
            }
        ],
    )
