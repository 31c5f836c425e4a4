"""Patients, doctors and departments through the domain with the stores in memory: who may
reach a record, uniqueness, and edits that meet other writers."""
from __future__ import annotations

import threading
from datetime import date

import pytest

from chalicelib.domain import departments, doctors, patients
from chalicelib.domain.commands import (
    DepartmentChanges,
    DepartmentDetails,
    DoctorChanges,
    DoctorDetails,
    PatientChanges,
    PatientDetails,
)
from chalicelib.domain.conflicts import BUSY
from chalicelib.domain.entities import User
from chalicelib.domain.stores import stores
from chalicelib.errors import Conflict, Forbidden, NotFound, ValidationFailed


def user(role: str, patient_id: int | None = None, user_id: int = 50) -> User:
    return User(id=user_id, username=f"{role}{user_id}", email=f"{role}{user_id}@example.test", role=role,
                password_hash="", date_of_birth=None, first_name="", last_name="", is_active=True,
                date_joined="2024-01-01T00:00:00Z", patient_id=patient_id)


STAFF = user("staff")


def test_a_patient_reaches_only_their_own_record(fakes):
    own, _ = patients.create_patient(STAFF, PatientDetails(name="Own"))
    other, _ = patients.create_patient(STAFF, PatientDetails(name="Other"))
    me = user("patient", own.id)
    assert patients.get_patient(me, own.id).name == "Own"
    assert [p.id for p in patients.list_patients(me, 50, None).items] == [own.id]
    with pytest.raises(Forbidden):
        patients.get_patient(me, other.id)
    with pytest.raises(Forbidden):  # before anything about the body
        patients.update_patient(me, other.id, lambda: pytest.fail("the body is not read for a stranger"))
    assert patients.update_patient(me, own.id, lambda: PatientChanges(phone="555 0100")).phone == "555 0100"
    assert [p.id for p in patients.list_patients(STAFF, 50, None).items] == [own.id, other.id]
    with pytest.raises(NotFound):
        patients.get_patient(STAFF, 999)


def test_patient_emails_are_unique_and_move_with_an_edit(fakes):
    first, _ = patients.create_patient(STAFF, PatientDetails(name="A", email="a@example.test"))
    with pytest.raises(Conflict) as taken:
        patients.create_patient(STAFF, PatientDetails(name="B", email="A@EXAMPLE.TEST"))
    assert taken.value.fields == {"email": patients.EMAIL_TAKEN}
    patients.update_patient(STAFF, first.id, lambda: PatientChanges(email="new@example.test"))
    second, _ = patients.create_patient(STAFF, PatientDetails(name="B", email="a@example.test"))  # freed
    with pytest.raises(Conflict):
        patients.update_patient(STAFF, second.id, lambda: PatientChanges(email="new@example.test"))
    cleared = patients.update_patient(STAFF, first.id, lambda: PatientChanges(email=None))
    assert cleared.email is None and stores().patients.id_by_email("new@example.test") is None


def test_an_edit_meeting_another_writer_is_done_again_on_what_is_stored(fakes):
    record, _ = patients.create_patient(STAFF, PatientDetails(name="A", email="a@example.test"))
    store = stores().patients
    reads = [0]
    real_get = store.get

    def get_then_race(patient_id):
        found = real_get(patient_id)
        reads[0] += 1
        if reads[0] == 1:  # another writer changes the email between this read and the write
            store.save_changes(found, type(found)(**{**found.__dict__, "email": "b@example.test"}))
        return found

    store.get = get_then_race
    after = patients.update_patient(STAFF, record.id, lambda: PatientChanges(name="Renamed"))
    assert (after.name, after.email, reads[0]) == ("Renamed", "b@example.test", 2)


