"""The English API clients of tests/fintech/api/conftest.py: these tests assert DRF's and Django's
messages exactly."""

from tests.fintech.api.conftest import _fast_password_hashing, api, client_for  # noqa: F401  (fixtures)
