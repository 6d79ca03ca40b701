"""The serviced book of tests/fintech/repayments/conftest.py (its figures are worked there) and the
real-worker fixtures."""

from tests.fintech.repayments.conftest import (  # noqa: F401  (fixtures)
    _fast_hasher,
    book,
    make_book,
    platform,
    queue,
    regulator,
    through_the_broker,
    worker,
)
