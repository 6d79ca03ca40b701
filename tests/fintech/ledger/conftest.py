"""The serviced book of tests/fintech/repayments/conftest.py (its figures are worked there)."""

from tests.fintech.repayments.conftest import _fast_hasher, book, make_book, platform, regulator  # noqa: F401  (fixtures)
