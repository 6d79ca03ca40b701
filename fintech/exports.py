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
import functools
import io
import re
import tempfile
from collections.abc import Generator, Iterable, Iterator, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import FileResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from lxml.etree import Element, SubElement
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.compat import safe_string
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import IllegalCharacterError

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


# Characters XML 1.0 refuses (openpyxl refuses the same ones in a cell).
_ILLEGAL_XML = re.compile(r"[\000-\010]|[\013-\014]|[\016-\037]")
_MAX_TEXT = 32767  # a spreadsheet cell's longest text
_XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"


def _xlsx_text(cell: Any, text: str) -> None:
    text = inert(text)[:_MAX_TEXT]
    if _ILLEGAL_XML.search(text):
        raise IllegalCharacterError(f"{text!r} cannot be used in worksheets.")
    cell.set("t", "inlineStr")
    if text:
        t = SubElement(SubElement(cell, "is"), "t")
        if text != text.strip():
            t.set(_XML_SPACE, "preserve")
        t.text = text


def _xlsx_row(values: Row, index: int, money_style: str) -> Any:
    """One `<row>` element with its cells, typed as openpyxl would write them: text inline
    (neutralised), money a number in the money style, other numbers plain, a date as ISO text."""
    row = Element("row", r=str(index))
    suffix = str(index)
    for column, value in enumerate(values):
        if value is None:
            continue
        cell = SubElement(row, "c", r=_column_letter(column) + suffix)
        if isinstance(value, str):
            _xlsx_text(cell, value)
        elif isinstance(value, bool):
            cell.set("t", "b")
            SubElement(cell, "v").text = "1" if value else "0"
        elif isinstance(value, Figure | int | float):
            cell.set("t", "n")
            SubElement(cell, "v").text = safe_string(value)
        elif isinstance(value, Decimal):
            cell.set("s", money_style)
            cell.set("t", "n")
            SubElement(cell, "v").text = safe_string(value)
        elif isinstance(value, date):
            _xlsx_text(cell, value.isoformat())
        else:
            _xlsx_text(cell, str(value))
    return row


@functools.cache
def _column_letter(column: int) -> str:
    return get_column_letter(column + 1)


def xlsx_file(sheet_title: str, header: Sequence[str], rows: Iterable[Row]) -> Any:
    """The report as an XLSX workbook in a temporary file (rewound; removed when closed).

    openpyxl's write-only sheet writes the workbook, the styles and the sheet's frame; the rows
    are written here, each as one `<row>` element on the sheet's XML stream (no cell objects):
    the write-only sheet binds and writes every cell through Python objects, most of an export's
    time at a report's size (bench/README.md)."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title)
    # The money number format is registered once; every money cell names its style id.
    template = WriteOnlyCell(sheet)
    template.number_format = XLSX_MONEY_FORMAT
    money_style = str(template.style_id)

    def write_rows() -> Generator[None, Row, None]:
        # The write-only sheet's own row loop (WriteOnlyWorksheet._write_rows), with whole rows.
        xf = sheet._writer.xf.send(True)  # type: ignore[attr-defined]
        with xf.element("sheetData"):
            index = 1
            try:
                while True:
                    values = yield
                    xf.write(_xlsx_row(values, index, money_style))
                    index += 1
            except GeneratorExit:
                pass
        sheet._writer.xf.send(None)  # type: ignore[attr-defined]

    sheet._write_rows = write_rows  # type: ignore[attr-defined]
    sheet.append(list(header))
    for row in rows:
        sheet.append(row if isinstance(row, list | tuple) else list(row))
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
    raise InvalidInput.on("format", _("Format is one of %(choices)s.") % {"choices": ", ".join(FILE_FORMATS)})