def test_an_edit_that_always_meets_another_writer_is_a_409(fakes, monkeypatch):
    record, _ = patients.create_patient(STAFF, PatientDetails(name="A"))
    store = stores().patients
    real_get = store.get
    writes = iter(range(1000))

    def always_stale(patient_id):
        found = real_get(patient_id)
        store.save_changes(found, type(found)(**{**found.__dict__, "email": f"x{next(writes)}@example.test"}))
        return found

    monkeypatch.setattr(store, "get", always_stale)
    with pytest.raises(Conflict) as busy:
        patients.update_patient(STAFF, record.id, lambda: PatientChanges(name="B"))
    assert busy.value.message == BUSY


def test_a_link_code_for_a_linked_record_is_a_conflict(fakes):
    record, first = patients.create_patient(STAFF, PatientDetails(name="A"))
    second = patients.issue_link_code(STAFF, record.id)
    assert second.code != first.code
    assert stores().patients.id_by_link_code(stores().patients.get(record.id).link_code_hash) == record.id
    stored = stores().patients.get(record.id)
    stores().patients.rows[record.id] = type(stored)(**{**stored.__dict__, "user_id": 7})
    with pytest.raises(Conflict):
        patients.issue_link_code(STAFF, record.id)


def test_a_birth_date_is_not_in_the_future(fakes):
    with pytest.raises(ValidationFailed):
        patients.create_patient(STAFF, PatientDetails(name="A", date_of_birth=date(2999, 1, 1)))


def test_department_names_are_unique_without_regard_to_case(fakes):
    cardiology = departments.create_department(STAFF, DepartmentDetails(name="Cardiology"))
    with pytest.raises(Conflict) as taken:
        departments.create_department(STAFF, DepartmentDetails(name="CARDIOLOGY"))
    assert taken.value.fields == {"name": departments.NAME_TAKEN}
    departments.update_department(STAFF, cardiology.id, DepartmentChanges(name="Heart"))
    assert departments.create_department(STAFF, DepartmentDetails(name="cardiology")).id != cardiology.id


def test_ensure_department_at_once_makes_one(fakes):
    got: list[int] = []
    start = threading.Barrier(5)

    def ensure() -> None:
        start.wait()
        got.append(departments.ensure_department("General Medicine"))

    threads = [threading.Thread(target=ensure) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(got)) == 1 and len(departments.list_departments(50, None).items) == 1


def test_a_doctor_belongs_to_an_existing_active_department(fakes):
    with pytest.raises(ValidationFailed) as missing:
        doctors.create_doctor(STAFF, DoctorDetails(name="Who", specialty="GP", department=9))
    assert missing.value.fields == {"department": "No department with id 9."}
    active = departments.create_department(STAFF, DepartmentDetails(name="A"))
    closed = departments.create_department(STAFF, DepartmentDetails(name="B"))
    departments.update_department(STAFF, closed.id, DepartmentChanges(is_active=False))
    doctor = doctors.create_doctor(STAFF, DoctorDetails(name="House", specialty="GP", department=active.id))
    with pytest.raises(ValidationFailed):
        doctors.update_doctor(STAFF, doctor.id, DoctorChanges(department=closed.id))
    moved = doctors.update_doctor(STAFF, doctor.id, DoctorChanges(specialty="Diagnostics", is_active=False))
    assert (moved.specialty, moved.department, moved.is_active) == ("Diagnostics", active.id, False)
    assert [d.id for d in doctors.list_doctors(50, None, department=active.id).items] == [doctor.id]
    assert doctors.list_doctors(50, None, department=closed.id).items == []


def test_pages_follow_their_cursor_and_only_theirs(fakes):
    for n in range(5):
        departments.create_department(STAFF, DepartmentDetails(name=f"D{n}"))
    first = departments.list_departments(2, None)
    second = departments.list_departments(2, first.next)
    assert [d.name for d in first.items + second.items] == ["D0", "D1", "D2", "D3"]
    with pytest.raises(ValidationFailed):
        doctors.list_doctors(2, first.next)
