"""fintech.exports: formula-safe text, money as numbers, the same rows in CSV and XLSX."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from fintech import exports


@pytest.mark.parametrize(
    ("text", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+86 27 1234", "'+86 27 1234"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Wuhan Optics 武汉光电", "Wuhan Optics 武汉光电"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_text_that_starts_like_a_formula_gets_an_apostrophe(text, written):
    assert exports.inert(text) == written


HEADER = ("id", "name", "amount", "on")
ROWS = [
    (7, "=1+2", Decimal("1234.50"), date(2025, 7, 1)),
    (8, "-SME", Decimal("-0.01"), None),  # a negative amount is a number, not text to neutralise
]


def test_csv_lines_neutralise_text_and_write_money_with_two_places():
    text = "".join(exports.csv_lines(HEADER, iter(ROWS)))
    assert text.startswith("\ufeff")
    assert list(csv.reader(io.StringIO(text.lstrip("\ufeff")))) == [
        ["id", "name", "amount", "on"],
        ["7", "'=1+2", "1234.50", "2025-07-01"],
        ["8", "'-SME", "-0.01", ""],
    ]


def test_xlsx_file_has_typed_cells_and_no_formula():
    with exports.xlsx_file("report", HEADER, iter(ROWS)) as out:
        sheet = load_workbook(out).active
        cells = [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows(min_row=2)]
        formats = [row[2].number_format for row in sheet.iter_rows(min_row=2)]
    assert sheet.title == "report"
    assert cells == [
        [(7, "n"), ("'=1+2", "s"), (1234.5, "n"), ("2025-07-01", "s")],
        [(8, "n"), ("'-SME", "s"), (-0.01, "n"), (None, "n")],
    ]
    assert formats == ["#,##0.00", "#,##0.00"]


def test_xlsx_streams_from_a_temporary_file():
    response = exports.xlsx_response("r.xlsx", "report", HEADER, iter(ROWS))
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="r.xlsx"'
    assert response["Content-Type"] == exports.XLSX_TYPE
    assert load_workbook(io.BytesIO(b"".join(response.streaming_content))).active["B2"].value == "'=1+2"


def test_csv_comes_in_blocks_of_whole_lines():
    rows = ((n, f"SME {n} Technology Co., Ltd.", Decimal("718.75"), None) for n in range(5000))
    blocks = list(exports.csv_lines(HEADER, rows))
    assert len(blocks) > 2
    assert all(block.endswith("\r\n") for block in blocks)
    lines = list(csv.reader(io.StringIO("".join(blocks).lstrip("\ufeff"))))
    assert len(lines) == 5001
    assert lines[4321] == ["4320", "SME 4320 Technology Co., Ltd.", "718.75", ""]


def test_xlsx_rows_keep_spaces_empty_text_and_wide_rows_as_openpyxl_reads_them():
    # given text with leading and trailing spaces, an empty text, a Figure, an int past 26 columns
    header = [f"c{n}" for n in range(30)]
    row = [" lead", "trail ", "", exports.Figure("0.0125"), *range(26)]
    with exports.xlsx_file("report", header, iter([row])) as out:
        sheet = load_workbook(out).active
        read = [c.value for c in next(sheet.iter_rows(min_row=2))]
    # then the spaces stay, the empty text reads as an empty cell, the figure is a plain number,
    # and column 30 (AD) holds the last int
    assert read == [" lead", "trail ", None, 0.0125, *range(26)]
    assert sheet["AD2"].value == 25


def test_xlsx_refuses_characters_xml_cannot_hold():
    # a control character (here \x01) has no XML 1.0 form: refused, as openpyxl refuses it
    from openpyxl.utils.exceptions import IllegalCharacterError

    with pytest.raises(IllegalCharacterError):
        exports.xlsx_file("report", HEADER, iter([(1, "bad\x01name", Decimal("1.00"), None)]))
