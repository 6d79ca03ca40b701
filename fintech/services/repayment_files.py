"""Bank repayment files: a bank's daily CSV of repayments (API.md, Bank: repayment-files).

The upload checks the file as a whole (UTF-8, the header `loan,amount,value_date,transaction_id`)
and stores it; a Celery task then applies its lines in order, each in its own transaction, so a
bad line never undoes a good one. Each processed line leaves a RepaymentFileLine, which makes the
processing resumable: a re-run skips the lines already recorded. Lines are numbered as in the
file, the header being line 1; blank lines are skipped and not counted.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, InterfaceError, OperationalError, transaction
from django.db.models import F, Q
from django.utils import timezone, translation
from django.utils.functional import Promise, lazy
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from fintech.access import require_acts_for
from fintech.errors import DomainError, DuplicateTransactionId, InvalidInput
from fintech.models import FileStatus, Loan, OrganizationKind, RepaymentFile, RepaymentFileLine, User
from fintech.models.repayments import Repayment
from fintech.money import InvalidMoney, parse_money

from . import repayments
from .audit import audit_record
from .enqueue import enqueue_on_commit

HEADER = ("loan", "amount", "value_date", "transaction_id")
TRANSACTION_ID_MAX = 100

# The reasons a line is rejected, as the API reports them in `errors: [{line, reason}]`; said in
# the uploader's language (the file's `language`, set at upload), whichever worker processes it.
REASON_FIELDS = gettext_lazy("expected 4 fields: loan,amount,value_date,transaction_id")
REASON_UNKNOWN_LOAN = gettext_lazy("unknown loan")
REASON_AMBIGUOUS_LOAN = gettext_lazy(
    "ambiguous loan: the value is one loan's id and another loan's external id"
)
REASON_AMOUNT = gettext_lazy("invalid amount: plain notation, at most 2 decimal places")
REASON_DATE = gettext_lazy("invalid value date: YYYY-MM-DD")
REASON_NO_TRANSACTION = gettext_lazy("missing transaction id")
REASON_LONG_TRANSACTION = lazy(
    lambda: _("transaction id longer than %(count)s characters") % {"count": TRANSACTION_ID_MAX}, str
)()
REASON_DUPLICATE = gettext_lazy("duplicate transaction id")

_ISO_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineRejected(Exception):
    def __init__(self, reason: str | Promise) -> None:
        self.reason = str(reason)
        super().__init__(self.reason)


@dataclass(frozen=True)
class FileLine:
    number: int  # the line in the file; the header is line 1
    fields: list[str]


def _decode(content: bytes) -> str:
    """The file's text: UTF-8 (a byte-order mark is dropped), no NUL (not a text file)."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput.on(
            "file",
            _("The file is not UTF-8 text (byte %(byte)s is not valid UTF-8).") % {"byte": exc.start + 1},
        ) from exc
    if "\x00" in text:
        raise InvalidInput.on("file", _("The file is not a text CSV file (it holds NUL bytes)."))
    return text


def _split(line: str) -> list[str]:
    """The fields of one line; a line the csv module cannot read (a field over its size limit)
    has no fields, and is rejected for its field count."""
    try:
        return [field.strip() for field in next(csv.reader([line]), [])]
    except csv.Error:
        return []


def _check_header(text: str) -> list[str]:
    # Physical lines as a text editor numbers them (str.splitlines would also break on \f, \x1c,
    # U+2028 and the like, and shift the numbers the bank sees in its file).
    lines = _LINE_BREAK.split(text)
    found = lines[0][:80] if lines else ""
    if not lines or tuple(f.lower() for f in _split(lines[0])) != HEADER:
        raise InvalidInput.on(
            "file",
            _("The first line must be the header %(header)s (found %(found)s).")
            % {"header": ",".join(HEADER), "found": repr(found)},
        )
    return lines


def file_lines(text: str) -> Iterator[FileLine]:
    """The data lines of a stored file, numbered from 2 (the header is line 1); blank lines skipped.

    Each line is parsed on its own, so a line number always names one physical line."""
    for number, line in enumerate(_check_header(text)[1:], start=2):
        if line.strip():
            yield FileLine(number, _split(line))


