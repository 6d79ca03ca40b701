from datetime import date

import pytest
from django.utils import translation

from fintech.rules.identifiers import (
    PATENT_TYPE_DIGITS,
    InvalidIdentifier,
    PatentNumber,
    check_type_agrees,
    parse_patent_number,
    patent_check_character,
    patent_expiry,
    uscc_check_character,
    validate_uscc,
)


@pytest.fixture(autouse=True)
def _english():
    """The messages are asserted in English (tests/test_translations.py checks the Chinese)."""
    with translation.override("en"):
        yield


# --- USCC -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341L",
        "91110108551385082Q",
        "9142010000000000N0",
        # Letter-first codes (registration authorities N, Y, A), which stdnum's validate() refuses.
        # N2420100MA4K00000 -> N=22, M=21, A=10, K=19 in the alphabet:
        # 22*1 + 2*3 + 4*9 + 2*27 + 0*19 + 1*26 + 0*16 + 0*17 + 21*20 + 10*29 + 4*25 + 19*13
        # = 1201; 1201 mod 31 = 23; (31 - 23) mod 31 = 8 -> check '8'.
        "N2420100MA4K000008",
        "N1420100MA4K00010C",
        "Y1420100MA4K3L700J",
        "A1420100MA4KLT500T",
        # Other digit-first authorities (1 institutions, 5 civil affairs) and a check letter.
        "11420100011001200Y",
        "51420100077465120E",
        "92420100MA4KXYWU0R",
        "91420100MA4K2RT80Q",
    ],
)
def test_validate_uscc_accepts_valid_codes(code: str) -> None:
    assert validate_uscc(code) == code


def test_validate_uscc_check_of_the_domain_example_worked_by_hand() -> None:
    # 9142010000000000N: 9*1 + 1*3 + 4*9 + 2*27 + 1*26 + N(22)*28 = 744 = 24*31 -> remainder 0,
    # (31 - 0) mod 31 = 0 -> check '0'.
    assert uscc_check_character("9142010000000000N") == "0"


def test_validate_uscc_canonicalises_spaces_and_lower_case() -> None:
    assert validate_uscc(" 9111 0108 5513 8508 2q ") == "91110108551385082Q"
    assert validate_uscc("n2420100ma4k000008") == "N2420100MA4K000008"
    assert validate_uscc("9142010000000000n0") == "9142010000000000N0"


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341",  # 17
        "91110000600037341LL",  # 19
        "",
        "91110000-600037341L",  # a hyphen is not a space: 19 characters
    ],
)
def test_validate_uscc_refuses_wrong_length(code: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_uscc(code)
    assert str(excinfo.value).startswith("A Unified Social Credit Code has 18 characters, not ")


def test_validate_uscc_length_message_names_the_length() -> None:
    with pytest.raises(InvalidIdentifier, match=r"18 characters, not 17\.$"):
        validate_uscc("91110000600037341")
    with pytest.raises(InvalidIdentifier, match=r"18 characters, not 19\.$"):
        validate_uscc("91110000600037341LL")
    # and wholly in Chinese for a Chinese user (no English sentence in brackets any more)
    with translation.override("zh-hans"), pytest.raises(InvalidIdentifier) as excinfo:
        validate_uscc("91110000600037341")
    assert str(excinfo.value) == "统一社会信用代码应为 18 位，而不是 17 位。"  # noqa: RUF001


@pytest.mark.parametrize(
    ("code", "position", "char"),
    [
        ("91110000600037341I", 18, "I"),
        ("9111000060003734OL", 17, "O"),
        ("S1110000600037341L", 1, "S"),
        ("91110000V00037341L", 9, "V"),
        ("911100006000373Z1L", 16, "Z"),
        ("91110000600037341i", 18, "I"),  # lower case is upper-cased first
        ("9111000060003734-L", 17, "-"),
    ],
)
def test_validate_uscc_refuses_characters_outside_the_alphabet(code: str, position: int, char: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_uscc(code)
    assert str(excinfo.value).startswith(
        f"Character {position} ({char!r}) is not allowed in a Unified Social Credit Code"
    )


@pytest.mark.parametrize("code", ["91A10000600037341L", "9111000X600037341L", "N24A0100MA4K000008"])
def test_validate_uscc_refuses_non_digit_region(code: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_uscc(code)
    assert str(excinfo.value).startswith(
        "Characters 3-8 of a Unified Social Credit Code must be the six-digit region code"
    )


@pytest.mark.parametrize(
    "code",
    [
        "91110000600037341M",
        "91110108551385082R",
        "9142010000000000N1",
        "N2420100MA4K000009",
        "Y1420100MA4K3L700K",
        "91110000600037314L",  # transposed digits
    ],
)
def test_validate_uscc_refuses_wrong_check_character(code: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        validate_uscc(code)
    assert str(excinfo.value) == (
        "The check character of this Unified Social Credit Code is wrong; please re-type the code."
    )


def test_invalid_identifier_is_a_value_error() -> None:
    assert issubclass(InvalidIdentifier, ValueError)


# --- Patent application numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("201710601862.3", PatentNumber("201710601862.3", 2017, 1, "0601862", False)),
        ("202110100658.X", PatentNumber("202110100658.X", 2021, 1, "0100658", False)),
        ("201911304845.9", PatentNumber("201911304845.9", 2019, 1, "1304845", False)),
        ("97101765.4", PatentNumber("97101765.4", 1997, 1, "01765", True)),
        ("95115608.X", PatentNumber("95115608.X", 1995, 1, "15608", True)),
        # 2*2+0*3+2*4+1*5+2*6+0*7+1*8+2*9+3*2+4*3+5*4+6*5 = 123; 123 mod 11 = 2.
        ("202120123456.2", PatentNumber("202120123456.2", 2021, 2, "0123456", False)),
        ("202230000001.1", PatentNumber("202230000001.1", 2022, 3, "0000001", False)),
        ("201480012345.7", PatentNumber("201480012345.7", 2014, 8, "0012345", False)),
        ("201590054321.8", PatentNumber("201590054321.8", 2015, 9, "0054321", False)),
        ("200310012345.0", PatentNumber("200310012345.0", 2003, 1, "0012345", False)),
        # Legacy years: 85-99 -> 19YY, 00-03 -> 20YY.
        ("85100001.0", PatentNumber("85100001.0", 1985, 1, "00001", True)),
        ("99212345.3", PatentNumber("99212345.3", 1999, 2, "12345", True)),
        ("02200120.4", PatentNumber("02200120.4", 2002, 2, "00120", True)),
        ("03300123.5", PatentNumber("03300123.5", 2003, 3, "00123", True)),
    ],
)
def test_parse_patent_number_valid(raw: str, expected: PatentNumber) -> None:
    assert parse_patent_number(raw) == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        ("2017106018623", "201710601862.3"),
        ("CN201710601862.3", "201710601862.3"),
        ("cn 2017 1060 1862.3", "201710601862.3"),
        ("ZL201710601862.3", "201710601862.3"),
        ("zl202110100658x", "202110100658.X"),
        ("202110100658.x", "202110100658.X"),
        (" 2019 1 1304845 . 9 ", "201911304845.9"),
        ("971017654", "97101765.4"),
        ("ZL95115608x", "95115608.X"),
        ("Cn 97101765.4", "97101765.4"),
    ],
)
def test_parse_patent_number_canonicalises(raw: str, canonical: str) -> None:
    assert parse_patent_number(raw).canonical == canonical


