"""A queue's day: closing and opening today's queue, and expiring what is left of ended days.

The clinic's day is its local date in the configured time zone, so a patient who joins at
23:59 local time belongs to that day whatever UTC says, and the reset closes a day only once it
has ended there.
"""
from __future__ import annotations

from chalicelib.domain import clock
from chalicelib.domain.entities import EXPIRED, WAITING, User, queue_name
from chalicelib.domain.ports.queue import ENTRY_CHANGED
from chalicelib.domain.queue.rules import CLAIM_LIFETIME, department_of, moved
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, retry_on_conflict


def expire_past_days() -> int:
    """Expire every waiting or called entry of a day that has ended in the clinic's time zone.

    Safe to run at any time and any number of times: today's entries are never
    touched, and an entry already served or expired is skipped. Returns how many
    entries this run expired.
    """
    entries = stores().queue_entries
    expired = 0
    at = iso_instant(clock.now())
    for entry in entries.open_before(clock.today()):
        try:
            retry_on_conflict(lambda entry=entry: entries.expire(entry, moved(entry, None, EXPIRED, at)))
        except ConditionFailed as exc:
            if ENTRY_CHANGED in exc.labels:
                continue  # served or closed meanwhile
            raise
        expired += 1
    return expired


def close_queue(actor: User, department_id: int | None) -> int:
    """Stop today's queue taking joins and expire its waiting entries; returns how many expired.

    The flag is set first: a join's token and its entry's transaction are both conditional on
    it, so a join racing the close either lands before the flag (and its waiting entry is found
    and expired here) or is refused. Closing again changes nothing.
    """
    department_of(department_id)
    entries = stores().queue_entries
    queue, now = queue_name(department_id), clock.now()
    day, at = clock.day_of(now), iso_instant(now)
    stores().queue_days.close(queue, day, at, expires_at=now + CLAIM_LIFETIME)
    expired = 0
    for entry_id in entries.waiting_ids(queue, day):
        def expire(entry_id: int = entry_id) -> bool:
            entry = entries.get(entry_id)
            if entry is None or entry.status != WAITING:
                return False
            try:
                entries.change(entry, moved(entry, actor, EXPIRED, at))
            except ConditionFailed as exc:
                raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
            return True
        expired += bool(retry_on_conflict(expire))
    return expired


def open_queue(actor: User, department_id: int | None) -> None:
    """Let today's queue take joins again."""
    department_of(department_id)
    stores().queue_days.reopen(queue_name(department_id), clock.today())
