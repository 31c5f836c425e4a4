"""The token queue: joining, calling, the desk's other moves, positions, statistics, closing
a queue for the day and closing past days.

The clinic's day is its local date in the configured time zone, so a patient who
joins at 23:59 local time belongs to that day whatever UTC says, and the reset
closes a day only once it has ended there.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta

from chalicelib.domain import clock, notifications
from chalicelib.domain.departments import check_exists as check_department
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import (
    CALLED,
    CANCELED,
    ENTRY_STATUSES,
    EXPIRED,
    NO_SHOW,
    NORMAL,
    SERVED,
    TRANSFERRED,
    URGENT,
    WAITING,
    Event,
    Page,
    QueueEntry,
    User,
    queue_name,
)
from chalicelib.domain.permissions import ADMIN, DOCTOR, NOT_ALLOWED, PATIENT, STAFF, own_doctor_id, own_patient_id
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, NotFound, ValidationFailed, found, retry_on_conflict
from chalicelib.storage import departments as departments_store
from chalicelib.storage import queue_entries, service_points

# A patient's claim on a queue, and the day's token counter, outlive the day by this much
# (a day lasts at most 25 hours), then DynamoDB's TTL drops them.
CLAIM_LIFETIME = timedelta(days=2)
# Candidates read per Query when calling the next token; more only matter when desks collide.
CALL_CANDIDATES = 32
CALL_ROUNDS = 40
TRIES_PER_LOOK = 2
JOIN_ATTEMPTS = 3
# Wait estimates: the calling rate over the queue's latest first calls today, from at least
# MIN_CALLS of them.
RATE_CALLS = 10
MIN_CALLS = 3
CLOSED = "The queue is closed for today."
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
    if not check.department_active:
        raise inactive_department(department_id)
    if not check.patient_exists:
        raise NotFound(f"No patient with id {patient_id}.")
    _raise_if_queued(check.holder)
    notifications.check_contact(patient_id, data.get("notify"))
    entry_id = stores().ids.reserved_id("queue_entry")
    at = iso_instant(now)
    entry = QueueEntry(
        id=entry_id, token_number=_next_token(queue, day, now),
        queue_date=day, department=department_id, patient=patient_id, status=WAITING,
        priority=priority, created_at=at, visit=entry_id, history=[Event(WAITING, at, actor.id)],
        notify=data.get("notify"),
    )
    for _ in range(JOIN_ATTEMPTS):
        try:
            queue_entries.add(entry, claim_expires_at=now + CLAIM_LIFETIME)
            return entry
        except ConditionFailed as exc:
            if "queue-closed" in exc.labels:
                raise queue_closed() from None
            if not exc.conflicted and queue_entries.ACTIVE_CLAIM not in exc.labels:
                raise
            # Another join of this patient won, or its place was released meanwhile.
            _raise_if_queued(queue_entries.active_entry_id(queue, day, patient_id))
    raise ValidationFailed.field("patient_id", "This patient's place is changing right now; try again.")


def queue_closed() -> ValidationFailed:
    return ValidationFailed.field("department", CLOSED)


def _refuse_place(exc: ConditionFailed, held: str) -> None:
    """Raise what a move that takes a place in a queue (requeue, transfer) says when its write
    failed because the patient holds another place there (`held`) or the queue is closed."""
    if queue_entries.ACTIVE_CLAIM in exc.labels:
        raise ValidationFailed.field("patient_id", held) from None
    if "queue-closed" in exc.labels:
        raise queue_closed() from None


def inactive_department(department_id: int) -> ValidationFailed:
    return ValidationFailed.field("department", "Department %d is not active." % department_id)


def _next_token(queue: str, day: date, now: datetime) -> int:
    """The queue's next token number today; 400 on `department` once the queue is closed for the day."""
    try:
        return queue_entries.next_token_number(queue, day, expires_at=now + CLAIM_LIFETIME)
    except queue_entries.QueueClosed:
        raise queue_closed() from None


def _raise_if_queued(holder: int | None) -> None:
    """AlreadyQueued (with the entry) if the claim's holder is still waiting or called."""
    if holder is None:
        return
    entry = queue_entries.get(holder)
    if entry is not None and entry.is_open:
        raise AlreadyQueued(entry)


# -- the desk ------------------------------------------------------------------------

