"""Helpers for the queue's tests: callers and patients made directly in storage (no HTTP, no hashing)."""
from __future__ import annotations

from chalicelib.domain import queue
from chalicelib.domain.permissions import ADMIN, STAFF
from chalicelib.storage import counters, patients
from chalicelib.storage import queue as entries
from chalicelib.storage.queue import QueueEntry
from chalicelib.storage.users import User


def caller(role: str = STAFF, patient_id: int | None = None, user_id: int = 10_000) -> User:
    """A caller as the domain layer sees one (the API resolves it from a token)."""
    return User(id=user_id, username=f"{role}{user_id}", email=f"{role}{user_id}@clinic.test", role=role,
                password_hash="unused", date_of_birth=None, first_name="", last_name="", is_active=True,
                date_joined="2024-01-01T00:00:00Z", patient_id=patient_id)


def desk() -> User:
    return caller(STAFF)


def admin() -> User:
    return caller(ADMIN, user_id=10_001)


def add_patients(n: int) -> list[int]:
    """n patient records, written straight to storage."""
    return [patients.walk_in(f"Patient {i}", "2024-01-01T00:00:00Z").id for i in range(1, n + 1)]


def seed_entries(n: int, status: str, *, department: int | None = None, first_token: int = 1,
                 day=None) -> list[QueueEntry]:
    """n entries of a queue's day in one status, batch-written (patients need not exist)."""
    day = day or queue.today()
    first_id = counters.next_value("id#queue_entry", n) - n + 1
    made = [QueueEntry(id=first_id + i, token_number=first_token + i, queue_date=day, department=department,
                       patient=900_000 + first_id + i, status=status, priority=queue.NORMAL,
                       created_at="2024-01-01T00:00:00Z",
                       called_at="2024-01-01T00:00:00Z" if status != queue.WAITING else None,
                       served_at="2024-01-01T00:00:00Z" if status == queue.SERVED else None)
            for i in range(n)]
    entries.bulk_put(made)
    return made


def waiting_entries(n: int, **kw) -> list[QueueEntry]:
    return seed_entries(n, queue.WAITING, **kw)
