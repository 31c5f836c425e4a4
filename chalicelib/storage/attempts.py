"""Attempts counted against a limit in a window (failed logins, wrong link codes): one counter
item per window, with a part per client address kept as an attribute of the same item."""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.storage.counters import CounterModel
from chalicelib.storage.transactions import CONDITION_FAILED, cause


def _part(part: str | None) -> NumberAttribute:
    """The item's own count (None), or a named part of it kept as an attribute of the same item."""
    return CounterModel.value if part is None else NumberAttribute(attr_name=f"part#{part}")


def take(name: str, limit: int, expires_at: datetime, part: str | None = None,
         part_limit: int | None = None) -> bool:
    """Count one attempt, unless the counter (or its `part`) has reached its limit.

    One conditional UpdateItem adds one to the counter and to the part (e.g. the
    attempts of one client address among all of a username's), or changes nothing
    and answers False when either is at its limit. The check and the count are one
    write, so attempts made at the same instant cannot get past a limit together.
    """
    total = _part(None)
    actions = [total.add(1), CounterModel.expires_at.set(expires_at)]
    condition = total.does_not_exist() | (total < limit)
    if part is not None:
        share = _part(part)
        actions.append(share.add(1))
        condition = condition & (share.does_not_exist() | (share < part_limit))
    try:
        CounterModel(name).update(actions=actions, condition=condition)
    except UpdateError as exc:
        if cause(exc) == CONDITION_FAILED:
            return False
        raise
    return True


def give_back(name: str, part: str | None = None) -> None:
    """Take back an attempt counted by take() (it succeeded, so it was no failure)."""
    actions = [_part(None).add(-1)]
    if part is not None:
        actions.append(_part(part).add(-1))
    CounterModel(name).update(actions=actions)
