"""What every part of the queue shares: reading an entry, the queue a move lands in (its
department exists, is active, its day is open), an entry's moves with their history, and the
answers a move gets when the entry's state refuses it (409, as every state conflict)."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import CALLED, EXPIRED, URGENT, WAITING, Department, Event, QueueEntry, User
from chalicelib.domain.permissions import ADMIN, STAFF
from chalicelib.domain.ports.queue import ACTIVE_CLAIM, QUEUE_CLOSED
from chalicelib.domain.stores import stores
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, NotFound, ValidationFailed

# A patient's claim on a queue, and the queue's day, outlive the day by this much (a day lasts
# at most 25 hours), then DynamoDB's TTL drops them.
CLAIM_LIFETIME = timedelta(days=2)
CLOSED = "The queue is closed for today."
URGENT_IS_STAFFS = "Only staff can give an entry urgent priority."


def read_entry(entry_id: int) -> QueueEntry:
    """The entry, or 404."""
    entry = stores().queue_entries.get(entry_id)
    if entry is None:
        raise NotFound(f"No queue entry with id {entry_id}.")
    return entry


def check_priority(actor: User, priority: str | None) -> None:
    """Urgent priority is given by staff and admins only (a join, a transfer)."""
    if priority == URGENT and actor.role not in (STAFF, ADMIN):
        raise Forbidden(URGENT_IS_STAFFS)


def department_of(department_id: int | None) -> Department | None:
    """The queue's department (None for the general queue); 400 on `department` if there is none."""
    if department_id is None:
        return None
    department = stores().queue_lookups.department(department_id)
    if department is None:
        raise no_department(department_id)
    return department


def check_active(department: Department | None) -> None:
    """400 on `department` for an inactive department (it takes no joins, calls or transfers)."""
    if department is not None and not department.is_active:
        raise inactive_department(department.id)


def inactive_department(department_id: int) -> ValidationFailed:
    return ValidationFailed.field("department", "Department %d is not active." % department_id)


def queue_closed() -> Conflict:
    return Conflict.field("department", CLOSED)


def refuse_place(exc: ConditionFailed, held: str) -> None:
    """Raise what a move that takes a place in a queue (requeue, transfer) says when its write
    failed because the patient holds another place there (`held`) or the queue is closed."""
    if ACTIVE_CLAIM in exc.labels:
        raise Conflict.field("patient_id", held) from None
    if QUEUE_CLOSED in exc.labels:
        raise queue_closed() from None


def wrong_status(entry: QueueEntry, verb: str) -> Conflict:
    """The 409 for an entry whose status does not accept a move."""
    if entry.status == EXPIRED:
        message = "This entry expired when its day (%s) or its queue closed; it cannot be %s." % (
            entry.queue_date.isoformat(), verb)
    else:
        message = f"A {entry.status.replace('_', '-')} entry cannot be {verb}."
    return Conflict.field("status", message)


def earlier_day(entry: QueueEntry) -> Conflict:
    return Conflict.field("status", "This entry belongs to an earlier day (%s)." % entry.queue_date.isoformat())


def moved(entry: QueueEntry, actor: User | None, status: str, at: str, point: int | None = None,
          **changes) -> QueueEntry:
    """The entry after a move to `status`, with the move appended to its history."""
    if status not in (WAITING, CALLED):
        changes.setdefault("closed_at", at)
    event = Event(status, at, actor.id if actor else None, point)
    return replace(entry, status=status, history=[*entry.history, event], **changes)
