"""In-memory fakes of the domain's stores (chalicelib.domain.ports), for domain tests
that run in milliseconds without moto.

Each fake keeps the rules the DynamoDB implementation enforces with conditions (a
conditional write that loses raises `errors.ConditionFailed` with the same labels), so
the domain sees the same answers from either.
"""
from __future__ import annotations

from chalicelib.domain.stores import Stores
from tests.support.fakes.health import MemoryProbe
from tests.support.fakes.ids import MemoryIds


def memory_stores() -> Stores:
    """A fresh, empty set of in-memory stores."""
    return Stores(ids=MemoryIds(), probe=MemoryProbe())
