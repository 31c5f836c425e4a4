"""What the in-memory stores share: one lock, the tables as dicts, the `uniques` items, counters,
and transactions that fail with the same labels, in the same order, as storage.transactions.

A transaction's conditions are all checked against the state before it, under the one lock,
and its writes all land or none do: what DynamoDB's TransactWriteItems promises. Labels are
reported as DynamoDB's cancellation reasons come back to storage: checks, deletes, puts, then
updates, each in the order they were added.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.domain.entities import Page
from chalicelib.errors import ConditionFailed, ValidationFailed

_ORDER = {"check": 0, "delete": 1, "put": 2, "update": 3}


@dataclass
class MemoryDb:
    lock: threading.RLock = field(default_factory=threading.RLock)
    tables: dict[str, dict] = field(default_factory=dict)
    uniques: dict[str, int] = field(default_factory=dict)
    counters: dict[str, dict[str, int]] = field(default_factory=dict)

    def table(self, name: str) -> dict:
        return self.tables.setdefault(name, {})

    def transaction(self) -> MemoryTransaction:
        return MemoryTransaction(self)


class MemoryTransaction:
    """Labelled conditions and writes, committed together: `with db.transaction() as tx: tx.put(...)`."""

    def __init__(self, db: MemoryDb):
        self.db = db
        self._ops: list[tuple[str, str, Callable[[], bool] | None, Callable[[], None] | None]] = []

    def check(self, label: str, condition: Callable[[], bool]) -> None:
        self._ops.append(("check", label, condition, None))

    def delete(self, label: str, condition: Callable[[], bool] | None, write: Callable[[], None]) -> None:
        self._ops.append(("delete", label, condition, write))

    def put(self, label: str, condition: Callable[[], bool] | None, write: Callable[[], None]) -> None:
        self._ops.append(("put", label, condition, write))

    def update(self, label: str, condition: Callable[[], bool] | None, write: Callable[[], None]) -> None:
        self._ops.append(("update", label, condition, write))

    # -- the uniques table, as storage.uniques writes it --------------------------------
    def put_unique(self, label: str, key: str, owner: int) -> None:
        self.put(label, lambda: key not in self.db.uniques, lambda: self.db.uniques.__setitem__(key, owner))

    def release_unique(self, label: str, key: str, owner: int | None = None) -> None:
        condition = None if owner is None else (lambda: self.db.uniques.get(key, owner) == owner)
        self.delete(label, condition, lambda: self.db.uniques.pop(key, None))

    def check_unheld(self, label: str, key: str, owner: int | None) -> None:
        self.check(label, lambda: self.db.uniques.get(key) in (None, owner))

    def move_unique(self, label: str, old_key: str | None, new_key: str | None, owner: int) -> None:
        if old_key == new_key:
            return
        if new_key:
            self.put_unique(label, new_key, owner)
        if old_key:
            self.release_unique(f"old-{label}", old_key, owner)

    def take_over_unique(self, label: str, key: str, owner: int, previous: int | None) -> None:
        condition = ((lambda: key not in self.db.uniques) if previous is None
                     else (lambda: self.db.uniques.get(key) == previous))
        self.put(label, condition, lambda: self.db.uniques.__setitem__(key, owner))

    def __enter__(self) -> MemoryTransaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        ops = sorted(self._ops, key=lambda op: _ORDER[op[0]])
        with self.db.lock:
            failed = [label for _, label, condition, _ in ops if condition is not None and not condition()]
            if failed:
                raise ConditionFailed(failed)
            for _, _, _, write in ops:
                if write is not None:
                    write()


def unique_key(namespace: str, value: str) -> str:
    """As storage.uniques keys a value: without regard to case, within its namespace."""
    return f"{namespace}#{value.lower()}"


def page(items: list, scope: str, limit: int, cursor: str | None, keep: Callable[[object], bool] = lambda _: True,
         ) -> Page:
    """One page as storage.cursors.query_page reads one: `limit` items of the list after the cursor,
    then the filter `keep` (so a page may hold fewer), and a cursor that is valid for this scope only."""
    start = 0
    if cursor is not None:
        name, _, position = cursor.rpartition("@")
        if name != scope or not position.isdigit():
            raise ValidationFailed.field("cursor", "Invalid or expired cursor.")
        start = int(position)
    read = items[start:start + limit]
    end = start + len(read)
    return Page(items=[item for item in read if keep(item)],
                next=f"{scope}@{end}" if read and len(read) == limit and end <= len(items) else None)
