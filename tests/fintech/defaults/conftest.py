"""The daily close of tests/fintech/close/conftest.py: a default is declared by the bank or by the
close."""

from tests.fintech.close.conftest import _fast_password_hashing, close  # noqa: F401  (fixtures)
