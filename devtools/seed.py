"""Callers and records made straight in storage (no HTTP, no password hashing), for the benchmark
(bench/) and the tests (tests/support/queue.py re-exports them): patients one at a time or batch-
written, queue entries of a day in one status, batch-written, and callers as the domain sees them.

Batch writes go around the domain's rules (no counters or claims): for large tables only.
"""
from __future__ import annotations

from chalicelib.domain import clock
from chalicelib.domain.entities import NORMAL, SERVED, WAITING, Patient, QueueEntry, User
from chalicelib.domain.permissions import ADMIN, STAFF
from chalicelib.storage import counters, ids, patients
from chalicelib.storage.patient_search import PatientSearchModel
from chalicelib.storage.patient_search import tokens as search_tokens
from chalicelib.storage.patients import PatientModel
from chalicelib.storage.patients import to_model as patients_model
from chalicelib.storage.queue_entries import QueueEntryModel, to_model


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
    """n patient records with only a name, as the desk makes them: their ids taken in one step of
    the ids' counter, the records and their search index items batch-written."""
    first = counters.next_value("id#patient", n) - n + 1
    bulk_people([Patient(id=first + i, name=f"Patient {i + 1}", email=None, phone=None, date_of_birth=None,
                         user_id=None, created_at="2024-01-01T00:00:00Z") for i in range(n)])
    return list(range(first, first + n))


def walk_in(name: str, created_at: str = "2024-01-01T00:00:00Z") -> Patient:
    """A new patient record with only a name, as the desk makes one."""
    patient = Patient(id=ids.next_id("patient"), name=name, email=None, phone=None, date_of_birth=None,
                      user_id=None, created_at=created_at)
    patients.add(patient)
    return patient


def bulk_patients(patient_ids) -> None:
    """Patient records with these ids, batch-written (large tables for benchmarks)."""
    with PatientModel.batch_write() as batch:
        for patient_id in patient_ids:
            batch.save(patients_model(Patient(id=patient_id, name=f"Patient {patient_id}", email=None, phone=None,
                                              date_of_birth=None, user_id=None, created_at="2024-01-01T00:00:00Z")))


def bulk_people(people: list[Patient]) -> None:
    """Patient records batch-written with the items of the patient search's index (large tables for
    benchmarks); no counters or claims."""
    with PatientModel.batch_write() as batch:
        for patient in people:
            batch.save(patients_model(patient))
    with PatientSearchModel.batch_write() as batch:
        for patient in people:
            for key, sort in search_tokens(patient):
                batch.save(PatientSearchModel(key, sort))


def bulk_put(entries: list[QueueEntry]) -> None:
    """Write many entries in batches (earlier days, large queues); no counters or claims."""
    with QueueEntryModel.batch_write() as batch:
        for entry in entries:
            batch.save(to_model(entry))


def seed_entries(n: int, status: str, *, department: int | None = None, first_token: int = 1,
                 day=None) -> list[QueueEntry]:
    """n entries of a queue's day in one status, batch-written (patients need not exist)."""
    day = day or clock.today()
    first_id = counters.next_value("id#queue_entry", n) - n + 1
    made = [QueueEntry(id=first_id + i, token_number=first_token + i, queue_date=day, department=department,
                       patient_id=900_000 + first_id + i, status=status, priority=NORMAL,
                       created_at="2024-01-01T00:00:00Z",
                       called_at="2024-01-01T00:00:00Z" if status != WAITING else None,
                       served_at="2024-01-01T00:00:00Z" if status == SERVED else None)
            for i in range(n)]
    bulk_put(made)
    return made


def waiting_entries(n: int, **kw) -> list[QueueEntry]:
    return seed_entries(n, WAITING, **kw)
