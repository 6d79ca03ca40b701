"""Identifier rules (DOMAIN.md sections 2 and 3): USCC, patent application numbers, patent terms.

Pure functions, no Django: callers turn `InvalidIdentifier` into a field error.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from django.utils.translation import gettext as _
from stdnum.cn import uscc as _stdnum_uscc


class InvalidIdentifier(ValueError):
    """A USCC or patent number that breaks its standard; the message is meant for the user."""


# --- Unified Social Credit Code (GB 32100-2015) -------------------------------------------------

USCC_LENGTH = 18
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

_WHITESPACE = re.compile(r"\s+")


def uscc_check_character(first17: str) -> str:
    """The GB 32100-2015 check character of the first 17 characters (already validated)."""
    # stdnum's calc_check_digit applies exactly the GB 32100 weights and (31 - sum mod 31) mod 31
    # to any characters of the alphabet, including a letter in position 1; it is only
    # stdnum.cn.uscc.validate() that refuses letter-first codes (it wants positions 1-8 to be
    # digits), so we run our own format checks -- letter-first codes issued by other registration
    # authorities (N agriculture, A/Y others) are lawful -- and use stdnum for the sum.
    return _stdnum_uscc.calc_check_digit(first17)


def validate_uscc(raw: str) -> str:
    """Return the canonical USCC (spaces removed, upper case) or raise InvalidIdentifier.

    Checks, in order: length 18, alphabet, characters 3-8 are six digits (GB/T 2260 region of
    registration), check character.
    """
    code = _WHITESPACE.sub("", raw).upper()
    if len(code) != USCC_LENGTH:
        raise InvalidIdentifier(
            _("A Unified Social Credit Code has 18 characters, not %(count)s.") % {"count": len(code)}
        )
    for position, char in enumerate(code, start=1):
        if char not in USCC_ALPHABET:
            raise InvalidIdentifier(
                _(
                    "Character %(position)s (%(char)s) is not allowed in a Unified Social Credit Code: "
                    "use digits and the letters A-Y except I, O, S, V."
                )
                % {"position": position, "char": repr(char)}
            )
    if not code[2:8].isdigit():
        raise InvalidIdentifier(
            _(
                "Characters 3-8 of a Unified Social Credit Code must be the six-digit region code "
                "of registration."
            )
        )
    if code[17] != uscc_check_character(code[:17]):
        raise InvalidIdentifier(
            _("The check character of this Unified Social Credit Code is wrong; please re-type the code.")
        )
    return code


# --- Chinese patent application numbers (ZC 0006-2003) ------------------------------------------

PATENT_TYPE_DIGITS: dict[str, set[int]] = {
    "invention": {1, 8},
    "utility_model": {2, 9},
    "design": {3},
}
_VALID_TYPE_DIGITS = frozenset(d for digits in PATENT_TYPE_DIGITS.values() for d in digits)

_PATENT_WEIGHTS = (2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5)
# Optional CN / ZL prefix, 12 or 8 digits, optional dot, check character (digit or X).
_PATENT_PATTERN = re.compile(r"^(?:CN|ZL)?([0-9]{12}|[0-9]{8})\.?([0-9X])$")  # ASCII digits only
_FIRST_12_DIGIT_YEAR = 2003  # ZC 0006-2003 applies from 2003-10-01


@dataclass(frozen=True)
class PatentNumber:
    """A parsed, valid application number; `canonical` is the form stored (201710601862.3)."""

    canonical: str
    filing_year: int
    type_digit: int
    serial: str
    legacy: bool  # the 8-digit form used before 2003-10-01


def patent_check_character(digits: str) -> str:
    """Check character of 12 (or legacy 8) digits: weighted sum mod 11, 'X' for 10."""
    remainder = sum(int(d) * w for d, w in zip(digits, _PATENT_WEIGHTS, strict=False)) % 11
    return "X" if remainder == 10 else str(remainder)


def parse_patent_number(raw: str) -> PatentNumber:
    """Parse a patent application number into its canonical form or raise InvalidIdentifier.

    Accepts an optional CN/ZL prefix (any case), spaces anywhere, with or without the dot.
    """
    text = _WHITESPACE.sub("", raw).upper()
    match = _PATENT_PATTERN.match(text)
    if match is None:
        raise InvalidIdentifier(
            _(
                "A patent application number is 12 digits, a dot and a check character "
                "(e.g. 201710601862.3), or 8 digits and a check character for applications filed "
                "before 2003-10-01 (e.g. 97101765.4)."
            )
        )
    digits, check = match.groups()
    legacy = len(digits) == 8
    if legacy:
        two_digit_year = int(digits[:2])
        if 85 <= two_digit_year <= 99:
            filing_year = 1900 + two_digit_year
        elif two_digit_year <= 3:
            filing_year = 2000 + two_digit_year
        else:
            raise InvalidIdentifier(
                _("An 8-digit patent application number must start with a year from 85 to 03, not %(year)s.")
                % {"year": digits[:2]}
            )
        type_digit, serial = int(digits[2]), digits[3:]
    else:
        filing_year = int(digits[:4])
        if filing_year < _FIRST_12_DIGIT_YEAR:
            raise InvalidIdentifier(
                _(
                    "12-digit patent application numbers start in 2003, not %(year)s; older numbers have 8 "
                    "digits."
                )
                % {"year": filing_year}
            )
        type_digit, serial = int(digits[4]), digits[5:]
    if type_digit not in _VALID_TYPE_DIGITS:
        raise InvalidIdentifier(
            _(
                "The patent type digit %(digit)s is not valid: use 1 (invention), 2 (utility model), "
                "3 (design), 8 (PCT invention) or 9 (PCT utility model)."
            )
            % {"digit": type_digit}
        )
    # Like the USCC, the expected check character is not revealed: a wrong one usually means a
    # mistyped digit, and the user should re-read the certificate rather than copy our answer.
    if check != patent_check_character(digits):
        raise InvalidIdentifier(
            _("The check character of this patent application number is wrong; please re-type the number.")
        )
    return PatentNumber(
        canonical=f"{digits}.{check}",
        filing_year=filing_year,
        type_digit=type_digit,
        serial=serial,
        legacy=legacy,
    )


def _type_digits(patent_type: str) -> set[int]:
    try:
        return PATENT_TYPE_DIGITS[patent_type]
    except KeyError:
        raise ValueError(
            f"unknown patent type {patent_type!r}; expected one of {sorted(PATENT_TYPE_DIGITS)}"
        ) from None


def _type_label(patent_type: str) -> str:
    from fintech.models.patents import PatentType  # the rules import no models at import time

    return str(PatentType(patent_type).label).lower() if patent_type in PatentType.values else patent_type


def check_type_agrees(number: PatentNumber, patent_type: str) -> None:
    """Raise InvalidIdentifier when the number's type digit is not one of `patent_type`'s."""
    if number.type_digit not in _type_digits(patent_type):
        raise InvalidIdentifier(
            _("Patent application number %(number)s has type digit %(digit)s, which is not a %(type)s.")
            % {"number": number.canonical, "digit": number.type_digit, "type": _type_label(patent_type)}
        )


# --- Patent term (Patent Law art. 42, as amended effective 2021-06-01) ---------------------------

DESIGN_15_YEAR_TERM_FROM = date(2021, 6, 1)


def patent_term_years(patent_type: str, filing_date: date) -> int:
    """Term in years counted from the filing date."""
    _type_digits(patent_type)
    if patent_type == "invention":
        return 20
    if patent_type == "utility_model":
        return 10
    # The 2020 amendment lengthened designs to 15 years for applications filed from 2021-06-01.
    return 15 if filing_date >= DESIGN_15_YEAR_TERM_FROM else 10


def _anniversary(start: date, years: int) -> date:
    year = start.year + years
    if start.month == 2 and start.day == 29 and not calendar.isleap(year):
        # A 29 February filing has its anniversary on 1 March in a common year.
        return date(year, 3, 1)
    return start.replace(year=year)


def patent_expiry(patent_type: str, filing_date: date, adjustment_days: int = 0) -> date:
    """Last day of protection: filing date + term years - 1 day, plus term-adjustment days."""
    if adjustment_days < 0:
        raise ValueError("term-adjustment days cannot be negative")
    years = patent_term_years(patent_type, filing_date)
    return _anniversary(filing_date, years) - timedelta(days=1) + timedelta(days=adjustment_days)
