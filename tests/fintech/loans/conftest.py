"""The cast of the admin review screens (tests/fintech/admin/conftest.py)."""

from tests.fintech.admin.conftest import (  # noqa: F401  (fixtures)
    _admin_test_settings,
    cast,
    login,
    make_application,
    superuser,
)
