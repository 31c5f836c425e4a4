"""Atomic counters (ids, daily token numbers) and uniqueness claims."""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.storage.base import bind, register


@register
class CounterModel(Model):
    """A number that only moves by atomic ADDs. Ids live for ever; short-lived
    counters (a day's token numbers, failed logins in a window) carry an expiry."""

    class Meta:
        table_suffix = "counters"
        ttl_attribute = "expires_at"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


@register
class UniqueModel(Model):
    """A claimed value (a username, an email, a doctor's time slot, a patient's
    place in today's queue). Written in the same transaction as its owner, with
    a does-not-exist condition, so two racing writers cannot both win."""

    class Meta:
        table_suffix = "uniques"
        ttl_attribute = "expires_at"

    key = UnicodeAttribute(hash_key=True)
    owner = NumberAttribute()
    expires_at = TTLAttribute(null=True)


def next_value(name: str, step: int = 1, expires_at: datetime | None = None) -> int:
    """Atomically add to a counter and return its new value (one UpdateItem with ADD).

    With expires_at, DynamoDB's TTL removes the counter some time after that instant.
    """
    bind()
    counter = CounterModel(name)
    actions = [CounterModel.value.add(step)]
    if expires_at is not None:
        actions.append(CounterModel.expires_at.set(expires_at))
    counter.update(actions=actions)
    return int(counter.value)


def current_value(name: str) -> int:
    """A counter's value now (a strongly consistent read); 0 if it was never added to."""
    bind()
    try:
        return int(CounterModel.get(name, consistent_read=True).value)
    except CounterModel.DoesNotExist:
        return 0


def next_id(kind: str) -> int:
    """A new id for an entity kind; ids are never reused."""
    return next_value(f"id#{kind}")


def claim(key: str, owner: int, expires_at=None) -> UniqueModel:
    """An unsaved claim, for a transaction to put with claim_condition()."""
    return UniqueModel(key, owner=owner, expires_at=expires_at)


def claim_condition():
    return UniqueModel.key.does_not_exist()


def owner_of(key: str) -> int | None:
    """Who holds a claim (a strongly consistent read), or None."""
    bind()
    try:
        return int(UniqueModel.get(key, consistent_read=True).owner)
    except UniqueModel.DoesNotExist:
        return None


def unique_key(namespace: str, value: str) -> str:
    return f"{namespace}#{value.lower()}"
