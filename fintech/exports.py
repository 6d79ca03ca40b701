"""The one exporter every report uses: CSV streamed line by line, XLSX in openpyxl's write-only
mode written to a temporary file and streamed from it. Memory stays flat whatever the rows.

A report hands over a header and rows of typed values:
- `Decimal` is money: "1234.50" in CSV (fintech.money.format_money), a number with the money
  number format in XLSX (one shared style, no per-cell styling work);
- `str` is text, neutralised for spreadsheets: a cell that starts with =, +, -, @, a tab or a
  carriage return gets a leading apostrophe, so that a name an SME chose at registration such as
  `=HYPERLINK("http://x","y")` stays text in the regulator's spreadsheet (OWASP "CSV injection");
- `Figure` (a `Decimal` that is not money: a probability, a count of months) is a plain number,
  written as it is;
- `int`, `None` are written as they are; a `date` as its ISO text.
"""

from __future__ import annotations

import csv
import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from fintech.errors import InvalidInput
from fintech.money import XLSX_MONEY_FORMAT, format_money

CSV_TYPE = "text/csv; charset=utf-8"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# What a spreadsheet may read as the start of a formula (or a DDE payload after a control char).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = Sequence[Any]
FILE_FORMATS = ("csv", "xlsx")


class Figure(Decimal):
    """A number that is not money (a probability, months of cover): written as it is."""


def inert(text: str) -> str:
    """Text a spreadsheet shows as text: a leading apostrophe where it would start a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv_value(value: Any) -> Any:
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, Figure):
        return str(value)
    if isinstance(value, Decimal):
        return format_money(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


# Lines are sent in blocks of about this many characters: one write per block, not per line.
CSV_BLOCK = 64 * 1024


def csv_lines(header: Sequence[str], rows: Iterable[Row]) -> Iterator[str]:
    """The report as CSV text in blocks of whole lines; a byte-order mark first so that
    spreadsheet programs read the Chinese names as UTF-8. Memory holds one block at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([inert(h) for h in header])
    for row in rows:
        writer.writerow([_csv_value(v) for v in row])
        if buffer.tell() >= CSV_BLOCK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Row]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(csv_lines(header, rows), content_type=CSV_TYPE)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def xlsx_file(sheet_title: str, header: Sequence[str], rows: Iterable[Row]) -> Any:
    """The report as an XLSX workbook in a temporary file (rewound; removed when closed)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title)
    # One money cell per column, styled once and given each row's amount: openpyxl writes a row
    # as soon as it is appended, so no per-cell style or cell object is built for money.
    template = WriteOnlyCell(sheet)
    template.number_format = XLSX_MONEY_FORMAT
    money_style = template._style  # type: ignore[attr-defined]  # StyleableObject's array
    money_cells: dict[int, Any] = {}

    def money_cell(column: int, value: Decimal) -> Any:
        cell = money_cells.get(column)
        if cell is None:
            cell = money_cells[column] = WriteOnlyCell(sheet)
            cell._style = money_style  # type: ignore[attr-defined]
        cell.value = value
        return cell

    def cells(row: Row) -> list[Any]:
        out: list[Any] = []
        for column, value in enumerate(row):
            if isinstance(value, str):
                out.append(inert(value))
            elif isinstance(value, Figure):
                out.append(Decimal(value))
            elif isinstance(value, Decimal):
                out.append(money_cell(column, value))
            elif isinstance(value, date):
                out.append(value.isoformat())
            else:
                out.append(value)
        return out

    sheet.append([inert(h) for h in header])
    for row in rows:
        sheet.append(cells(row))
    # Not a `with` block: the response streams the file and closes it, which removes it.
    out = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115
    book.save(out)
    out.seek(0)
    return out


def xlsx_response(
    filename: str, sheet_title: str, header: Sequence[str], rows: Iterable[Row]
) -> FileResponse:
    return FileResponse(
        xlsx_file(sheet_title, header, rows), as_attachment=True, filename=filename, content_type=XLSX_TYPE
    )


def file_response(
    fmt: str, name: str, sheet_title: str, header: Sequence[str], rows: Iterable[Row]
) -> StreamingHttpResponse | FileResponse:
    """The report as `<name>.csv` or `<name>.xlsx`, `fmt` being one of FILE_FORMATS (400 otherwise)."""
    if fmt == "csv":
        return csv_response(f"{name}.csv", header, rows)
    if fmt == "xlsx":
        return xlsx_response(f"{name}.xlsx", sheet_title, header, rows)
    raise InvalidInput.on("format", f"Format is one of {', '.join(FILE_FORMATS)}.")