def call_next(actor: User, department_id: int | None = None, service_point: int | None = None
              ) -> QueueEntry | None:
    """Call the queue's next waiting entry (urgent first, then lowest token) to a service point;
    None if the queue is empty.

    Desks calling at the same instant each get a different entry: the move from
    waiting to called is conditional, and a desk that loses tries another candidate
    (see _calling_order), looking at the head again after two tries.
    """
    _check_desk(actor, department_id, service_point, calling=True)
    queue = queue_name(department_id)
    day = clock.today()
    event = Event(CALLED, iso_instant(clock.now()), actor.id, service_point)
    for _ in range(CALL_ROUNDS):
        candidates = queue_entries.waiting_head(queue, day, CALL_CANDIDATES)
        if not candidates:
            # An empty queue, or no such department: entries exist only in departments that do.
            check_department(department_id)
            return None
        # Two tries per look at the head: past that, this desk's view is too old to guess from.
        for entry_id in _calling_order(candidates, queue, day)[:TRIES_PER_LOOK]:
            called = queue_entries.mark_called(entry_id, queue, day, event)
            if called is not None:
                return called
            _contended(queue, day)
    return None


def _check_desk(actor: User, department_id: int | None, service_point: int | None = None, *,
                calling: bool = False) -> None:
    """Who may run a desk of this queue, and where.

    Staff and admins run every queue; a doctor only their own department's (403 elsewhere,
    the general queue included). A department's queue must be active to be called, and a
    service point must be an active one of this queue: 400 otherwise. What is needed is
    read in one call (none for staff calling the general queue without a service point).
    """
    doctor_id = None
    if actor.role == DOCTOR:
        if department_id is None:
            raise Forbidden("A doctor runs only their own department's queue.")
        doctor_id = own_doctor_id(actor)
    elif actor.role not in (STAFF, ADMIN):
        raise Forbidden(NOT_ALLOWED)
    wanted_department = department_id if calling else None
    if doctor_id is None and wanted_department is None and service_point is None:
        return
    doctor, department, point = service_points.desk_records(doctor_id, wanted_department, service_point)
    if doctor_id is not None and (doctor is None or doctor.department != department_id):
        raise Forbidden("A doctor runs only their own department's queue.")
    if wanted_department is not None:
        if department is None:
            raise no_department(wanted_department)
        if not department.is_active:
            raise inactive_department(wanted_department)
    if service_point is not None and (point is None or not point.is_active or point.department != department_id):
        raise ValidationFailed.field("service_point", "No active service point %d in this queue." % service_point)


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


def _act(actor: User, entry_id: int, accepts: tuple[str, ...], verb: str,
         make: Callable[[QueueEntry, str], QueueEntry], *, service_point: int | None = None,
         check: Callable[[QueueEntry], None] | None = None, done: Callable[[QueueEntry], bool] | None = None
         ) -> QueueEntry:
    """Read an entry, check who may act on it and that its status accepts the move, and write the
    changed entry with one conditional write; read again and decide afresh if it changed meanwhile."""
    checked = False

    def attempt() -> QueueEntry:
        nonlocal checked
        entry = _get(entry_id)
        if not checked:
            (check or (lambda e: _check_desk(actor, e.department, service_point)))(entry)
            checked = True
        if done is not None and done(entry):
            return entry
        if entry.status not in accepts:
            raise _wrong_status(entry, verb)
        if entry.queue_date != clock.today():
            raise ValidationFailed.field("status", "This entry belongs to an earlier day (%s)."
                                         % entry.queue_date.isoformat())
        now = clock.now()
        after = make(entry, iso_instant(now))
        try:
            queue_entries.change(entry, after, claim_expires_at=now + CLAIM_LIFETIME)
        except ConditionFailed as exc:
            _refuse_place(exc, "This patient meanwhile holds another place in this queue today.")
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
        return after

    return retry_on_conflict(attempt)


def _wrong_status(entry: QueueEntry, verb: str) -> ValidationFailed:
    if entry.status == EXPIRED:
        message = "This entry expired when its day (%s) or its queue closed; it cannot be %s." % (
            entry.queue_date.isoformat(), verb)
    else:
        message = f"A {entry.status.replace('_', '-')} entry cannot be {verb}."
    return ValidationFailed.field("status", message)


def _moved(entry: QueueEntry, actor: User | None, status: str, at: str, point: int | None = None,
           **changes) -> QueueEntry:
    """The entry after a move to `status`, with the move appended to its history."""
    if status not in (WAITING, CALLED):
        changes.setdefault("closed_at", at)
    event = Event(status, at, actor.id if actor else None, point)
    return replace(entry, status=status, history=[*entry.history, event], **changes)


def mark_served(actor: User, entry_id: int) -> QueueEntry:
    """Serve a called or waiting entry; serving it again changes nothing."""
    return _act(actor, entry_id, (WAITING, CALLED), "served",
                lambda e, at: _moved(e, actor, SERVED, at, e.service_point, served_at=at),
                done=lambda e: e.status == SERVED)


