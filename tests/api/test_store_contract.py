"""The in-memory stores (tests.support.fakes) answer as the DynamoDB ones do: the same scenario,
run on both, gives the same results and the same ConditionFailed labels in the same order."""
from __future__ import annotations

from dataclasses import replace

from chalicelib import storage
from chalicelib.domain.entities import (
    SCHEDULED,
    Appointment,
    AppointmentFilters,
    Department,
    Doctor,
    Patient,
    PatientLink,
    User,
)
from chalicelib.domain.stores import Stores
from chalicelib.errors import ConditionFailed
from tests.support.fakes import memory_stores

FUTURE = "2999-01-01T10:00:00Z"


def account(user_id: int, username: str, role: str = "patient", **kw) -> User:
    return User(id=user_id, username=username, email=f"{username}@example.test", role=role, password_hash="h",
                date_of_birth=None, first_name="", last_name="", is_active=True, date_joined="2024-01-01T00:00:00Z",
                token_key="k", **kw)


def record(patient_id: int, email: str | None = None, user_id: int | None = None, **kw) -> Patient:
    return Patient(id=patient_id, name=f"P{patient_id}", email=email, phone=None, date_of_birth=None,
                   user_id=user_id, created_at="2024-01-01T00:00:00Z", **kw)


def scenario(s: Stores) -> list:
    """Each step's outcome: "ok", the labels of the condition that failed, or what a read gave."""
    out: list = []

    def step(write) -> None:
        try:
            write()
            out.append("ok")
        except ConditionFailed as exc:
            out.append(exc.labels)

    step(lambda: s.departments.add(Department(1, "Cardiology", "")))
    step(lambda: s.departments.add(Department(2, "CARDIOLOGY", "")))
    step(lambda: s.departments.add(Department(3, "Closed", "", is_active=False)))
    step(lambda: s.doctors.add(Doctor(1, "D1", "GP", department=99, user_id=None)))
    step(lambda: s.doctors.add(Doctor(1, "D1", "GP", department=3, user_id=None)))
    step(lambda: s.doctors.add(Doctor(1, "D1", "GP", department=1, user_id=None)))
    step(lambda: s.departments.save_changes(Department(1, "Renamed", ""), Department(1, "Other", "")))

    jane = account(1, "jane", patient_id=1)
    step(lambda: s.users.register(jane, patient=record(1, "jane@example.test", user_id=1)))
    step(lambda: s.users.register(account(2, "JANE", patient_id=2), patient=record(2, "jane@example.test", 2)))
    step(lambda: s.patients.add(record(3, link_code_hash="hash", link_code_expires_at=FUTURE)))
    step(lambda: s.users.register(account(3, "walk", patient_id=3), link=PatientLink(3, "other", "2024-01-01")))
    step(lambda: s.users.register(account(3, "walk", patient_id=3), link=PatientLink(3, "hash", "2999-02-01")))
    step(lambda: s.users.register(account(3, "walk", patient_id=3), link=PatientLink(3, "hash", "2024-01-01")))
    out.append((s.patients.get(3).user_id, s.patients.id_by_link_code("hash")))
    step(lambda: s.users.register(account(4, "house", "doctor", doctor_id=2),
                                  doctor=Doctor(2, "House", "GP", department=3, user_id=4)))
    step(lambda: s.patients.save_changes(record(1, "stale@example.test"), record(1, "x@example.test")))

    root = account(5, "root", "admin")
    step(lambda: s.users.register(root))
    step(lambda: s.users.save_changes(root, replace(root, role="staff")))
    step(lambda: s.users.delete(root))
    step(lambda: s.users.save_changes(jane, replace(jane, username="janet", token_version=1)))
    out.append((s.users.get_by_username("jane"), s.users.get_by_username("JANET").token_version))
    step(lambda: s.users.delete(replace(jane, username="janet")))
    out.append((s.users.get(1), s.patients.get(1).user_id))

    slot = Appointment(1, patient=1, doctor=1, date=FUTURE, status=SCHEDULED, created_at="2024-01-01T00:00:00Z")
    step(lambda: s.appointments.add(slot, (1, None)))
    step(lambda: s.appointments.add(replace(slot, id=2, patient=2), None))
    step(lambda: s.appointments.add(replace(slot, id=3, patient=98, doctor=99), None))
    step(lambda: s.appointments.add(replace(slot, id=4, date="2999-01-02T10:00:00Z"), (1, None)))
    step(lambda: s.appointments.save_changes(replace(slot, status="canceled"), replace(slot, date=FUTURE)))
    step(lambda: s.appointments.save_changes(slot, replace(slot, status="canceled")))
    step(lambda: s.appointments.add(replace(slot, id=5, patient=3), None))
    out.append(s.appointments.booking_places(1, 5))
    out.append([a.id for a in s.appointments.list_page(AppointmentFilters(status=SCHEDULED), 5, None).items])
    out.append([a.id for a in s.appointments.list_page(AppointmentFilters(patient=1), 5, None).items])
    out.append([(p.id, p.user_id) for p in s.patients.list_page(5, None).items])
    out.append([d.name for d in s.departments.list_page(5, None).items])
    return out


def test_the_fakes_answer_as_dynamodb_does(aws):
    on_dynamodb = scenario(storage.dynamodb_stores())
    in_memory = scenario(memory_stores())
    assert in_memory == on_dynamodb
    # and the scenario met the conditions it is about
    for labels in (["department-name"], ["department"], ["username", "email", "patient-email"], ["patient-link"],
                   ["last-admin"], ["patient", "doctor"], ["booking-place"], ["department-edit"]):
        assert labels in on_dynamodb
