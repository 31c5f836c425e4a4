"""Atomic counters: the items behind ids (storage.ids) and attempts in a window (storage.attempts);
a queue's day is in storage.queue_days."""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.transactions import get_or_none


@register
class CounterModel(StoredModel):
    """A number that only moves by atomic ADDs. Ids live for ever; short-lived
    counters (a day's token numbers, failed logins in a window) carry an expiry."""

    class Meta:
        table_suffix = "counters"
        ttl_attribute = "expires_at"
        # Webhooks' queue.closed / queue.opened follow the queue days' closed flag (storage.queue_days).
        stream_view_type = "NEW_AND_OLD_IMAGES"

    name = UnicodeAttribute(hash_key=True)
    value = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)
    # A sliding window's attempts (storage.attempts): encoded entries, and a version each write moves.
    log = ListAttribute(of=UnicodeAttribute, null=True)
    log_version = NumberAttribute(null=True)


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