def recall(actor: User, entry_id: int, service_point: int | None = None) -> QueueEntry:
    """Call a called entry again (a patient who did not come), at the same or another service point."""
    def make(entry: QueueEntry, at: str) -> QueueEntry:
        point = service_point if service_point is not None else entry.service_point
        return _moved(entry, actor, CALLED, at, point, called_at=at, called_by=actor.id, service_point=point,
                      recalls=entry.recalls + 1)
    return _act(actor, entry_id, (CALLED,), "recalled", make, service_point=service_point)


def no_show(actor: User, entry_id: int) -> QueueEntry:
    """A called patient who did not come: the entry closes and their place is freed."""
    return _act(actor, entry_id, (CALLED,), "marked as a no-show",
                lambda e, at: _moved(e, actor, NO_SHOW, at, e.service_point))


def requeue(actor: User, entry_id: int) -> QueueEntry:
    """Put a called or no-show entry back to waiting in its original place (token and priority)."""
    return _act(actor, entry_id, (CALLED, NO_SHOW), "requeued",
                lambda e, at: _moved(e, actor, WAITING, at, closed_at=None))


def cancel(actor: User, entry_id: int) -> QueueEntry:
    """A patient leaving: a waiting or called entry is canceled. Patients cancel their own."""
    def check(entry: QueueEntry) -> None:
        if actor.role == PATIENT:
            _check_entry_access(actor, entry)
        elif actor.role not in (STAFF, ADMIN):
            raise Forbidden(NOT_ALLOWED)
    return _act(actor, entry_id, (WAITING, CALLED), "canceled",
                lambda e, at: _moved(e, actor, CANCELED, at, e.service_point), check=check)


def transfer(actor: User, entry_id: int, data: dict) -> QueueEntry:
    """Send a waiting or called patient on to another queue (triage to a doctor, a doctor to the
    pharmacy): the entry becomes `transferred` and the patient's new waiting entry in the target
    queue, with its next token, is written in the same transaction. Returns the new entry."""
    target = data.get("department")
    priority = data.get("priority")
    if priority == URGENT and actor.role not in (STAFF, ADMIN):
        raise Forbidden("Only staff can give an entry urgent priority.")
    entry = _get(entry_id)
    _check_desk(actor, entry.department)
    now = clock.now()
    at = iso_instant(now)
    new: QueueEntry | None = None
    for _ in range(5):
        if entry.status not in (WAITING, CALLED):
            raise _wrong_status(entry, "transferred")
        if entry.queue_date != clock.today():
            raise ValidationFailed.field("status", "This entry belongs to an earlier day.")
        if new is None:
            if queue_name(target) == entry.queue:
                raise ValidationFailed.field("department", "The entry is already in this queue.")
            _check_target(target)
            # Refused before the token is taken, as a join is; the claim in the transaction settles races.
            holder = queue_entries.active_entry_id(queue_name(target), entry.queue_date, entry.patient)
            if holder is not None and (held := queue_entries.get(holder)) is not None and held.is_open:
                raise ValidationFailed.field("patient_id", "This patient already holds a place in that queue today.")
            new_id = stores().ids.reserved_id("queue_entry")
            new = QueueEntry(
                id=new_id, token_number=_next_token(queue_name(target), entry.queue_date, now),
                queue_date=entry.queue_date, department=target, patient=entry.patient, status=WAITING,
                priority=priority or entry.priority, created_at=at, visit=entry.visit, transferred_from=entry.id,
                history=[Event(WAITING, at, actor.id)])
        after = _moved(entry, actor, TRANSFERRED, at, entry.service_point)
        try:
            queue_entries.transfer(entry, after, new, claim_expires_at=now + CLAIM_LIFETIME)
            return new
        except ConditionFailed as exc:
            _refuse_place(exc, "This patient already holds a place in that queue today.")
            entry = _get(entry_id)  # changed meanwhile: decide afresh
    raise ValidationFailed.field("status", "This entry is changing right now; try again.")


def _check_target(department_id: int | None) -> None:
    if department_id is None:
        return
    department = departments_store.get(department_id)
    if department is None:
        raise no_department(department_id)
    if not department.is_active:
        raise inactive_department(department_id)


# -- looking -------------------------------------------------------------------------

def get_entry(actor: User, entry_id: int) -> QueueEntry:
    """One entry: the patient's own, or any for doctors, staff and admins."""
    entry = _get(entry_id)
    _check_entry_access(actor, entry)
    return entry


def position(actor: User, entry_id: int) -> dict:
    """Where an entry stands: how many waiting entries will be called before it, and about how long
    until it is called."""
    entry = get_entry(actor, entry_id)
    waiting = entry.status == WAITING
    ahead = queue_entries.count_ahead(entry) if waiting else 0
    estimate = None
    if waiting:
        estimate = estimate_wait(queue_entries.latest_calls(entry.queue, entry.queue_date, RATE_CALLS), ahead)
    return {"id": entry.id, "token_number": entry.token_number, "status": entry.status,
            "people_ahead": ahead, "position": ahead + 1 if waiting else 0, "estimated_wait_minutes": estimate}


