"""Domain tests: the domain's stores in memory, installed for the test and removed after."""
from __future__ import annotations

import pytest

from chalicelib.domain import stores as installed
from tests.support.fakes import memory_stores


@pytest.fixture
def fakes():
    """Fresh in-memory stores, installed as the domain's for this test."""
    before = installed._current
    made = memory_stores()
    installed.use(made)
    yield made
    installed.use(before)