@transaction.atomic
def repayment_file_upload(*, actor: User, filename: str, content: bytes) -> RepaymentFile:
    """Store a bank's repayment file (pending) and queue its processing once committed.

    A file that is not UTF-8 or lacks the header is refused (400) and nothing is stored."""
    require_acts_for(actor, OrganizationKind.BANK, None, _("Only bank staff upload repayment files."))
    text = _decode(content)
    total = sum(1 for _ in file_lines(text))
    file = RepaymentFile.objects.create(
        bank_id=actor.organization_id,  # type: ignore[misc]  # set: require_acts_for passed
        uploaded_by=actor,
        filename=(filename or "")[:200],
        content=text,
        language=translation.get_language() or "en",
        lines_total=total,
    )
    audit_record(
        actor=actor,
        action="repayment_file.upload",
        obj=file,
        to_state=FileStatus.PENDING,
        payload={"filename": file.filename, "lines_total": total, "bytes": len(content)},
    )
    enqueue_on_commit("repayment_file_process", file.pk)
    return file


def _loan_of(bank_id: int, reference: str) -> Loan:
    """The bank's loan named by its id or its external id; other banks' loans are unknown."""
    if not reference:
        raise LineRejected(REASON_UNKNOWN_LOAN)
    match = Q(external_id=reference)
    if reference.isascii() and reference.isdigit() and len(reference) <= 18:
        match |= Q(pk=int(reference))
    found = list(Loan.objects.filter(match, bank_id=bank_id).only("pk")[:2])
    if not found:
        raise LineRejected(REASON_UNKNOWN_LOAN)
    if len(found) > 1:
        raise LineRejected(REASON_AMBIGUOUS_LOAN)
    return found[0]


@dataclass(frozen=True)
class ParsedLine:
    loan_id: int
    amount: Decimal
    value_date: date
    transaction_id: str


def _parse(bank_id: int, fields: list[str]) -> ParsedLine:
    if len(fields) != len(HEADER):
        raise LineRejected(REASON_FIELDS)
    reference, raw_amount, raw_date, transaction_id = fields
    if not transaction_id:
        raise LineRejected(REASON_NO_TRANSACTION)
    if len(transaction_id) > TRANSACTION_ID_MAX:
        raise LineRejected(REASON_LONG_TRANSACTION)
    loan = _loan_of(bank_id, reference)
    try:
        amount = parse_money(raw_amount)
    except InvalidMoney as exc:
        raise LineRejected(REASON_AMOUNT) from exc
    if not _ISO_DATE.match(raw_date):
        raise LineRejected(REASON_DATE)
    try:
        value_date = date.fromisoformat(raw_date)
    except ValueError as exc:
        raise LineRejected(REASON_DATE) from exc
    return ParsedLine(loan.pk, amount, value_date, transaction_id)


def _locked(file_id: int) -> RepaymentFile:
    """The file's row, locked, without its content (up to 10 MB: read once per run, not per line)."""
    return (
        RepaymentFile.objects.select_for_update(of=("self",))
        .select_related("uploaded_by__organization")
        .defer("content")
        .get(pk=file_id)
    )


def _process_line(file_id: int, line: FileLine) -> None:
    """Apply or reject one line in its own transaction, with the file's counters. The file row is
    locked first, so two runs of the same file (a retried task) never process a line twice; the
    unique (file, line) constraint is the database's guarantee of it."""
    with transaction.atomic():
        file = _locked(file_id)
        if RepaymentFileLine.objects.filter(file=file, line=line.number).exists():
            return
        transaction_id = line.fields[3] if len(line.fields) == len(HEADER) else ""
        repayment: Repayment | None = None
        reason = ""
        try:
            parsed = _parse(file.bank_id, line.fields)
            if repayments.transaction_id_taken(file.bank_id, parsed.transaction_id):
                raise LineRejected(REASON_DUPLICATE)
            with transaction.atomic():  # a savepoint: a refused line leaves nothing behind
                repayment = repayments.repayment_record(
                    actor=file.uploaded_by,
                    loan_id=parsed.loan_id,
                    amount=parsed.amount,
                    paid_on=parsed.value_date,
                    transaction_id=parsed.transaction_id,
                )
        except LineRejected as exc:
            reason = exc.reason
        except DuplicateTransactionId:
            reason = str(REASON_DUPLICATE)  # applied by another upload after the check above
        except DomainError as exc:
            reason = exc.message
        except IntegrityError:
            # Another upload of this bank applied the same transaction id between the check above
            # and the insert: the unique constraint (bank, transaction_id) refused the second one.
            if not Repayment.objects.filter(bank_id=file.bank_id, transaction_id=transaction_id).exists():
                raise
            reason = str(REASON_DUPLICATE)
        RepaymentFileLine.objects.create(
            file=file,
            line=line.number,
            transaction_id=transaction_id[:TRANSACTION_ID_MAX],
            repayment=repayment,
            reason=reason[:300],
        )
        file.lines_done = F("lines_done") + 1
        if repayment is not None:
            file.lines_applied = F("lines_applied") + 1
            file.save(update_fields=["lines_done", "lines_applied"])
        else:
            # The reason is on the line row: rewriting a growing JSON list per line would cost
            # quadratic writes on a large bad file. The list is written once, when the file is done.
            file.lines_rejected = F("lines_rejected") + 1
            file.save(update_fields=["lines_done", "lines_rejected"])