def estimate_wait(latest_calls: list[str], people_ahead: int) -> int | None:
    """Whole minutes until an entry with `people_ahead` is called, at the queue's recent calling rate.

    The rate is taken from the day's latest first calls (newest first): their span divided by
    the intervals between them is the minutes per call; the entry is called after
    people_ahead + 1 more calls. None from fewer than MIN_CALLS calls.
    """
    if len(latest_calls) < MIN_CALLS:
        return None
    newest, oldest = _instant(latest_calls[0]), _instant(latest_calls[-1])
    per_call = (newest - oldest).total_seconds() / 60 / (len(latest_calls) - 1)
    return round((people_ahead + 1) * per_call)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


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
    at = iso_instant(clock.now())
    for entry in queue_entries.open_before(clock.today()):
        try:
            retry_on_conflict(lambda entry=entry: queue_entries.change(
                entry, _moved(entry, None, EXPIRED, at), condition=queue_entries.still_open()))
        except ConditionFailed as exc:
            if "entry" in exc.labels:
                continue  # served or closed meanwhile
            raise
        expired += 1
    return expired


# -- closing and opening today's queue ---------------------------------------------------

def close_queue(actor: User, department_id: int | None) -> int:
    """Stop today's queue taking joins and expire its waiting entries; returns how many expired.

    The flag is set first: a join's token and its entry's transaction are both conditional on
    it, so a join racing the close either lands before the flag (and its waiting entry is found
    and expired here) or is refused. Closing again changes nothing.
    """
    check_department(department_id)
    queue, now = queue_name(department_id), clock.now()
    day, at = clock.day_of(now), iso_instant(now)
    queue_entries.close_queue(queue, day, at, expires_at=now + CLAIM_LIFETIME)
    expired = 0
    for entry_id in queue_entries.waiting_ids(queue, day):
        def expire(entry_id: int = entry_id) -> bool:
            entry = queue_entries.get(entry_id)
            if entry is None or entry.status != WAITING:
                return False
            try:
                queue_entries.change(entry, _moved(entry, actor, EXPIRED, at))
            except ConditionFailed as exc:
                raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
            return True
        expired += bool(retry_on_conflict(expire))
    return expired


def open_queue(actor: User, department_id: int | None) -> None:
    """Let today's queue take joins again."""
    check_department(department_id)
    queue_entries.open_queue(queue_name(department_id), clock.today())


# -- statistics ---------------------------------------------------------------------------

def stats(actor: User, day: date | None, department_id: int | None) -> dict:
    """A queue's day in numbers: entries per status, waits and service times, per service point.

    Reads that day's entries of that queue only (the day index), never other days'.
    """
    check_department(department_id)
    day = day or clock.today()
    counts = dict.fromkeys(ENTRY_STATUSES, 0)
    waits, services, points = [], [], {}
    for entry in queue_entries.day_entries(queue_name(department_id), day):
        counts[entry.status] += 1
        if entry.first_called_at:
            waits.append(_minutes(entry.created_at, entry.first_called_at))
        service = _minutes(entry.called_at, entry.served_at) if entry.served_at and entry.called_at else None
        if service is not None:
            services.append(service)
        if entry.service_point is not None and entry.first_called_at:
            point = points.setdefault(entry.service_point, {"called": 0, "served": 0, "minutes": []})
            point["called"] += 1
            if entry.status == SERVED:
                point["served"] += 1
                if service is not None:
                    point["minutes"].append(service)
    return {
        "queue_date": day, "department": department_id, "joined": sum(counts.values()), **counts,
        "wait_minutes": _spread(waits), "service_minutes": _spread(services),
        "by_service_point": [{"service_point": point_id, "called": p["called"], "served": p["served"],
                              "service_minutes": _spread(p["minutes"])} for point_id, p in sorted(points.items())],
    }


def _minutes(start: str, end: str) -> float:
    return (_instant(end) - _instant(start)).total_seconds() / 60


def _spread(values: list[float]) -> dict | None:
    """Median and 90th percentile (nearest rank), in minutes rounded to a tenth; None without data."""
    import statistics  # only the stats read it: a cold start skips it (and fractions, which it imports)

    if not values:
        return None
    ordered = sorted(values)
    p90 = ordered[max(0, -(-9 * len(ordered) // 10) - 1)]
    return {"median": round(statistics.median(ordered), 1), "p90": round(p90, 1)}

