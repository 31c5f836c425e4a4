"""The token queue: joining, calling, serving, positions, and closing past days.

The clinic's day is its local date in the configured time zone, so a patient who
joins at 23:59 local time belongs to that day whatever UTC says, and the reset
closes a day only once it has ended there.
"""
from __future__ import annotations

import random
import time
from datetime import timedelta

from chalicelib.domain import clock
from chalicelib.domain.departments import check_exists as check_department
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import (
    EXPIRED,
    NORMAL,
    SERVED,
    URGENT,
    WAITING,
    Page,
    QueueEntry,
    User,
    queue_name,
)
from chalicelib.domain.permissions import NOT_ALLOWED, PATIENT, own_patient_id
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, NotFound, ValidationFailed, found
from chalicelib.storage import counters, queue_entries
from chalicelib.storage.transactions import retry_on_conflict

# A patient's claim on a queue, and the day's token counter, outlive the day by this much
# (a day lasts at most 25 hours), then DynamoDB's TTL drops them.
CLAIM_LIFETIME = timedelta(days=2)
# Candidates read per Query when calling the next token; more only matter when desks collide.
CALL_CANDIDATES = 32
CALL_ROUNDS = 40
TRIES_PER_LOOK = 2
JOIN_ATTEMPTS = 3
_random = random.SystemRandom()


class AlreadyQueued(Conflict):
    """The patient already holds a waiting or called place in this queue today (409)."""

    def __init__(self, entry: QueueEntry):
        message = "This patient already has a place in this queue today."
        super().__init__(message, fields={"patient_id": message})
        self.entry = entry


def _check_entry_access(actor: User, entry: QueueEntry) -> None:
    """Patients see their own entries; the other roles a route allows see all."""
    if actor.role == PATIENT and entry.patient != actor.patient_id:
        raise Forbidden(NOT_ALLOWED)


def _get(entry_id: int) -> QueueEntry:
    return found(queue_entries.get(entry_id), "queue entry", entry_id)


# -- joining ---------------------------------------------------------------------

def join(actor: User, data: dict) -> QueueEntry:
    """Give a patient the next token of a queue today.

    Patients join for themselves; staff and admins for any patient, and only they
    may mark an entry urgent. One open place per patient, queue and day.
    """
    priority = data.get("priority") or NORMAL
    if actor.role == PATIENT:
        own = own_patient_id(actor)
        if data.get("patient_id") not in (None, own):
            raise Forbidden("A patient can only join the queue for themself.")
        if priority == URGENT:
            raise Forbidden("Only staff can give an entry urgent priority.")
        patient_id = own
    else:
        patient_id = data.get("patient_id")
        if patient_id is None:
            raise ValidationFailed.field("patient_id", "This field is required.")
    department_id = data.get("department")
    now = clock.now()
    day = clock.day_of(now)
    queue = queue_name(department_id)
    # Everything that can refuse the join is read first, in one call, so a refused
    # join never uses up a token number; the claim written with the entry settles
    # joins of one patient that race past this check.
    check = retry_on_conflict(lambda: queue_entries.check_join(patient_id, department_id, day))
    if not check.department_exists:
        raise no_department(department_id)
    if not check.patient_exists:
        raise NotFound(f"No patient with id {patient_id}.")
    _raise_if_queued(check.holder)
    entry = QueueEntry(
        id=counters.reserved_id("queue_entry"),
        token_number=queue_entries.next_token_number(queue, day, expires_at=now + CLAIM_LIFETIME),
        queue_date=day, department=department_id, patient=patient_id, status=WAITING,
        priority=priority, created_at=iso_instant(now),
    )
    for _ in range(JOIN_ATTEMPTS):
        try:
            queue_entries.add(entry, claim_expires_at=now + CLAIM_LIFETIME)
            return entry
        except ConditionFailed as exc:
            if not exc.conflicted and queue_entries.ACTIVE_CLAIM not in exc.labels:
                raise
            # Another join of this patient won, or its place was released meanwhile.
            _raise_if_queued(queue_entries.active_entry_id(queue, day, patient_id))
    raise ValidationFailed.field("patient_id", "This patient's place is changing right now; try again.")


def _raise_if_queued(holder: int | None) -> None:
    """AlreadyQueued (with the entry) if the claim's holder is still waiting or called."""
    if holder is None:
        return
    entry = queue_entries.get(holder)
    if entry is not None and entry.is_open:
        raise AlreadyQueued(entry)


# -- the desk ------------------------------------------------------------------------