def repayment_file_errors(file: RepaymentFile) -> list[dict[str, object]]:
    """`[{line, reason}]`: the rejected lines in file order, then errors of the file as a whole
    (`line` null). Current while the file is processed, not only once it is done."""
    rejected = RepaymentFileLine.objects.filter(file=file, repayment__isnull=True).order_by("line")
    return [{"line": n, "reason": r} for n, r in rejected.values_list("line", "reason")] + [
        e for e in file.errors if e.get("line") is None
    ]


def _set_status(file_id: int, status: str, *, error: str = "") -> RepaymentFile:
    with transaction.atomic():
        file = _locked(file_id)
        before = file.status
        if before == FileStatus.DONE:
            return file  # a concurrent run finished it: a done file is never reopened
        file.status = status
        fields = ["status"]
        if status == FileStatus.PROCESSING and file.errors:
            file.errors = []  # the errors of an earlier, failed run: the lines' reasons stay on the lines
            fields.append("errors")
        if status in (FileStatus.DONE, FileStatus.FAILED):
            file.finished_at = timezone.now()
            fields.append("finished_at")
        if error:
            file.errors = [*file.errors, {"line": None, "reason": error[:300]}]
        if error or status in (FileStatus.DONE, FileStatus.FAILED):
            file.errors = repayment_file_errors(file)
            fields.append("errors")
        file.save(update_fields=fields)
        if before != status and status in (FileStatus.DONE, FileStatus.FAILED):
            audit_record(
                actor=None,
                action=f"repayment_file.{status}",
                obj=file,
                from_state=before,
                to_state=status,
                reason=error,
                payload={"lines_applied": file.lines_applied, "lines_rejected": file.lines_rejected},
            )
        return file


def repayment_file_process(file_id: int) -> RepaymentFile:
    """Apply a stored file's lines in order (idempotent and resumable): status processing, one
    transaction per line, then done; `failed` with the reason when the file cannot be read.

    A finished file is left as it is, so a replayed task changes nothing. The reasons are written
    in the uploader's language (the file's), whichever language the worker runs in."""
    file = RepaymentFile.objects.get(pk=file_id)
    if file.status == FileStatus.DONE:
        return file
    with translation.override(file.language):
        return _file_apply(file)


def _file_apply(file: RepaymentFile) -> RepaymentFile:
    file_id = file.pk
    current = _set_status(file_id, FileStatus.PROCESSING)
    if current.status == FileStatus.DONE:
        return current
    try:
        lines = list(file_lines(file.content))
    except InvalidInput as exc:
        return _set_status(file_id, FileStatus.FAILED, error=exc.message)
    recorded = set(RepaymentFileLine.objects.filter(file_id=file_id).values_list("line", flat=True))
    for line in lines:
        if line.number in recorded:
            continue
        try:
            _process_line(file_id, line)
        except (OperationalError, InterfaceError):
            raise  # the database went away: the task retries and resumes after the last recorded line
        except Exception as exc:
            _set_status(file_id, FileStatus.FAILED, error=f"line {line.number}: {type(exc).__name__}")
            raise
    return _set_status(file_id, FileStatus.DONE)
