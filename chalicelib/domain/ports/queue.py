"""The token queue's stores: its entries, the queue day (token counter and closed flag), the
waiting room's board reads, its live screens, its service points, and the few records of other
aggregates the queue reads (a department, a patient's contact, a desk's doctor).

A conditional write that loses raises `errors.ConditionFailed` naming the labels below.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import NamedTuple, Protocol

from chalicelib.domain.entities import (
    BoardRecords,
    Call,
    Department,
    Doctor,
    Event,
    Page,
    Patient,
    QueueEntry,
    ServicePoint,
)

# The labels of the conditions a queue write can lose.
ACTIVE_CLAIM = "queue-active"  # the patient holds another open place in that queue today
QUEUE_CLOSED = "queue-closed"  # the queue is closed for the day
ENTRY_CHANGED = "entry"  # the entry is no longer as it was read
CHECKED_IN = "checked-in"  # the appointment is checked in already, or no longer scheduled
SERVICE_POINT_NAME = "service-point-name"  # the name is taken in that department
DEPARTMENT = "department"  # the department is missing
DESK_POINT = "desk-point"  # the service point is not an active one of this queue (or its department is inactive)
DESK_DOCTOR = "desk-doctor"  # the doctor record is not an active one of this queue's department


class JoinCheck(NamedTuple):
    """What a join must know before it takes a token number, read in one call."""
    patient_exists: bool
    department_exists: bool  # True for the general queue
    department_active: bool  # True for the general queue
    holder: int | None  # the entry id holding the patient's place in this queue today, if any


class DeskRecords(NamedTuple):
    """A desk's doctor record, its queue's department and its service point (None where missing
    or not asked)."""
    doctor: Doctor | None
    department: Department | None
    service_point: ServicePoint | None


class DeskCheck(NamedTuple):
    """What a call at a service point must find true as it is written: the point is active, of the
    queue's department (None: the general queue) and that department is active; and for a doctor,
    their record is active and of that department."""
    department: int | None
    service_point: int
    doctor: int | None = None


class QueueEntries(Protocol):
    def get(self, entry_id: int) -> QueueEntry | None:
        """The entry (strongly consistent), or None."""

    def check_join(self, patient_id: int, department_id: int | None, day: date) -> JoinCheck:
        """The patient, the department and the patient's place in the queue, in one read."""

    def add(self, entry: QueueEntry, claim_expires_at: datetime) -> None:
        """A new waiting entry with the patient's claim on the queue's day, if the day is open.
        Loses ACTIVE_CLAIM or QUEUE_CLOSED. An entry with an `appointment` also sets that appointment's
        `checked_in_entry`, in the same write, if it is scheduled and not checked in (else loses CHECKED_IN)."""

    def active_entry_id(self, queue: str, day: date, patient_id: int) -> int | None:
        """The entry holding the patient's open place in a queue's day, or None."""

    def waiting_head(self, queue: str, day: date, limit: int) -> list[int]:
        """Ids of the first waiting entries, in calling order (urgent first, then token)."""

    def notify_head(self, queue: str, day: date, limit: int) -> list[int]:
        """Ids of the first waiting entries that asked to be told and were not told their turn is
        near, in calling order (a hint: the entry itself is read before a message goes)."""

    def count_ahead(self, entry: QueueEntry) -> int:
        """How many waiting entries of its queue and day will be called before it."""

    def head_entries(self, queue: str, day: date, limit: int) -> list[QueueEntry]:
        """The first waiting entries themselves, in calling order, in one read (which may lag a
        little behind the latest writes: mark_called checks what it relies on)."""

    def mark_called(self, entry: QueueEntry, event: Event, desk: DeskCheck | None = None) -> QueueEntry | None:
        """Move a waiting entry, still as read (status and history), to called and return it; None if
        it is not (another desk won). With `desk`, the desk's records are checked in the same write:
        loses DESK_POINT or DESK_DOCTOR when they do not allow the call."""

    def change(self, before: QueueEntry, after: QueueEntry, claim_expires_at: datetime | None = None) -> None:
        """Write `after` if the entry is still as `before` was read, taking or releasing the
        patient's claim as its openness changes. Loses ENTRY_CHANGED, ACTIVE_CLAIM, QUEUE_CLOSED."""

    def expire(self, before: QueueEntry, after: QueueEntry) -> None:
        """Write `after` (the reset's expiry) if the entry is still open, whatever else changed.
        Loses ENTRY_CHANGED."""

    def transfer(self, before: QueueEntry, after: QueueEntry, new: QueueEntry, claim_expires_at: datetime) -> None:
        """Close `before` as `after` and add `new` in another queue, together.
        Loses ENTRY_CHANGED, ACTIVE_CLAIM or QUEUE_CLOSED."""

    def waiting_ids(self, queue: str, day: date) -> list[int]:
        """Every waiting entry's id of a queue's day."""

    def latest_calls(self, queue: str, day: date, limit: int) -> list[str]:
        """When the day's latest first-called entries were first called, newest first."""

    def day_entries(self, queue: str, day: date) -> Iterator[QueueEntry]:
        """Every entry of a queue's day, in token order."""

    def open_before(self, day: date) -> Iterator[QueueEntry]:
        """Every waiting or called entry of a day before `day`."""

    def day_page(self, queue: str, day: date, limit: int, cursor: str | None) -> Page:
        """A page of a queue's day, in token order."""

    def patient_day_page(self, patient_id: int, queue: str, day: date, limit: int, cursor: str | None) -> Page:
        """A page of one patient's entries in a queue's day, in token order."""

    def mark_notified(self, entry_id: int, message: str) -> bool:
        """Mark a message sent unless it already was: True for the one caller that marked it."""

    def changes(self, records: list) -> list[tuple[QueueEntry | None, QueueEntry | None]]:
        """The (before, after) entries of a batch of change records of the entries."""