def call_next(actor: User, department_id: int | None = None) -> QueueEntry | None:
    """Call the queue's next waiting entry (urgent first, then lowest token); None if empty.

    Desks calling at the same instant each get a different entry: the move from
    waiting to called is conditional, and a desk that loses tries another candidate
    (see _calling_order), looking at the head again after two tries.
    """
    queue = queue_name(department_id)
    day = clock.today()
    called_at = iso_instant(clock.now())
    for _ in range(CALL_ROUNDS):
        candidates = queue_entries.waiting_head(queue, day, CALL_CANDIDATES)
        if not candidates:
            # An empty queue, or no such department: entries exist only in departments that do.
            check_department(department_id)
            return None
        # Two tries per look at the head: past that, this desk's view is too old to guess from.
        for entry_id in _calling_order(candidates, queue, day)[:TRIES_PER_LOOK]:
            called = queue_entries.mark_called(entry_id, called_at)
            if called is not None:
                return called
            _contended(queue, day)
    return None


# Until when (time.monotonic()) this process saw desks collide, per queue and day: while
# they do, a desk's first try is spread over the head of the queue instead of every desk
# trying the same first entry.
_contention: dict[tuple[str, str], float] = {}
CONTENTION_SECONDS = 1.0


def _contended(queue: str, day) -> None:
    _contention[(queue, day.isoformat())] = time.monotonic() + CONTENTION_SECONDS


def forget_contention() -> None:
    """Forget collisions seen so far (a process that starts over with new tables: tests)."""
    _contention.clear()


def _calling_order(candidates: list[int], queue: str, day) -> list[int]:
    """The order to try the head candidates in.

    Alone, a desk takes the head: the queue's order exactly. While desks collide in
    this queue (this process saw one lose an entry to another in the last second),
    the candidates are tried in a random order, so colliding desks spread over the
    head instead of all trying its first entry: an entry can be overtaken only by
    one at most CALL_CANDIDATES places behind it, and only while desks call at once.
    """
    if time.monotonic() >= _contention.get((queue, day.isoformat()), 0.0):
        return [candidates[0], *_random.sample(candidates[1:], len(candidates) - 1)]
    return _random.sample(candidates, len(candidates))


def mark_served(actor: User, entry_id: int) -> QueueEntry:
    """Serve an entry; serving it again changes nothing. An expired entry cannot be served."""

    def attempt() -> QueueEntry:
        entry = _get(entry_id)
        if entry.status == SERVED:
            return entry
        if entry.status == EXPIRED:
            raise ValidationFailed.field(
                "status", "This entry expired when its day (%s) closed; it cannot be served."
                % entry.queue_date.isoformat())
        try:
            return queue_entries.mark_served(entry, iso_instant(clock.now()))
        except ConditionFailed as exc:
            # Called, served or expired meanwhile: read it again and decide afresh.
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc

    return retry_on_conflict(attempt)


# -- looking -------------------------------------------------------------------------

def get_entry(actor: User, entry_id: int) -> QueueEntry:
    """One entry: the patient's own, or any for doctors, staff and admins."""
    entry = _get(entry_id)
    _check_entry_access(actor, entry)
    return entry


def position(actor: User, entry_id: int) -> dict:
    """Where an entry stands: how many waiting entries will be called before it."""
    entry = get_entry(actor, entry_id)
    ahead = queue_entries.count_ahead(entry) if entry.status == WAITING else 0
    return {"id": entry.id, "token_number": entry.token_number, "status": entry.status,
            "people_ahead": ahead, "position": ahead + 1 if entry.status == WAITING else 0}


def list_today(actor: User, department_id: int | None, limit: int, cursor: str | None) -> Page:
    """Today's entries of a queue in token order; a patient sees only their own."""
    if actor.role == PATIENT:
        own = own_patient_id(actor)
        check_department(department_id)
        return queue_entries.patient_day_page(own, queue_name(department_id), clock.today(), limit, cursor)
    check_department(department_id)
    return queue_entries.day_page(queue_name(department_id), clock.today(), limit, cursor)


# -- closing days ------------------------------------------------------------------------

def expire_past_days() -> int:
    """Expire every waiting or called entry of a day that has ended in the clinic's time zone.

    Safe to run at any time and any number of times: today's entries are never
    touched, and an entry already served or expired is skipped. Returns how many
    entries this run expired.
    """
    expired = 0
    for entry in queue_entries.open_before(clock.today()):
        if retry_on_conflict(lambda entry=entry: queue_entries.expire(entry)):
            expired += 1
    return expired

