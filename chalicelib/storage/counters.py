"""Atomic counters (ids, daily token numbers) and uniqueness claims."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.storage.base import bind, register


@register
class CounterModel(Model):
    class Meta:
        table_suffix = "counters"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)


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


def next_value(name: str, step: int = 1) -> int:
    """Atomically add to a counter and return its new value (one UpdateItem with ADD)."""
    bind()
    counter = CounterModel(name)
    counter.update(actions=[CounterModel.value.add(step)])
    return int(counter.value)


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
