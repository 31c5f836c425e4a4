"""The desk's moves on an entry: call (the next one), recall, no-show, requeue, cancel, transfer
and serve. Each is one conditional write of the entry as it was read, with the move appended to
its history; an entry whose status does not accept a move answers 409 naming `status`.

Which roles may make a move at all is its route's; here are the rules about the object: a
doctor runs only their own department's queue, a patient cancels only their own entry.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import NamedTuple

from chalicelib import telemetry
from chalicelib.domain import clock
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import (
    CALLED,
    CANCELED,
    NO_SHOW,
    SERVED,
    TRANSFERRED,
    WAITING,
    Event,
    QueueEntry,
    User,
    queue_name,
)
from chalicelib.domain.permissions import DOCTOR, check_owner, own_doctor_id
from chalicelib.domain.ports.queue import DeskCheck
from chalicelib.domain.queue.joining import next_token
from chalicelib.domain.queue.rules import (
    CLAIM_LIFETIME,
    check_active,
    check_priority,
    department_of,
    earlier_day,
    inactive_department,
    moved,
    read_entry,
    refuse_place,
    wrong_status,
)
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, ValidationFailed, retry_on_conflict

# Candidates read per Query when calling the next token; more only matter when desks collide.
CALL_CANDIDATES = 32
CALL_ROUNDS = 40
TRIES_PER_LOOK = 2
TRANSFER_ATTEMPTS = 5
NOT_YOUR_QUEUE = "A doctor runs only their own department's queue."
_random = random.SystemRandom()


def call_next(actor: User, department_id: int | None = None, service_point: int | None = None
              ) -> QueueEntry | None:
    """Call the queue's next waiting entry (urgent first, then lowest token) to a service point;
    None if the queue is empty.

    Desks calling at the same instant each get a different entry: the move from
    waiting to called is conditional, and a desk that loses tries another candidate
    (see _calling_order), looking at the head again after two tries.

    At a service point, the desk's right to call is checked in the call's own write (the point,
    and a doctor's record: see DeskCheck), not read before it; only when the queue is empty or
    that check refuses are the desk's records read, to say why (check_desk). Without one, the
    desk is checked first, as every other move is.
    """
    desk = _desk_check(actor, department_id, service_point)
    if desk is None:
        check_desk(actor, department_id, service_point, calling=True)
    entries = stores().queue_entries
    queue = queue_name(department_id)
    day = clock.today()
    event = Event(CALLED, iso_instant(clock.now()), actor.id, service_point)
    started = time.monotonic()
    for _ in range(CALL_ROUNDS):
        candidates = {entry.id: entry for entry in entries.head_entries(queue, day, CALL_CANDIDATES)}
        if not candidates:
            if desk is not None:
                check_desk(actor, department_id, service_point, calling=True)  # the department's too
            else:
                # An empty queue, or no such department: entries exist only in departments that do.
                department_of(department_id)
            return None
        # Two tries per look at the head: past that, this desk's view is too old to guess from.
        for entry_id in _calling_order(list(candidates), queue, day, service_point)[:TRIES_PER_LOOK]:
            try:
                called = entries.mark_called(candidates[entry_id], event, desk)
            except ConditionFailed:
                # The desk's records refused the call: say why (they may have changed back since).
                check_desk(actor, department_id, service_point, calling=True)
                break
            if called is not None:
                telemetry.count("Calls")
                return called
            _contended(queue, day, started)
    return None


def _desk_check(actor: User, department_id: int | None, service_point: int | None) -> DeskCheck | None:
    """What a call at a service point checks as it is written; None without a service point."""
    if service_point is None:
        return None
    doctor_id = None
    if actor.role == DOCTOR:
        if department_id is None:
            raise Forbidden(NOT_YOUR_QUEUE)
        doctor_id = own_doctor_id(actor)
    return DeskCheck(department_id, service_point, doctor_id)


INACTIVE_DOCTOR = "This doctor record is inactive: it runs no desk."


def check_desk(actor: User, department_id: int | None, service_point: int | None = None, *,
               calling: bool = False) -> None:
    """Where this caller may run a desk (their route let them run one at all).

    A doctor runs only their own department's queue (403 elsewhere, the general queue included),
    and only while their doctor record is active (403 once it is deactivated). A department's queue must be active to be
    called, and a service point must be an active one of this queue: 400 otherwise. What is
    needed is read in one call (none for staff calling the general queue without a service point).
    """
    doctor_id = None
    if actor.role == DOCTOR:
        if department_id is None:
            raise Forbidden(NOT_YOUR_QUEUE)
        doctor_id = own_doctor_id(actor)
    wanted_department = department_id if calling else None
    if doctor_id is None and wanted_department is None and service_point is None:
        return
    doctor, department, point = stores().service_points.desk_records(doctor_id, wanted_department, service_point)
    if doctor_id is not None and (doctor is None or doctor.department != department_id):
        raise Forbidden(NOT_YOUR_QUEUE)
    if doctor_id is not None and not doctor.is_active:
        raise Forbidden(INACTIVE_DOCTOR)
    if wanted_department is not None:
        if department is None:
            raise no_department(wanted_department)
        check_active(department)
    if service_point is not None and (point is None or not point.is_active or point.department != department_id):
        raise ValidationFailed.field("service_point", "No active service point %d in this queue." % service_point)


# Until when (time.monotonic()) this process saw desks collide, per queue and day: while
# they do, a desk's first try is spread over the head of the queue instead of every desk
# trying the same first entry. "While" lasts a second, or twice as long as the losing call
# had taken when it lost, where storage is slower than that (a loaded local engine): desks
# whose calls each take seconds still call at once.
_contention: dict[tuple[str, str], float] = {}
CONTENTION_SECONDS = 1.0


def _contended(queue: str, day, call_started: float) -> None:
    now = time.monotonic()
    _contention[(queue, day.isoformat())] = now + max(CONTENTION_SECONDS, 2 * (now - call_started))


def forget_contention() -> None:
    """Forget collisions seen so far (a process that starts over with new tables: tests)."""
    _contention.clear()


def _calling_order(candidates: list[int], queue: str, day, spread: int | None = None) -> list[int]:
    """The order to try the head candidates in.

    Alone, a desk takes the head: the queue's order exactly. While desks collide in
    this queue (this process saw one lose an entry to another in the last second, or
    longer when calls take longer: see _contended),
    the candidates are tried in a random order, so colliding desks spread over the
    head instead of all trying its first entry: an entry can be overtaken only by
    one at most CALL_CANDIDATES places behind it, and only while desks call at once.
    A desk at a service point (`spread`: its id) tries first the candidate its point
    picks, so desks at different points mostly try different entries, then the rest
    in a random order.
    """
    if time.monotonic() >= _contention.get((queue, day.isoformat()), 0.0):
        return [candidates[0], *_random.sample(candidates[1:], len(candidates) - 1)]
    if spread is not None:
        first = spread % len(candidates)
        rest = candidates[:first] + candidates[first + 1:]
        return [candidates[first], *_random.sample(rest, len(rest))]
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
        entry = read_entry(entry_id)
        if not checked:
            (check or (lambda e: check_desk(actor, e.department, service_point)))(entry)
            checked = True
        if done is not None and done(entry):
            return entry
        if entry.status not in accepts:
            raise wrong_status(entry, verb)
        if entry.queue_date != clock.today():
            raise earlier_day(entry)
        now = clock.now()
        after = make(entry, iso_instant(now))
        try:
            stores().queue_entries.change(entry, after, claim_expires_at=now + CLAIM_LIFETIME)
        except ConditionFailed as exc:
            refuse_place(exc, "This patient meanwhile holds another place in this queue today.")
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
        return after

    try:
        return retry_on_conflict(attempt)
    except ConditionFailed:
        raise Conflict.field("status", "This entry is changing right now; try again.") from None


def mark_served(actor: User, entry_id: int) -> QueueEntry:
    """Serve a called or waiting entry; serving it again changes nothing."""
    return _act(actor, entry_id, (WAITING, CALLED), "served",
                lambda e, at: moved(e, actor, SERVED, at, e.service_point, served_at=at),
                done=lambda e: e.status == SERVED)


def recall(actor: User, entry_id: int, service_point: int | None = None) -> QueueEntry:
    """Call a called entry again (a patient who did not come), at the same or another service point."""
    def make(entry: QueueEntry, at: str) -> QueueEntry:
        point = service_point if service_point is not None else entry.service_point
        return moved(entry, actor, CALLED, at, point, called_at=at, called_by=actor.id, service_point=point,
                     recalls=entry.recalls + 1)
    return _act(actor, entry_id, (CALLED,), "recalled", make, service_point=service_point)


def no_show(actor: User, entry_id: int) -> QueueEntry:
    """A called patient who did not come: the entry closes and their place is freed."""
    return _act(actor, entry_id, (CALLED,), "marked as a no-show",
                lambda e, at: moved(e, actor, NO_SHOW, at, e.service_point))


def requeue(actor: User, entry_id: int) -> QueueEntry:
    """Put a called or no-show entry back to waiting in its original place (token and priority)."""
    return _act(actor, entry_id, (CALLED, NO_SHOW), "requeued",
                lambda e, at: moved(e, actor, WAITING, at, closed_at=None))


def cancel(actor: User, entry_id: int) -> QueueEntry:
    """A patient leaving: a waiting or called entry is canceled. Patients cancel their own."""
    return _act(actor, entry_id, (WAITING, CALLED), "canceled",
                lambda e, at: moved(e, actor, CANCELED, at, e.service_point),
                check=lambda e: check_owner(actor, e.patient_id))


class TransferRequest(NamedTuple):
    """Where a transfer sends the patient (None: the general queue), and the new entry's priority
    (None: the entry's own)."""
    department: int | None
    priority: str | None = None


def transfer(actor: User, entry_id: int, read_request: Callable[[], TransferRequest]) -> QueueEntry:
    """Send a waiting or called patient on to another queue (triage to a doctor, a doctor to the
    pharmacy): the entry becomes `transferred` and the patient's new waiting entry in the target
    queue, with its next token, is written in the same transaction. Returns the new entry.

    The request is read once the caller may run this entry's desk, so a stranger learns nothing
    about the body."""
    entries = stores().queue_entries
    entry = read_entry(entry_id)
    check_desk(actor, entry.department)
    request = read_request()
    check_priority(actor, request.priority)
    target = request.department
    now = clock.now()
    at = iso_instant(now)
    new: QueueEntry | None = None
    for _ in range(TRANSFER_ATTEMPTS):
        if entry.status not in (WAITING, CALLED):
            raise wrong_status(entry, "transferred")
        if entry.queue_date != clock.today():
            raise earlier_day(entry)
        if new is None:
            if queue_name(target) == entry.queue:
                raise ValidationFailed.field("department", "The entry is already in this queue.")
            department = department_of(target)
            if department is not None and not department.is_active:
                raise inactive_department(department.id)
            # Refused before the token is taken, as a join is; the claim in the transaction settles races.
            holder = entries.active_entry_id(queue_name(target), entry.queue_date, entry.patient_id)
            if holder is not None and (held := entries.get(holder)) is not None and held.is_open:
                raise Conflict.field("patient_id", "This patient already holds a place in that queue today.")
            new_id = stores().ids.reserved_id("queue_entry")
            new = QueueEntry(
                id=new_id, token_number=next_token(queue_name(target), entry.queue_date, now),
                queue_date=entry.queue_date, department=target, patient_id=entry.patient_id, status=WAITING,
                priority=request.priority or entry.priority, created_at=at, visit=entry.visit,
                transferred_from=entry.id, history=[Event(WAITING, at, actor.id)],
                # a checked-in appointment keeps its place by appointment time, unless given another priority
                appointment_minute=entry.appointment_minute if not request.priority else None)
        after = moved(entry, actor, TRANSFERRED, at, entry.service_point)
        try:
            entries.transfer(entry, after, new, claim_expires_at=now + CLAIM_LIFETIME)
            return new
        except ConditionFailed as exc:
            refuse_place(exc, "This patient already holds a place in that queue today.")
            entry = read_entry(entry_id)  # changed meanwhile: decide afresh
    raise Conflict.field("status", "This entry is changing right now; try again.")
