"""Ids of stored objects."""
from __future__ import annotations

from typing import Protocol


class Ids(Protocol):
    def next_id(self, kind: str) -> int:
        """A new id for an entity kind; ids are never reused."""

    def reserved_id(self, kind: str) -> int:
        """A new id for a kind written often, possibly from a block the process reserved:
        unique and never reused, not necessarily consecutive."""
