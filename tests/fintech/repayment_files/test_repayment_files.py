"""Bank repayment files: each line applied at most once, bad lines reported with their line number
(the header is line 1) while good lines go through; a replayed file changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import OperationalError

from fintech.errors import InvalidInput, RoleNotAllowed
from fintech.models import AuditLog, JournalEntry, Loan, RepaymentFile, RepaymentFileLine
from fintech.models.repayments import Repayment
from fintech.selectors.ledger import loan_reconciliation
from fintech.services import repayment_files as files
from fintech.services.repayment_files import repayment_file_process, repayment_file_upload
from tests.fintech.repayments.conftest import installments, snapshot

D = Decimal
pytestmark = pytest.mark.django_db

OWES_AFTER_FIRST_TWO = "The loan still owes 1020041.67; 5000000.00 is more."  # 1,024,541.67 - 3,500 - 1,000


def first_file(loan: Loan, other: Loan) -> bytes:
    return (
        "loan,amount,value_date,transaction_id\n"  # line 1
        f"{loan.pk},3500.00,2025-03-20,TX-001\n"  # 2 applied: interest of installment 1
        "HK-LN-0001,1000.00,2025-03-21,TX-002\n"  # 3 applied (by external id): principal
        "999999,10.00,2025-03-21,TX-003\n"  # 4 unknown loan
        f"{loan.pk},1e3,2025-03-21,TX-004\n"  # 5 bad amount
        f"{loan.pk},10.00,2025-02-30,TX-005\n"  # 6 bad date
        f"{loan.pk},10.00,2025-03-21,\n"  # 7 no transaction id
        f"{loan.pk},5000000.00,2025-03-21,TX-007\n"  # 8 more than the loan owes
        f"{loan.pk},100.00,2025-03-22,TX-001\n"  # 9 TX-001 again in the same file
        f"{other.pk},100.00,2025-03-22,TX-009\n"  # 10 another bank's loan
        "\n"  # 11 blank: skipped, not counted
        "HK-LN-0001,200.00,2025-03-23,TX-010\n"  # 12 applied
    ).encode()


FIRST_ERRORS = [
    {"line": 4, "reason": "unknown loan"},
    {"line": 5, "reason": "invalid amount: plain notation, at most 2 decimal places"},
    {"line": 6, "reason": "invalid value date: YYYY-MM-DD"},
    {"line": 7, "reason": "missing transaction id"},
    {"line": 8, "reason": OWES_AFTER_FIRST_TWO},
    {"line": 9, "reason": "duplicate transaction id"},
    {"line": 10, "reason": "unknown loan"},
]


@pytest.fixture
def two_banks(book, make_book):
    """The book's loan (external id HK-LN-0001) and another bank's loan."""
    Loan.objects.filter(pk=book.loan.pk).update(external_id="HK-LN-0001")
    other = make_book()
    return book, other


def _counters(file: RepaymentFile) -> tuple[object, ...]:
    file.refresh_from_db()
    return (file.status, file.lines_total, file.lines_done, file.lines_applied, file.lines_rejected)


def test_good_lines_go_through_and_bad_lines_are_reported(two_banks, django_capture_on_commit_callbacks):
    book, other = two_banks
    loan = book.loan
    # when the bank uploads its file (processed once the upload commits)
    with django_capture_on_commit_callbacks(execute=True) as queued:
        file = repayment_file_upload(
            actor=book.bank, filename="hk-20250323.csv", content=first_file(loan, other.loan)
        )
    assert len(queued) == 1
    # then 10 data lines: 3 applied, 7 rejected with their line numbers and reasons
    assert _counters(file) == ("done", 10, 10, 3, 7)
    assert file.errors == FIRST_ERRORS
    assert file.finished_at is not None
    # and the three good lines paid 3,500.00 interest then 1,000.00 + 200.00 principal of installment 1
    assert installments(loan)[0] == (1, D("1200.00"), D("3500.00"), None, "due")
    assert list(
        Repayment.objects.filter(loan=loan).order_by("id").values_list("transaction_id", "amount", "paid_on")
    ) == [
        ("TX-001", D("3500.00"), date(2025, 3, 20)),
        ("TX-002", D("1000.00"), date(2025, 3, 21)),
        ("TX-010", D("200.00"), date(2025, 3, 23)),
    ]
    assert JournalEntry.objects.filter(kind="repayment", loan=loan).count() == 3
    assert loan_reconciliation(loan).mismatches() == []
    # and the other bank's loan was not touched
    assert Repayment.objects.filter(loan=other.loan).count() == 0
    # each processed line is recorded: the applied ones with their repayment
    lines = list(
        RepaymentFileLine.objects.filter(file=file)
        .order_by("line")
        .values_list("line", "transaction_id", "repayment__transaction_id", "reason")
    )
    assert [(n, t, rt) for n, t, rt, _ in lines] == [
        (2, "TX-001", "TX-001"),
        (3, "TX-002", "TX-002"),
        (4, "TX-003", None),
        (5, "TX-004", None),
        (6, "TX-005", None),
        (7, "", None),
        (8, "TX-007", None),
        (9, "TX-001", None),
        (10, "TX-009", None),
        (12, "TX-010", "TX-010"),
    ]
    assert AuditLog.objects.filter(action="repayment_file.done", object_id=str(file.pk)).count() == 1

    # when the same file is processed again (a replayed task): nothing changes
    before = snapshot()
    repayment_file_process(file.pk)
    assert snapshot() == before

    # when a second file repeats TX-010 and brings TX-011
    second = (
        b"loan,amount,value_date,transaction_id\n"
        b"HK-LN-0001,300.00,2025-03-24,TX-010\n"
        b"HK-LN-0001,300.00,2025-03-24,TX-011\n"
    )
    with django_capture_on_commit_callbacks(execute=True):
        again = repayment_file_upload(actor=book.bank, filename="hk-20250324.csv", content=second)
    # then TX-010 is a duplicate of the first file's line and only TX-011 is applied
    assert _counters(again) == ("done", 2, 2, 1, 1)
    assert again.errors == [{"line": 2, "reason": "duplicate transaction id"}]
    assert installments(loan)[0] == (1, D("1500.00"), D("3500.00"), None, "due")


def test_a_processing_interrupted_by_a_crash_resumes_without_applying_a_line_twice(book, monkeypatch):
    # given a file of three good lines, whose processing dies on line 3 (the database went away)
    content = (
        "loan,amount,value_date,transaction_id\n"
        f"{book.loan.pk},100.00,2025-03-01,A-1\n"
        f"{book.loan.pk},200.00,2025-03-02,A-2\n"
        f"{book.loan.pk},300.00,2025-03-03,A-3\n"
    ).encode()
    file = repayment_file_upload(actor=book.bank, filename="a.csv", content=content)  # not run: no commit
    real = files._process_line

    def dies_on_line_3(file_id, line):
        if line.number == 3:
            raise OperationalError("server closed the connection unexpectedly")
        return real(file_id, line)

    monkeypatch.setattr(files, "_process_line", dies_on_line_3)
    with pytest.raises(OperationalError):
        repayment_file_process(file.pk)
    # then line 2 is applied and recorded, the file still processing
    assert _counters(file) == ("processing", 3, 1, 1, 0)
    # when the task is retried
    monkeypatch.setattr(files, "_process_line", real)
    repayment_file_process(file.pk)
    # then it resumes at line 3: each line applied exactly once
    assert _counters(file) == ("done", 3, 3, 3, 0)
    assert list(Repayment.objects.order_by("id").values_list("transaction_id", flat=True)) == [
        "A-1",
        "A-2",
        "A-3",
    ]
    assert installments(book.loan)[0] == (1, D("0.00"), D("600.00"), None, "due")


def test_an_unreadable_file_fails_with_the_reason(book):
    # given a stored file whose header was damaged after the upload (an upload checks it)
    file = repayment_file_upload(
        actor=book.bank, filename="x.csv", content=b"loan,amount,value_date,transaction_id\n"
    )
    RepaymentFile.objects.filter(pk=file.pk).update(content="garbage\n1,2,3,4\n")
    # when it is processed: failed, with the reason as an error of the file as a whole
    repayment_file_process(file.pk)
    file.refresh_from_db()
    assert file.status == "failed"
    assert file.errors == [
        {
            "line": None,
            "reason": "The first line must be the header loan,amount,value_date,transaction_id"
            " (found 'garbage').",
        }
    ]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"loan,amount,date,transaction_id\n1,10.00,2025-03-01,T\n",
        b"1,10.00,2025-03-01,T\n",
        "loan,amount,value_date,transaction_id\n1,10.00,2025-03-01,\xe9\n".encode("latin-1"),
        b"loan,amount,value_date,transaction_id\n1,10.00,2025-03-01,T\x00\n",
    ],
    ids=["empty", "wrong-header", "no-header", "not-utf8", "nul"],
)
def test_a_file_without_the_header_or_not_utf8_is_refused_and_nothing_stored(book, content):
    before = snapshot()
    with pytest.raises(InvalidInput) as info:
        repayment_file_upload(actor=book.bank, filename="bad.csv", content=content)
    assert list(info.value.fields) == ["file"]
    assert snapshot() == before


def test_a_header_with_bom_spaces_and_capitals_is_accepted(book):
    content = f"\ufeffLoan, Amount ,VALUE_DATE,transaction_id\r\n{book.loan.pk},10.00,2025-03-01,B-1\r\n"
    file = repayment_file_upload(actor=book.bank, filename="b.csv", content=content.encode())
    repayment_file_process(file.pk)
    assert _counters(file) == ("done", 1, 1, 1, 0)


def test_only_banks_upload(book):
    before = snapshot()
    with pytest.raises(RoleNotAllowed):
        repayment_file_upload(
            actor=book.people.insurer, filename="x.csv", content=b"loan,amount,value_date,transaction_id\n"
        )
    assert snapshot() == before


# --- through the API ------------------------------------------------------------------------------


def test_api_upload_and_progress(two_banks, client_for, django_capture_on_commit_callbacks):
    book, other = two_banks
    api = client_for(book.bank)
    api.defaults["HTTP_ACCEPT_LANGUAGE"] = "en"  # the reasons are asserted in English
    upload = SimpleUploadedFile("hk.csv", first_file(book.loan, other.loan), content_type="text/csv")
    # when the bank uploads through the API
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/repayment-files/", {"file": upload}, format="multipart")
    # then 202 with the file's id and status (queued: processed once the upload committed)
    assert response.status_code == 202
    file = RepaymentFile.objects.get()
    assert (response.json()["id"], response.json()["status"]) == (file.pk, "pending")
    # and the file shows its result
    detail = api.get(f"/api/v1/repayment-files/{file.pk}/")
    assert detail.status_code == 200
    body = detail.json()
    assert {
        k: body[k]
        for k in (
            "id",
            "bank",
            "filename",
            "status",
            "lines_total",
            "lines_done",
            "lines_applied",
            "lines_rejected",
            "errors",
        )
    } == {
        "id": file.pk,
        "bank": book.loan.bank_id,
        "filename": "hk.csv",
        "status": "done",
        "lines_total": 10,
        "lines_done": 10,
        "lines_applied": 3,
        "lines_rejected": 7,
        "errors": FIRST_ERRORS,
    }
    # and the list shows it to its bank, not to another bank; others are 403
    listed = api.get("/api/v1/repayment-files/").json()
    assert (listed["count"], listed["results"][0]["id"]) == (1, file.pk)
    other_api = client_for(other.bank)
    assert other_api.get(f"/api/v1/repayment-files/{file.pk}/").status_code == 404
    assert other_api.get("/api/v1/repayment-files/").json()["count"] == 0
    assert client_for(book.people.sme).get(f"/api/v1/repayment-files/{file.pk}/").status_code == 403


def test_api_upload_errors_store_nothing(book, client_for):
    api = client_for(book.bank)
    before = snapshot()
    no_header = SimpleUploadedFile("x.csv", b"1,10.00,2025-03-01,T\n", content_type="text/csv")
    response = api.post("/api/v1/repayment-files/", {"file": no_header}, format="multipart")
    assert response.status_code == 400
    assert (response.json()["code"], list(response.json()["fields"])) == ("invalid", ["file"])
    missing = api.post("/api/v1/repayment-files/", {}, format="multipart")
    assert (missing.status_code, list(missing.json()["fields"])) == (400, ["file"])
    sme = client_for(book.people.sme).post(
        "/api/v1/repayment-files/",
        {"file": SimpleUploadedFile("x.csv", b"loan,amount,value_date,transaction_id\n")},
        format="multipart",
    )
    assert sme.status_code == 403
    assert snapshot() == before


def test_api_upload_replay_with_an_idempotency_key(book, client_for):
    api = client_for(book.bank)
    content = f"loan,amount,value_date,transaction_id\n{book.loan.pk},10.00,2025-03-01,K-1\n".encode()
    first = api.post(
        "/api/v1/repayment-files/",
        {"file": SimpleUploadedFile("k.csv", content)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="file-1",
    )
    assert first.status_code == 202
    before = snapshot()
    again = api.post(
        "/api/v1/repayment-files/",
        {"file": SimpleUploadedFile("k.csv", content)},
        format="multipart",
        HTTP_IDEMPOTENCY_KEY="file-1",
    )
    assert (again.status_code, again.json()) == (202, first.json())
    assert snapshot() == before


def test_the_database_constraint_refuses_a_duplicate_the_checks_missed(book, monkeypatch):
    # given checks that miss a duplicate (as when another upload of the bank commits TX-1 between
    # the check and the insert): the unique constraint (bank, transaction_id) is what refuses it
    from fintech.services import repayments

    monkeypatch.setattr(repayments, "transaction_id_taken", lambda bank_id, transaction_id: False)
    content = (
        "loan,amount,value_date,transaction_id\n"
        f"{book.loan.pk},100.00,2025-03-01,TX-1\n"
        f"{book.loan.pk},100.00,2025-03-01,TX-1\n"
        f"{book.loan.pk},200.00,2025-03-02,TX-2\n"
    ).encode()
    file = repayment_file_upload(actor=book.bank, filename="race.csv", content=content)
    # when it is processed
    repayment_file_process(file.pk)
    # then line 3 is a duplicate, rolled back to its savepoint, and line 4 still goes through
    assert _counters(file) == ("done", 3, 3, 2, 1)
    assert file.errors == [{"line": 3, "reason": "duplicate transaction id"}]
    assert list(Repayment.objects.order_by("id").values_list("transaction_id", "amount")) == [
        ("TX-1", D("100.00")),
        ("TX-2", D("200.00")),
    ]
    assert installments(book.loan)[0] == (1, D("0.00"), D("300.00"), None, "due")
    assert loan_reconciliation(book.loan).mismatches() == []


def test_lines_of_the_wrong_shape_are_rejected_and_numbered_as_in_the_file(book):
    # given a line with five fields, one with a field over the csv module's size limit, and a
    # U+2028 inside a field (not a line break for the bank's editor: the numbering does not shift)
    content = (
        "loan,amount,value_date,transaction_id\r\n"
        f"{book.loan.pk},10.00,2025-03-01,S-1,extra\r\n"
        f"{book.loan.pk},10.00,2025-03-01,{'x' * 200_000}\r\n"
        f"{book.loan.pk},10.00,2025-03-01,S-\u20283\r\n"
        f'{book.loan.pk},"10.00",2025-03-01,S-4\r\n'
    ).encode()
    file = repayment_file_upload(actor=book.bank, filename="shape.csv", content=content)
    # when it is processed
    repayment_file_process(file.pk)
    # then lines 2 and 3 are rejected for their shape; lines 4 and 5 (a quoted amount) are applied
    assert _counters(file) == ("done", 4, 4, 2, 2)
    assert file.errors == [
        {"line": 2, "reason": "expected 4 fields: loan,amount,value_date,transaction_id"},
        {"line": 3, "reason": "expected 4 fields: loan,amount,value_date,transaction_id"},
    ]
    assert list(Repayment.objects.order_by("id").values_list("transaction_id", flat=True)) == [
        "S-\u20283",
        "S-4",
    ]
