"""Creating and editing stored objects safely when others may write them at the same time."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from chalicelib.errors import ConditionFailed, Conflict, raise_taken, retry_on_conflict

T = TypeVar("T")


def edit(read: Callable[[], T], change: Callable[[T], T], save: Callable[[T, T], None],
         taken: Mapping[str, tuple[str, str]]) -> T:
    """Read an object, change it, and write it with a write conditional on what was read.

    If the stored object changed in between, read it again and redo the change (a
    few times at most), so rules are always checked against what is stored. A failed
    claim named in `taken` (label -> (field, message)) is a 409 naming that field.
    """
    def attempt() -> T:
        before = read()
        after = change(before)
        if after == before:
            return before
        try:
            save(before, after)
        except ConditionFailed as exc:
            if any(label in taken for label in exc.labels):
                raise_taken(exc, taken)
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc  # changed meanwhile: read again
        return after

    try:
        return retry_on_conflict(attempt)
    except ConditionFailed:
        raise Conflict("This record is being changed by someone else right now; try again.") from None


def create(item: T, add: Callable[[T], None], taken: Mapping[str, tuple[str, str]]) -> T:
    """Write a new object with its claims; a failed claim or check named in `taken` is a 409
    naming that field (a 400 for a `Missing` record)."""
    try:
        add(item)
    except ConditionFailed as exc:
        raise_taken(exc, taken)
    return item


def set_fields(data: Mapping[str, Any], fields: Iterable[str]) -> Callable[[T], T]:
    """A change for edit(): the values `data` gives for `fields`, everything else as it was."""
    chosen = {name: data[name] for name in fields if name in data}
    return lambda item: replace(item, **chosen)
