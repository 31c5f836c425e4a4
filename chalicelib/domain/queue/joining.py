"""Joining a queue: a patient's next token today, one open place per patient, queue and day."""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from chalicelib import telemetry
from chalicelib.domain import clock, notifications
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import APPOINTMENT_PRIORITY, NORMAL, WAITING, Event, QueueEntry, User, queue_name
from chalicelib.domain.permissions import acting_patient
from chalicelib.domain.ports.queue import ACTIVE_CLAIM, CHECKED_IN, QUEUE_CLOSED
from chalicelib.domain.queue.rules import CLAIM_LIFETIME, check_priority, inactive_department, queue_closed
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, NotFound, ValidationFailed, retry_on_conflict

JOIN_ATTEMPTS = 3


class JoinRequest(NamedTuple):
    """A join: the patient (a patient may leave it out: it is them), the queue (None: the general
    queue), the priority (None: normal) and how to tell the patient their turn nears."""
    patient_id: int | None = None
    department: int | None = None
    priority: str | None = None
    notify: str | None = None


class CheckIn(NamedTuple):
    """A join that checks an appointment in (chalicelib.domain.checkin): its id and its minute of the
    clinic day, which ranks the entry among the checked-in."""
    appointment: int
    minute: int


class AlreadyQueued(Conflict):
    """The patient already holds a waiting or called place in this queue today (409)."""

    def __init__(self, entry: QueueEntry):
        message = "This patient already has a place in this queue today."
        super().__init__(message, fields={"patient_id": message})
        self.entry = entry


def join(actor: User, request: JoinRequest, check_in: CheckIn | None = None,
         checked_in: Callable[[], Exception] | None = None) -> QueueEntry:
    """Give a patient the next token of a queue today.

    Patients join for themselves; staff and admins for any patient, and only they
    may mark an entry urgent. One open place per patient, queue and day. A `check_in`
    joins with priority `appointment` and marks the appointment in the same write;
    `checked_in()` is what to raise when the appointment was checked in meanwhile.
    """
    patient_id = acting_patient(actor, request.patient_id, "A patient can only join the queue for themself.")
    check_priority(actor, request.priority)
    if patient_id is None:
        raise ValidationFailed.field("patient_id", "This field is required.")
    department_id = request.department
    entries = stores().queue_entries
    now = clock.now()
    day = clock.day_of(now)
    queue = queue_name(department_id)
    # Everything that can refuse the join is read first, in one call, so a refused
    # join never uses up a token number; the claim written with the entry settles
    # joins of one patient that race past this check.
    check = retry_on_conflict(lambda: entries.check_join(patient_id, department_id, day))
    if not check.department_exists:
        raise no_department(department_id)
    if not check.department_active:
        raise inactive_department(department_id)
    if not check.patient_exists:
        raise NotFound(f"No patient with id {patient_id}.")
    raise_if_queued(check.holder)
    notifications.check_contact(patient_id, request.notify)
    entry_id = stores().ids.reserved_id("queue_entry")
    at = iso_instant(now)
    entry = QueueEntry(
        id=entry_id, token_number=next_token(queue, day, now),
        queue_date=day, department=department_id, patient_id=patient_id, status=WAITING,
        priority=APPOINTMENT_PRIORITY if check_in else request.priority or NORMAL, created_at=at, visit=entry_id,
        history=[Event(WAITING, at, actor.id)], notify=request.notify,
        appointment=check_in.appointment if check_in else None,
        appointment_minute=check_in.minute if check_in else None,
    )
    for _ in range(JOIN_ATTEMPTS):
        try:
            entries.add(entry, claim_expires_at=now + CLAIM_LIFETIME)
            telemetry.count("Joins")
            return entry
        except ConditionFailed as exc:
            if QUEUE_CLOSED in exc.labels:
                raise queue_closed() from None
            if CHECKED_IN in exc.labels and checked_in is not None:
                raise checked_in() from None
            if not exc.conflicted and ACTIVE_CLAIM not in exc.labels:
                raise
            # Another join of this patient won, or its place was released meanwhile.
            raise_if_queued(entries.active_entry_id(queue, day, patient_id))
    raise Conflict.field("patient_id", "This patient's place is changing right now; try again.")


def next_token(queue: str, day, now) -> int:
    """The queue's next token number today; 409 on `department` once the queue is closed for the day."""
    try:
        return stores().queue_days.next_token(queue, day, expires_at=now + CLAIM_LIFETIME)
    except ConditionFailed as exc:
        if QUEUE_CLOSED in exc.labels:
            raise queue_closed() from None
        raise


def raise_if_queued(holder: int | None) -> None:
    """AlreadyQueued (with the entry) if the claim's holder is still waiting or called."""
    if holder is None:
        return
    entry = stores().queue_entries.get(holder)
    if entry is not None and entry.is_open:
        raise AlreadyQueued(entry)
