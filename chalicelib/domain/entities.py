"""The clinic's things as the domain sees them: plain dataclasses and their states, and
named tuples for the values that are only read (a class of either costs each cold start
its creation: the tuples are the cheaper, and a docstring spares a dataclass its signature).

Storage converts its items to and from these; the HTTP layer presents them.
Neither storage types nor HTTP types appear here.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple


@dataclass
class Page:
    """One page of a list, and the cursor of the next (None on the last)."""
    items: list
    next: str | None


# -- accounts -------------------------------------------------------------------

@dataclass
class User:
    """An account: who may log in, with which role, and the patient or doctor record it is linked to."""
    id: int
    username: str
    email: str
    role: str
    password_hash: str = field(repr=False)
    date_of_birth: date | None
    first_name: str
    last_name: str
    is_active: bool
    date_joined: str
    token_version: int = 0
    patient_id: int | None = None
    doctor_id: int | None = None
    # Drawn at creation; every token of the account carries it ("" for an account made before keys).
    token_key: str = field(default="", repr=False)


# -- records --------------------------------------------------------------------

@dataclass
class Patient:
    """A patient record; `user_id` is the account linked to it, if any."""
    id: int
    name: str
    email: str | None
    phone: str | None
    date_of_birth: date | None
    user_id: int | None
    created_at: str
    # The hash of the record's current link code and when it stops working; None once used or never made.
    link_code_hash: str | None = field(default=None, repr=False)
    link_code_expires_at: str | None = None


@dataclass(frozen=True)
class LinkCode:
    """A patient record's link code as shown once to the desk, and when it stops working."""
    code: str = field(repr=False)
    expires_at: str


class Session(NamedTuple):
    """A token issued to a user (at login or a password change), and the instant it expires."""
    token: str
    user: User
    expires_at: str


class PatientLink(NamedTuple):
    """A new account's link to a record made at the desk: the record, the hash of the link code
    given for it, and the instant the code was checked at (it must still be unexpired then)."""
    patient_id: int
    code_hash: str
    checked_at: str


@dataclass
class Department:
    """A department of the clinic, with a queue of its own."""
    id: int
    name: str
    description: str
    is_active: bool = True


@dataclass
class Doctor:
    """A doctor of one department; `user_id` is the doctor's account, if any."""
    id: int
    name: str
    specialty: str
    department: int
    user_id: int | None
    is_active: bool = True


DESK = "desk"
ROOM = "room"
SERVICE_POINT_KINDS = (DESK, ROOM)


@dataclass
class ServicePoint:
    """A desk, counter or consulting room a called patient goes to; department None = the general queue's."""
    id: int
    name: str
    kind: str
    department: int | None
    is_active: bool = True


# -- appointments ---------------------------------------------------------------

SCHEDULED = "scheduled"
COMPLETED = "completed"
CANCELED = "canceled"
APPOINTMENT_NO_SHOW = "no_show"
APPOINTMENT_STATUSES = (SCHEDULED, COMPLETED, CANCELED, APPOINTMENT_NO_SHOW)
# How an appointment's reminder goes (or None: it gets none).
REMIND_EMAIL, REMIND_SMS = "email", "sms"
REMIND_BY = (REMIND_EMAIL, REMIND_SMS)


@dataclass
class Appointment:
    """A patient's booking with a doctor at an instant (`date`)."""
    id: int
    patient: int
    doctor: int
    date: str
    status: str
    created_at: str
    remind: str | None = None  # "email", "sms" or None
    reminded_at: str | None = None  # when its reminder went (an instant), or None
    checked_in_entry: int | None = None  # the queue entry its check-in made


class UserFilters(NamedTuple):
    """The admin's filters of the users list: `username` and `email` are prefixes, without regard to case."""
    username: str | None = None
    email: str | None = None
    role: str | None = None
    is_active: bool | None = None

    def any(self) -> bool:
        return any(value is not None for value in self)


class AppointmentFilters(NamedTuple):
    """What a list of appointments asks for. `start`/`end` bound the date (inclusive), e.g. one clinic day."""
    patient: int | None = None
    doctor: int | None = None
    status: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    reminded: bool | None = None  # only those whose reminder went (True) or did not (False)


# -- the queue ------------------------------------------------------------------

