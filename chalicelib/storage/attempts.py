"""Attempts counted against a limit in a window (failed logins, wrong link codes, registrations).

Counters (take/give_back): one item per named period, e.g. a patient's bookings of one clinic
day. Sliding windows: one item per subject holding its recent attempts (see domain.ports.attempts)."""
from __future__ import annotations

import random
import time
from datetime import UTC, datetime

from pynamodb.exceptions import UpdateError

from chalicelib.domain.ports.attempts import Entry, Limits, decide
from chalicelib.errors import ConditionFailed
from chalicelib.storage.counters import CounterModel, current_value
from chalicelib.storage.transactions import CONDITION_FAILED, cause, get_or_none


def take(name: str, limit: int, expires_at: datetime) -> bool:
    """Count one attempt, unless the counter has reached its limit.

    One conditional UpdateItem adds one to the counter, or changes nothing and answers False
    when it is at its limit. The check and the count are one write, so attempts made at the
    same instant cannot get past a limit together.
    """
    total = CounterModel.value
    try:
        CounterModel(name).update(actions=[total.add(1), CounterModel.expires_at.set(expires_at)],
                                  condition=total.does_not_exist() | (total < limit))
    except UpdateError as exc:
        if cause(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def count(name: str) -> int:
    """The count take() has made under `name` (0 if none)."""
    return current_value(name)


def give_back(name: str) -> None:
    """Take back an attempt counted by take() (it was not used after all)."""
    CounterModel(name).update(actions=[CounterModel.value.add(-1)])


# Sliding windows: one item per subject, its entries rewritten by a write conditional on the
# version read (optimistic: of two writers, one wins and the other reads again and decides again).

_TRIES = 50


def _read(name: str) -> tuple[list[Entry], int | None]:
    item = get_or_none(CounterModel, name)
    if item is None:
        return [], None
    return [Entry.decode(text) for text in item.log or []], (int(item.log_version) if item.log_version is not None
                                                            else None)


def _write(name: str, entries: list[Entry], version: int | None, expires_at: float) -> bool:
    """Store `entries` if the item is still at `version`; False when another write came first."""
    condition = (CounterModel.log_version.does_not_exist() if version is None
                 else CounterModel.log_version == version)
    actions = [CounterModel.log.set([e.encode() for e in entries]),
               CounterModel.log_version.set((version or 0) + 1),
               CounterModel.expires_at.set(datetime.fromtimestamp(expires_at, tz=UTC))]
    try:
        CounterModel(name).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if cause(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def _rewrite(name: str, change, expires_at) -> object:
    """Read the window, let `change(entries)` answer (new entries or None to write nothing, result),
    write conditionally, and start again when another write came first."""
    for tried in range(_TRIES):
        entries, version = _read(name)
        new, result = change(entries)
        if new is None or _write(name, new, version, expires_at(new)):
            return result
        time.sleep(random.uniform(0, 0.002 * (tried + 1)))  # noqa: S311 (spreading retries, no secret)
    raise ConditionFailed([ConditionFailed.CONFLICT])


def take_sliding(name: str, entry: Entry, limits: Limits) -> int:
    """Add `entry` to the window unless a limit is reached (then the seconds to wait)."""
    return _rewrite(name, lambda entries: decide(entries, entry.at, limits, entry),
                    lambda new: entry.at + limits.window_seconds + 86400)


def give_back_sliding(name: str, token: str) -> None:
    def change(entries):
        kept = [e for e in entries if e.token != token]
        return (kept if len(kept) != len(entries) else None), None

    _rewrite(name, change, lambda new: max((e.at for e in new), default=0) + 2 * 86400)


def parts_since(name: str, since: float) -> set[str]:
    entries, _ = _read(name)
    return {e.part for e in entries if e.at > since}


def remember_part(name: str, entry: Entry, keep_seconds: float, most: int) -> None:
    def change(entries):
        kept = [e for e in entries if e.part != entry.part and e.at > entry.at - keep_seconds]
        kept = sorted(kept, key=lambda e: e.at)[-(most - 1):] if most > 1 else []
        return [*kept, entry], None

    _rewrite(name, change, lambda new: entry.at + keep_seconds + 86400)