class DayChange(NamedTuple):
    """A queue day's closed flag before and after one change record (the instants it was closed at)."""
    queue: str
    day: date
    closed_before: str | None
    closed_after: str | None


class QueueDays(Protocol):
    """A queue's day: its token counter and whether it is closed."""

    def next_token(self, queue: str, day: date, expires_at: datetime) -> int:
        """The day's next token number; loses QUEUE_CLOSED (using up no number) once closed."""

    def close(self, queue: str, day: date, at: str, expires_at: datetime) -> None:
        """Close the day's queue for joins; closing again changes nothing."""

    def reopen(self, queue: str, day: date) -> None:
        """Take joins again for the day."""

    def changes(self, records: list) -> list[DayChange | None]:
        """The queue days' changes in a batch of change records of the table they live in (None for a
        record of anything else, or of a day's item removed)."""


class Board(Protocol):
    """What the waiting room's board reads, each in one call whatever the day's volume."""

    def now_calling(self, queue: str, day: date, limit: int) -> list[Call]:
        """The day's called entries, latest call first."""

    def next_tokens(self, queue: str, day: date, limit: int) -> list[int]:
        """The first waiting token numbers, in calling order."""

    def waiting_count(self, queue: str, day: date) -> int:
        """How many entries of the day wait."""

    def board_records(self, queue: str, day: date, department_id: int | None, point_ids: list[int]) -> BoardRecords:
        """The day's closed flag, the department and the named service points, in one read."""


class Connections(Protocol):
    """The live screens and the queue each follows."""

    def connected(self, connection_id: str, expires_at: datetime) -> None: ...

    def subscribe(self, connection_id: str, queue: str, expires_at: datetime) -> None: ...

    def disconnected(self, connection_id: str) -> None: ...

    def subscribers(self, queue: str) -> list[str]: ...


class ServicePoints(Protocol):
    def add(self, point: ServicePoint) -> None:
        """A new service point with its name claim; loses SERVICE_POINT_NAME or DEPARTMENT."""

    def save_changes(self, before: ServicePoint, after: ServicePoint) -> None:
        """Write an edited service point if still as read; loses SERVICE_POINT_NAME or DEPARTMENT."""

    def get(self, point_id: int) -> ServicePoint | None: ...

    def list_page(self, limit: int, cursor: str | None) -> Page: ...

    def desk_records(self, doctor_id: int | None, department_id: int | None, point_id: int | None) -> DeskRecords:
        """Only those asked for, in one read (none when nothing is asked)."""


class QueueLookups(Protocol):
    """The records of other aggregates the queue reads, one item each."""

    def department(self, department_id: int) -> Department | None: ...

    def patient(self, patient_id: int) -> Patient | None: ...