WAITING = "waiting"
CALLED = "called"
SERVED = "served"
EXPIRED = "expired"
NO_SHOW = "no_show"
TRANSFERRED = "transferred"
# CANCELED ("canceled") is shared with appointments.
ENTRY_STATUSES = (WAITING, CALLED, SERVED, NO_SHOW, CANCELED, TRANSFERRED, EXPIRED)
OPEN_STATUSES = (WAITING, CALLED)

NORMAL = "normal"
URGENT = "urgent"
PRIORITIES = (NORMAL, URGENT)
# An appointment's holder who checked in (chalicelib.domain.checkin): after urgent, before normal.
APPOINTMENT_PRIORITY = "appointment"
ENTRY_PRIORITIES = (*PRIORITIES, APPOINTMENT_PRIORITY)

GENERAL_QUEUE = "general"
GENERAL_QUEUE_NAME = "General queue"  # its name on screens and in messages
# Urgent entries rank by token number alone; normal ones after every urgent one.
_NORMAL_RANK_OFFSET = 10**9
# Checked-in appointments between them: by the appointment's minute of the clinic day, then token
# (base + minute * 10**5 + token: minutes 0-1500 stay below the normal offset, above any urgent token).
_APPOINTMENT_RANK_BASE = 5 * 10**8
_APPOINTMENT_TOKENS = 10**5


def queue_name(department: int | None) -> str:
    """The general queue, or one department's."""
    return GENERAL_QUEUE if department is None else f"department-{department}"


def queue_department(queue: str) -> int | None:
    """The department a queue name is of (None: the general queue); queue_name's inverse."""
    return None if queue == GENERAL_QUEUE else int(queue.removeprefix("department-"))


def rank_of(priority: str, token_number: int, appointment_minute: int | None = None) -> int:
    """Calling order within a queue's day: urgent first by token number, then checked-in appointments
    by appointment time, then normal by token number. (Urgent and normal ranks are what they were
    before appointments had one, so stored entries keep their order.)"""
    if priority == URGENT:
        return token_number
    if priority == APPOINTMENT_PRIORITY and appointment_minute is not None:
        return _APPOINTMENT_RANK_BASE + appointment_minute * _APPOINTMENT_TOKENS + token_number
    return _NORMAL_RANK_OFFSET + token_number


@dataclass
class Event:
    """One change of an entry: the status it took, when, by whom (None: the nightly reset), where."""
    status: str
    at: str
    by: int | None = None
    service_point: int | None = None


@dataclass
class QueueEntry:
    """A place in one queue on one day: its token, its status, and every change it went through."""
    id: int
    token_number: int
    queue_date: date
    department: int | None
    patient_id: int
    status: str
    priority: str
    created_at: str
    called_at: str | None = None
    served_at: str | None = None
    service_point: int | None = None
    called_by: int | None = None
    recalls: int = 0
    visit: int | None = None  # the first entry of the patient's visit (its own id unless transferred)
    transferred_from: int | None = None
    closed_at: str | None = None
    first_called_at: str | None = None  # when it was first called (waits are measured to it)
    history: list[Event] = field(default_factory=list)
    notify: str | None = None  # "sms" or "email": the patient asked to be told when their turn nears
    notified: frozenset[str] = frozenset()  # the messages already sent ("ahead", "called")
    appointment: int | None = None  # the appointment checked in with it
    appointment_minute: int | None = None  # that appointment's minute of the clinic day (its rank)

    @property
    def queue(self) -> str:
        return queue_name(self.department)

    @property
    def rank(self) -> int:
        return rank_of(self.priority, self.token_number, self.appointment_minute)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


def token_of_rank(rank: int) -> int:
    """The token number behind a calling rank (see rank_of)."""
    if rank > _NORMAL_RANK_OFFSET:
        return rank - _NORMAL_RANK_OFFSET
    if rank > _APPOINTMENT_RANK_BASE:
        return (rank - _APPOINTMENT_RANK_BASE) % _APPOINTMENT_TOKENS
    return rank


class Call(NamedTuple):
    """A number being called now, as the waiting room sees it: no patient, only the token and where."""
    token_number: int
    service_point: int | None
    called_at: str
    recalls: int = 0


class BoardRecords(NamedTuple):
    """What the board reads besides the entries: the day's closed flag, the queue's department and
    the names of the service points being called to."""
    closed: bool
    department: Department | None
    service_points: dict[int, ServicePoint]
