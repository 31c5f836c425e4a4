"""A small clinic in the queue's in-memory stores, for the domain's queue tests: departments,
patients, doctors, a desk, a fixed clock, callers of every identity, and entries put straight into
any status."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from chalicelib.domain import clock
from chalicelib.domain.entities import (
    CALLED,
    NORMAL,
    WAITING,
    Department,
    Doctor,
    Event,
    Patient,
    QueueEntry,
    ServicePoint,
    User,
)
from chalicelib.domain.queue import forget_contention
from chalicelib.domain.stores import stores

CARDIOLOGY, PHARMACY, CLOSED_WARD = 1, 2, 3
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def user(role: str, *, patient_id: int | None = None, doctor_id: int | None = None, user_id: int = 500) -> User:
    return User(id=user_id, username=role, email=f"{role}@clinic.test", role=role, password_hash="-",
                date_of_birth=None, first_name="", last_name="", is_active=True, date_joined="2026-01-01T00:00:00Z",
                patient_id=patient_id, doctor_id=doctor_id)


IDENTITIES = {
    "own patient": user("patient", patient_id=1, user_id=501),
    "other patient": user("patient", patient_id=2, user_id=502),
    "own doctor": user("doctor", doctor_id=7, user_id=503),
    "other doctor": user("doctor", doctor_id=8, user_id=504),
    "staff": user("staff", user_id=505),
    "admin": user("admin", user_id=506),
}
STAFF, ADMIN = IDENTITIES["staff"], IDENTITIES["admin"]


@pytest.fixture(name="world")
def world_fixture(fakes, monkeypatch):
    """Cardiology (active), Pharmacy (active), a closed ward (inactive); patients 1-5; a doctor of
    cardiology (7) and of pharmacy (8); desk 1 of cardiology; the clock at NOW."""
    instant = {"now": NOW}
    monkeypatch.setattr(clock, "now", lambda: instant["now"])
    forget_contention()  # desks that collided in an earlier test call in random order for a second
    state = fakes.queue_entries.s
    state.departments.update({
        CARDIOLOGY: Department(CARDIOLOGY, "Cardiology", ""), PHARMACY: Department(PHARMACY, "Pharmacy", ""),
        CLOSED_WARD: Department(CLOSED_WARD, "Ward", "", is_active=False)})
    for patient_id in range(1, 6):
        state.patients[patient_id] = Patient(patient_id, f"P{patient_id}", f"p{patient_id}@x.test", "+15550100",
                                             None, None, "2026-01-01T00:00:00Z")
    state.doctors.update({7: Doctor(7, "D7", "-", CARDIOLOGY, 503), 8: Doctor(8, "D8", "-", PHARMACY, 504)})
    state.points[1] = ServicePoint(1, "Desk 1", "desk", CARDIOLOGY)
    state.clock = instant
    return state


def stored(world, status: str, *, patient_id: int = 1, department: int | None = CARDIOLOGY, token: int = 1,
           day=None, priority: str = NORMAL) -> QueueEntry:
    """An entry put straight into the fake in `status`, with a history that replays to it and the
    patient's claim while it is open."""
    day = day or clock.today()
    at = "2026-03-02T08:00:00Z"
    history = [Event(WAITING, at, 505)]
    fields = {}
    if status != WAITING:
        history.append(Event(CALLED, at, 505, 1))
        fields = {"called_at": at, "first_called_at": at, "service_point": 1, "called_by": 505}
    if status not in (WAITING, CALLED):
        history.append(Event(status, at, 505, 1))
        fields["closed_at"] = at
    entry_id = stores().ids.reserved_id("queue_entry") + 1000
    entry = QueueEntry(id=entry_id, token_number=token, queue_date=day, department=department,
                       patient_id=patient_id, status=status, priority=priority, created_at=at, visit=entry_id,
                       history=history, **fields)
    world.entries[entry.id] = entry
    if entry.is_open:
        world.claims[(entry.queue, day.isoformat(), patient_id)] = entry.id
    key = f"{entry.queue}#{day.isoformat()}"
    world.tokens[key] = max(world.tokens.get(key, 0), token)
    return entry