def test_patent_check_character_worked_by_hand() -> None:
    # 9*2+7*3+1*4+0*5+1*6+7*7+6*8+5*9 = 191; 191 mod 11 = 4.
    assert patent_check_character("97101765") == "4"
    # 9*2+5*3+1*4+1*5+5*6+6*7+0*8+8*9 = 186; 186 mod 11 = 10 -> X.
    assert patent_check_character("95115608") == "X"
    # 2*2+0*3+1*4+9*5+1*6+0*7+1*8+2*9+3*2+4*3+5*4+6*5 = 153; 153 mod 11 = 10 -> X.
    assert patent_check_character("201910123456") == "X"


FORMAT_MESSAGE = (
    "A patent application number is 12 digits, a dot and a check character (e.g. 201710601862.3), "
    "or 8 digits and a check character for applications filed before 2003-10-01 (e.g. 97101765.4)."
)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "201710601862",  # no check character
        "20171060186.3",  # 11 digits
        "2017106018623.3",  # 13 digits
        "201710601862.33",
        "201710601862.A",
        "2017106018.623",  # dot in the wrong place
        "201710601862,3",
        "US201710601862.3",
        "CNZL201710601862.3",
        "9710176.4",  # 7 digits
        "٢٠١٧١٠٦٠١٨٦٢.3",  # non-ASCII digits
    ],
)
def test_parse_patent_number_refuses_bad_format(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        parse_patent_number(raw)
    assert str(excinfo.value) == FORMAT_MESSAGE


@pytest.mark.parametrize(("raw", "digit"), [("201740601862.3", 4), ("201700601862.3", 0), ("97701765.4", 7)])
def test_parse_patent_number_refuses_bad_type_digit(raw: str, digit: int) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        parse_patent_number(raw)
    assert str(excinfo.value).startswith(f"The patent type digit {digit} is not valid: ")


@pytest.mark.parametrize(
    ("raw", "message_start"),
    [
        ("84100001.0", "An 8-digit patent application number must start with a year from 85 to 03, not 84"),
        ("04100001.0", "An 8-digit patent application number must start with a year from 85 to 03, not 04"),
        ("200210012345.0", "12-digit patent application numbers start in 2003, not 2002"),
    ],
)
def test_parse_patent_number_refuses_impossible_year(raw: str, message_start: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        parse_patent_number(raw)
    assert str(excinfo.value).startswith(message_start)


@pytest.mark.parametrize(
    "raw",
    ["201910123456.7", "201710601862.4", "202110100658.0", "97101765.X", "95115608.0", "201710601826.3"],
)
def test_parse_patent_number_refuses_wrong_check_character(raw: str) -> None:
    with pytest.raises(InvalidIdentifier) as excinfo:
        parse_patent_number(raw)
    assert str(excinfo.value) == (
        "The check character of this patent application number is wrong; please re-type the number."
    )


def test_patent_type_digits() -> None:
    expected = {"invention": {1, 8}, "utility_model": {2, 9}, "design": {3}}
    assert expected == PATENT_TYPE_DIGITS


@pytest.mark.parametrize(
    ("raw", "patent_type"),
    [
        ("201710601862.3", "invention"),
        ("201480012345.7", "invention"),
        ("202120123456.2", "utility_model"),
        ("201590054321.8", "utility_model"),
        ("202230000001.1", "design"),
        ("03300123.5", "design"),
    ],
)
def test_check_type_agrees_accepts_matching_type(raw: str, patent_type: str) -> None:
    check_type_agrees(parse_patent_number(raw), patent_type)  # does not raise


@pytest.mark.parametrize(
    ("raw", "patent_type"),
    [
        ("201710601862.3", "utility_model"),
        ("201710601862.3", "design"),
        ("202120123456.2", "invention"),
        ("201480012345.7", "design"),
        ("202230000001.1", "invention"),
    ],
)
def test_check_type_agrees_refuses_other_type(raw: str, patent_type: str) -> None:
    number = parse_patent_number(raw)
    with pytest.raises(InvalidIdentifier) as excinfo:
        check_type_agrees(number, patent_type)
    assert str(excinfo.value).startswith(
        f"Patent application number {number.canonical} has type digit {number.type_digit}, "
        f"which is not a {patent_type.replace('_', ' ')}"
    )


def test_check_type_agrees_unknown_type_is_a_plain_value_error() -> None:
    number = parse_patent_number("201710601862.3")
    with pytest.raises(ValueError, match="unknown patent type 'trademark'") as excinfo:
        check_type_agrees(number, "trademark")
    assert not isinstance(excinfo.value, InvalidIdentifier)


def test_patent_number_is_frozen() -> None:
    number = parse_patent_number("201710601862.3")
    with pytest.raises(AttributeError):
        number.canonical = "x"  # type: ignore[misc]


# --- Patent term --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("patent_type", "filed_on", "expires_on"),
    [
        ("invention", date(2020, 4, 1), date(2040, 3, 31)),
        # 2040 is a leap year: anniversary 2040-02-29, expiry the day before.
        ("invention", date(2020, 2, 29), date(2040, 2, 28)),
        ("invention", date(2020, 3, 1), date(2040, 2, 29)),
        ("invention", date(2021, 1, 1), date(2040, 12, 31)),
        # 2030 is common: anniversary 2030-03-01, expiry 2030-02-28.
        ("utility_model", date(2020, 2, 29), date(2030, 2, 28)),
        ("utility_model", date(2019, 1, 1), date(2028, 12, 31)),
        ("utility_model", date(2023, 6, 15), date(2033, 6, 14)),
        ("design", date(2020, 2, 29), date(2030, 2, 28)),
        ("design", date(2021, 5, 31), date(2031, 5, 30)),  # before 2021-06-01: 10 years
        ("design", date(2021, 6, 1), date(2036, 5, 31)),  # from 2021-06-01: 15 years
        ("design", date(2024, 2, 29), date(2039, 2, 28)),  # 2039 common: anniversary 03-01
    ],
)
def test_patent_expiry(patent_type: str, filed_on: date, expires_on: date) -> None:
    assert patent_expiry(patent_type, filed_on) == expires_on


def test_patent_expiry_adds_adjustment_days() -> None:
    # 2040-03-31 + 100 days: April 30 + May 31 + June 30 = 91 -> 2040-06-30, + 9 -> 2040-07-09.
    assert patent_expiry("invention", date(2020, 4, 1), adjustment_days=100) == date(2040, 7, 9)
    assert patent_expiry("utility_model", date(2020, 2, 29), adjustment_days=1) == date(2030, 3, 1)
    assert patent_expiry("invention", date(2020, 4, 1), adjustment_days=0) == date(2040, 3, 31)


def test_patent_expiry_refuses_negative_adjustment() -> None:
    with pytest.raises(ValueError, match="term-adjustment days cannot be negative"):
        patent_expiry("invention", date(2020, 4, 1), adjustment_days=-1)


def test_patent_expiry_refuses_unknown_type() -> None:
    with pytest.raises(ValueError, match="unknown patent type 'trademark'"):
        patent_expiry("trademark", date(2020, 4, 1))
