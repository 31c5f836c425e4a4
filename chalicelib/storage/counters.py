"""Atomic counters: ids, a day's token numbers, failed attempts in a window."""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.transactions import CONDITION_FAILED, cause, get_or_none


@register
class CounterModel(StoredModel):
    """A number that only moves by atomic ADDs. Ids live for ever; short-lived
    counters (a day's token numbers, failed logins in a window) carry an expiry."""

    class Meta:
        table_suffix = "counters"
        ttl_attribute = "expires_at"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)
    # A day's token counter only: when its queue was closed for the day (joins refused).
    closed = UnicodeAttribute(null=True)


def next_value(name: str, step: int = 1, expires_at: datetime | None = None, condition=None) -> int:
    """Atomically add to a counter and return its new value (one UpdateItem with ADD).

    With expires_at, DynamoDB's TTL removes the counter some time after that instant.
    With a condition, a counter that does not meet it raises pynamodb's UpdateError.
    """
    counter = CounterModel(name)
    actions = [CounterModel.value.add(step)]
    if expires_at is not None:
        actions.append(CounterModel.expires_at.set(expires_at))
    counter.update(actions=actions, condition=condition)
    return int(counter.value)


def current_value(name: str) -> int:
    """A counter's value now (a strongly consistent read); 0 if it was never added to."""
    counter = get_or_none(CounterModel, name)
    return int(counter.value) if counter else 0


def _part(part: str | None) -> NumberAttribute:
    """The item's own count (None), or a named part of it kept as an attribute of the same item."""
    return CounterModel.value if part is None else NumberAttribute(attr_name=f"part#{part}")


def take_attempt(name: str, limit: int, expires_at: datetime, part: str | None = None,
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


def return_attempt(name: str, part: str | None = None) -> None:
    """Take back an attempt counted by take_attempt (it succeeded, so it was no failure)."""
    actions = [_part(None).add(-1)]
    if part is not None:
        actions.append(_part(part).add(-1))
    CounterModel(name).update(actions=actions)
