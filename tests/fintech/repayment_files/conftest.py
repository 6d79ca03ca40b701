"""The serviced book of tests/fintech/repayments/conftest.py (its figures are worked there) and the
real-worker fixtures. The files are processed in English here (the reasons are asserted in English;
a file processed outside a request takes the language active then, by default Chinese)."""

from collections.abc import Iterator

import pytest
from django.utils import translation

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


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    with translation.override("en"):
        yield
