"""The queue's stores in memory: entries with the patient's claims, queue days, the board's reads,
service points, live screens, and the departments and patients the queue reads.

One lock guards one shared state, so each store operation is atomic as a DynamoDB conditional
write or transaction is, and a write that loses raises `ConditionFailed` with the labels the
DynamoDB implementation uses (chalicelib.domain.ports.queue). The indexes are read through, so
reads are strongly consistent (DynamoDB's indexes may lag a little; the domain copes with both).
"""
from __future__ import annotations

import threading
from copy import deepcopy
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from chalicelib.domain.entities import (
    CALLED,
    OPEN_STATUSES,
    SCHEDULED,
    WAITING,
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
from chalicelib.domain.ports.queue import (
    ACTIVE_CLAIM,
    CHECKED_IN,
    DEPARTMENT,
    DESK_DOCTOR,
    DESK_POINT,
    ENTRY_CHANGED,
    QUEUE_CLOSED,
    SERVICE_POINT_NAME,
    DeskCheck,
    DeskRecords,
    JoinCheck,
)
from chalicelib.errors import ConditionFailed


def _day_key(queue: str, day: date) -> str:
    return f"{queue}#{day.isoformat()}"


@dataclass
class QueueState:
    """Everything the queue's fakes hold, under one lock."""
    lock: threading.RLock = field(default_factory=threading.RLock)
    entries: dict[int, QueueEntry] = field(default_factory=dict)
    claims: dict[tuple[str, str, int], int] = field(default_factory=dict)  # (queue, day, patient) -> entry id
    tokens: dict[str, int] = field(default_factory=dict)  # queue#day -> last token
    closed: dict[str, str] = field(default_factory=dict)  # queue#day -> when it closed
    departments: dict[int, Department] = field(default_factory=dict)
    patients: dict[int, Patient] = field(default_factory=dict)
    doctors: dict[int, Doctor] = field(default_factory=dict)
    points: dict[int, ServicePoint] = field(default_factory=dict)
    connections: dict[str, str | None] = field(default_factory=dict)
    # The appointments' table of the MemoryDb beside it, and that db's lock (a check-in writes both).
    appointments: dict = field(default_factory=dict)
    appointments_lock: threading.RLock = field(default_factory=threading.RLock)


class MemoryQueueEntries:
    def __init__(self, state: QueueState):
        self.s = state

    def _claim(self, entry: QueueEntry) -> tuple[str, str, int]:
        return (entry.queue, entry.queue_date.isoformat(), entry.patient_id)

    def _open_day(self, entry: QueueEntry) -> bool:
        return _day_key(entry.queue, entry.queue_date) not in self.s.closed

    def get(self, entry_id: int) -> QueueEntry | None:
        with self.s.lock:
            entry = self.s.entries.get(entry_id)
            return deepcopy(entry)

    def check_join(self, patient_id: int, department_id: int | None, day: date) -> JoinCheck:
        from chalicelib.domain.entities import queue_name

        with self.s.lock:
            department = self.s.departments.get(department_id) if department_id is not None else None
            return JoinCheck(patient_exists=patient_id in self.s.patients,
                             department_exists=department_id is None or department is not None,
                             department_active=department_id is None or (department is not None
                                                                         and department.is_active is not False),
                             holder=self.s.claims.get((queue_name(department_id), day.isoformat(), patient_id)))

    def add(self, entry: QueueEntry, claim_expires_at: datetime) -> None:
        with self.s.lock, self.s.appointments_lock:
            failed = []
            appointment = self.s.appointments.get(entry.appointment) if entry.appointment is not None else None
            if entry.appointment is not None and (appointment is None or appointment.status != SCHEDULED
                                                  or appointment.checked_in_entry is not None):
                failed.append(CHECKED_IN)
            if not self._open_day(entry):
                failed.append(QUEUE_CLOSED)
            if self._claim(entry) in self.s.claims:
                failed.append(ACTIVE_CLAIM)
            if entry.id in self.s.entries:
                failed.append(ENTRY_CHANGED)
            if failed:
                raise ConditionFailed(failed)
            self.s.claims[self._claim(entry)] = entry.id
            self.s.entries[entry.id] = deepcopy(entry)
            if appointment is not None:
                self.s.appointments[entry.appointment] = replace(appointment, checked_in_entry=entry.id)

    def active_entry_id(self, queue: str, day: date, patient_id: int) -> int | None:
        with self.s.lock:
            return self.s.claims.get((queue, day.isoformat(), patient_id))

    def _waiting(self, queue: str, day: date) -> list[QueueEntry]:
        return sorted((e for e in self.s.entries.values()
                       if e.status == WAITING and e.queue == queue and e.queue_date == day), key=lambda e: e.rank)

    def waiting_head(self, queue: str, day: date, limit: int) -> list[int]:
        with self.s.lock:
            return [e.id for e in self._waiting(queue, day)[:limit]]

    def notify_head(self, queue: str, day: date, limit: int) -> list[int]:
        with self.s.lock:
            return [e.id for e in self._waiting(queue, day) if e.notify and "ahead" not in e.notified][:limit]

    def count_ahead(self, entry: QueueEntry) -> int:
        with self.s.lock:
            return sum(1 for e in self._waiting(entry.queue, entry.queue_date) if e.rank < entry.rank)

    def head_entries(self, queue: str, day: date, limit: int) -> list[QueueEntry]:
        with self.s.lock:
            return deepcopy(self._waiting(queue, day)[:limit])

    def _desk_refuses(self, desk: DeskCheck) -> list[str]:
        """The labels of storage.service_points.stage_desk_check that fail."""
        refused = []
        point = self.s.points.get(desk.service_point)
        department = self.s.departments.get(desk.department) if desk.department is not None else None
        if (point is None or not point.is_active or point.department != desk.department
                or (department is not None and not department.is_active)):
            refused.append(DESK_POINT)
        if desk.doctor is not None:
            doctor = self.s.doctors.get(desk.doctor)
            if doctor is None or not doctor.is_active or doctor.department != desk.department:
                refused.append(DESK_DOCTOR)
        return refused

    def mark_called(self, entry: QueueEntry, event: Event, desk: DeskCheck | None = None) -> QueueEntry | None:
        with self.s.lock:
            if desk is not None and (refused := self._desk_refuses(desk)):
                raise ConditionFailed(refused)
            stored = self.s.entries.get(entry.id)
            if stored is None or stored.status != WAITING or (
                    desk is not None and len(stored.history) != len(entry.history)):
                return None
            called = replace(stored, status=CALLED, called_at=event.at, called_by=event.by,
                             service_point=event.service_point, first_called_at=stored.first_called_at or event.at,
                             history=[*stored.history, event])
            self.s.entries[entry.id] = called
            return deepcopy(called)

    def _as_read(self, before: QueueEntry) -> bool:
        stored = self.s.entries.get(before.id)
        return (stored is not None and stored.status == before.status
                and len(stored.history) == len(before.history))

    def _write(self, before: QueueEntry, after: QueueEntry, still: bool) -> None:
        failed = [] if still else [ENTRY_CHANGED]
        moves_claim = before.is_open != after.is_open or (after.status == WAITING and before.status != WAITING)
        claim = self._claim(before)
        if moves_claim:
            if after.status == WAITING and not self._open_day(after):
                failed.append(QUEUE_CLOSED)
            if after.is_open and not before.is_open and claim in self.s.claims:
                failed.append(ACTIVE_CLAIM)
            if before.is_open and not after.is_open and self.s.claims.get(claim, before.id) != before.id:
                failed.append("claim")
        if failed:
            raise ConditionFailed(failed)
        stored = self.s.entries[before.id]
        changed = {name: getattr(after, name) for name in
                   ("status", "called_at", "served_at", "service_point", "called_by", "recalls", "closed_at",
                    "first_called_at") if getattr(after, name) != getattr(before, name)}
        self.s.entries[before.id] = replace(stored, **changed,
                                            history=[*stored.history, *after.history[len(before.history):]])
        if moves_claim:
            if after.is_open and not before.is_open:
                self.s.claims[claim] = before.id
            elif before.is_open and not after.is_open:
                self.s.claims.pop(claim, None)

    def change(self, before: QueueEntry, after: QueueEntry, claim_expires_at: datetime | None = None) -> None:
        with self.s.lock:
            self._write(before, after, self._as_read(before))

    def expire(self, before: QueueEntry, after: QueueEntry) -> None:
        with self.s.lock:
            stored = self.s.entries.get(before.id)
            self._write(before, after, stored is not None and stored.status in OPEN_STATUSES)

    def transfer(self, before: QueueEntry, after: QueueEntry, new: QueueEntry, claim_expires_at: datetime) -> None:
        with self.s.lock:
            failed = []
            if not self._open_day(new):
                failed.append(QUEUE_CLOSED)
            if not self._as_read(before):
                failed.append(ENTRY_CHANGED)
            if self.s.claims.get(self._claim(before), before.id) != before.id:
                failed.append("claim")
            if self._claim(new) in self.s.claims:
                failed.append(ACTIVE_CLAIM)
            if new.id in self.s.entries:
                failed.append("new-entry")
            if failed:
                raise ConditionFailed(failed)
            self._write(before, after, True)
            self.s.claims[self._claim(new)] = new.id
            self.s.entries[new.id] = deepcopy(new)

    def waiting_ids(self, queue: str, day: date) -> list[int]:
        return self.waiting_head(queue, day, 10**9)

    def latest_calls(self, queue: str, day: date, limit: int) -> list[str]:
        with self.s.lock:
            firsts = sorted((e.first_called_at for e in self.s.entries.values()
                             if e.first_called_at and e.queue == queue and e.queue_date == day), reverse=True)
            return firsts[:limit]

    def day_entries(self, queue: str, day: date):
        with self.s.lock:
            found = sorted((e for e in self.s.entries.values() if e.queue == queue and e.queue_date == day),
                           key=lambda e: e.token_number)
            return iter(deepcopy(found))

    def open_before(self, day: date):
        with self.s.lock:
            found = [e for e in self.s.entries.values() if e.is_open and e.queue_date < day]
            return iter(deepcopy(found))

    def _page(self, items: list[QueueEntry], limit: int, cursor: str | None) -> Page:
        start = int(cursor) if cursor else 0
        end = start + limit
        return Page(items=deepcopy(items[start:end]), next=str(end) if end < len(items) else None)

    def day_page(self, queue: str, day: date, limit: int, cursor: str | None) -> Page:
        with self.s.lock:
            return self._page(list(self.day_entries(queue, day)), limit, cursor)

    def patient_day_page(self, patient_id: int, queue: str, day: date, limit: int, cursor: str | None) -> Page:
        with self.s.lock:
            return self._page([e for e in self.day_entries(queue, day) if e.patient_id == patient_id], limit, cursor)

    def mark_notified(self, entry_id: int, message: str) -> bool:
        with self.s.lock:
            entry = self.s.entries.get(entry_id)
            if entry is None or message in entry.notified:
                return False
            self.s.entries[entry_id] = replace(entry, notified=entry.notified | {message})
            return True

    def changes(self, records: list) -> list[tuple[QueueEntry | None, QueueEntry | None]]:
        """Records here are already (before, after) pairs."""
        return [tuple(record) for record in records]


class MemoryQueueDays:
    def __init__(self, state: QueueState):
        self.s = state

    def next_token(self, queue: str, day: date, expires_at: datetime) -> int:
        key = _day_key(queue, day)
        with self.s.lock:
            if key in self.s.closed:
                raise ConditionFailed([QUEUE_CLOSED])
            self.s.tokens[key] = self.s.tokens.get(key, 0) + 1
            return self.s.tokens[key]

    def close(self, queue: str, day: date, at: str, expires_at: datetime) -> None:
        with self.s.lock:
            self.s.closed.setdefault(_day_key(queue, day), at)

    def reopen(self, queue: str, day: date) -> None:
        with self.s.lock:
            self.s.closed.pop(_day_key(queue, day), None)

    def changes(self, records: list) -> list:
        """Records as the fakes' tests write them: {"day": DayChange | None}."""
        return [r.get("day") for r in records]


class MemoryBoard:
    def __init__(self, state: QueueState, entries: MemoryQueueEntries):
        self.s = state
        self.entries = entries

    def now_calling(self, queue: str, day: date, limit: int) -> list[Call]:
        with self.s.lock:
            called = sorted((e for e in self.s.entries.values()
                             if e.status == CALLED and e.called_at and e.queue == queue and e.queue_date == day),
                            key=lambda e: e.called_at, reverse=True)
            return [Call(e.token_number, e.service_point, e.called_at, e.recalls) for e in called[:limit]]

    def next_tokens(self, queue: str, day: date, limit: int) -> list[int]:
        with self.s.lock:
            return [e.token_number for e in self.entries._waiting(queue, day)[:limit]]

    def waiting_count(self, queue: str, day: date) -> int:
        with self.s.lock:
            return len(self.entries._waiting(queue, day))

    def board_records(self, queue: str, day: date, department_id: int | None, point_ids: list[int]) -> BoardRecords:
        with self.s.lock:
            return BoardRecords(closed=_day_key(queue, day) in self.s.closed,
                                department=self.s.departments.get(department_id) if department_id is not None
                                else None,
                                service_points={i: self.s.points[i] for i in point_ids if i in self.s.points})


class MemoryConnections:
    def __init__(self, state: QueueState):
        self.s = state

    def connected(self, connection_id: str, expires_at: datetime) -> None:
        with self.s.lock:
            self.s.connections[connection_id] = None

    def subscribe(self, connection_id: str, queue: str, expires_at: datetime) -> None:
        with self.s.lock:
            self.s.connections[connection_id] = queue

    def disconnected(self, connection_id: str) -> None:
        with self.s.lock:
            self.s.connections.pop(connection_id, None)

    def subscribers(self, queue: str) -> list[str]:
        with self.s.lock:
            return sorted(c for c, q in self.s.connections.items() if q == queue)


class MemoryServicePoints:
    def __init__(self, state: QueueState):
        self.s = state

    def _name_taken(self, point: ServicePoint) -> bool:
        return any(p.id != point.id and p.department == point.department and p.name.lower() == point.name.lower()
                   for p in self.s.points.values())

    def _department_missing(self, department_id: int | None) -> bool:
        if department_id is None:
            return False
        department = self.s.departments.get(department_id)
        return department is None or not department.is_active

    def add(self, point: ServicePoint) -> None:
        with self.s.lock:
            failed = ([DEPARTMENT] if self._department_missing(point.department) else []) + (
                [SERVICE_POINT_NAME] if self._name_taken(point) else [])
            if failed:
                raise ConditionFailed(failed)
            self.s.points[point.id] = replace(point)

    def save_changes(self, before: ServicePoint, after: ServicePoint) -> None:
        with self.s.lock:
            stored = self.s.points.get(before.id)
            failed = []
            if after.department != before.department and self._department_missing(after.department):
                failed.append(DEPARTMENT)
            if self._name_taken(after):
                failed.append(SERVICE_POINT_NAME)
            if stored is None or stored.name != before.name or stored.is_active != before.is_active:
                failed.append("service-point")
            if failed:
                raise ConditionFailed(failed)
            self.s.points[before.id] = replace(after)

    def get(self, point_id: int) -> ServicePoint | None:
        with self.s.lock:
            point = self.s.points.get(point_id)
            return replace(point) if point else None

    def list_page(self, limit: int, cursor: str | None) -> Page:
        with self.s.lock:
            points = [self.s.points[i] for i in sorted(self.s.points)]
            start = int(cursor) if cursor else 0
            return Page(items=points[start:start + limit],
                        next=str(start + limit) if start + limit < len(points) else None)

    def desk_records(self, doctor_id: int | None, department_id: int | None, point_id: int | None) -> DeskRecords:
        with self.s.lock:
            return DeskRecords(self.s.doctors.get(doctor_id) if doctor_id is not None else None,
                               self.s.departments.get(department_id) if department_id is not None else None,
                               self.s.points.get(point_id) if point_id is not None else None)


class MemoryQueueLookups:
    def __init__(self, state: QueueState):
        self.s = state

    def department(self, department_id: int) -> Department | None:
        with self.s.lock:
            return self.s.departments.get(department_id)

    def patient(self, patient_id: int) -> Patient | None:
        with self.s.lock:
            return self.s.patients.get(patient_id)


def memory_queue_stores(db=None) -> dict:
    """The queue's fields of `Stores`, sharing one state (reachable as `.s` of each); with a MemoryDb,
    a check-in sets the appointment in its table."""
    state = QueueState()
    if db is not None:
        state.appointments, state.appointments_lock = db.table("appointments"), db.lock
    entries = MemoryQueueEntries(state)
    return {"queue_entries": entries, "queue_days": MemoryQueueDays(state), "board": MemoryBoard(state, entries),
            "connections": MemoryConnections(state), "service_points": MemoryServicePoints(state),
            "queue_lookups": MemoryQueueLookups(state)}
