"""Appointments through the domain with the stores in memory: own-only access, the booking
limit, slots, status changes and races."""
from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import pytest

from chalicelib.domain import appointments, clock
from chalicelib.domain.appointments import MAX_OWN_BOOKINGS
from chalicelib.domain.commands import AppointmentChanges, AppointmentQuery, Booking
from chalicelib.domain.entities import CANCELED, COMPLETED, Department, Doctor, Patient, User
from chalicelib.domain.stores import stores
from chalicelib.errors import Conflict, Forbidden, ValidationFailed

NOW = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def user(role: str, user_id: int, patient_id: int | None = None, doctor_id: int | None = None) -> User:
    return User(id=user_id, username=f"u{user_id}", email=f"u{user_id}@example.test", role=role, password_hash="",
                date_of_birth=None, first_name="", last_name="", is_active=True,
                date_joined="2024-01-01T00:00:00Z", patient_id=patient_id, doctor_id=doctor_id)


@pytest.fixture
def clinic(fakes, monkeypatch):
    """Two patients and two doctors, and an account for each, at a fixed instant."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    stores().departments.add(Department(id=1, name="General", description=""))
    for n in (1, 2):
        stores().patients.add(Patient(id=n, name=f"P{n}", email=None, phone=None, date_of_birth=None, user_id=None,
                                      created_at="2024-01-01T00:00:00Z"))
        stores().doctors.add(Doctor(id=n, name=f"D{n}", specialty="GP", department=1, user_id=None))
    return {"staff": user("staff", 10), "p1": user("patient", 11, patient_id=1),
            "p2": user("patient", 12, patient_id=2), "d1": user("doctor", 13, doctor_id=1),
            "d2": user("doctor", 14, doctor_id=2)}


def at(hours: int) -> datetime:
    return NOW + timedelta(hours=hours)


def test_a_patient_books_for_themself_only(clinic):
    mine = appointments.book(clinic["p1"], Booking(doctor=1, date=at(1)))
    assert (mine.patient, mine.status) == (1, "scheduled")
    with pytest.raises(Forbidden):
        appointments.book(clinic["p1"], Booking(doctor=1, date=at(2), patient=2))
    with pytest.raises(ValidationFailed) as status:
        appointments.book(clinic["p1"], Booking(doctor=1, date=at(2), status=COMPLETED))
    assert "status" in status.value.fields
    with pytest.raises(ValidationFailed) as patient:
        appointments.book(clinic["staff"], Booking(doctor=1, date=at(2)))
    assert "patient" in patient.value.fields


def test_the_booking_limit_frees_a_place_when_one_is_canceled(clinic):
    booked = [appointments.book(clinic["p1"], Booking(doctor=1, date=at(n + 1))) for n in range(MAX_OWN_BOOKINGS)]
    with pytest.raises(ValidationFailed) as full:
        appointments.book(clinic["p1"], Booking(doctor=1, date=at(20)))
    assert full.value.fields == {"patient": appointments.TOO_MANY_BOOKINGS}
    appointments.book(clinic["staff"], Booking(doctor=2, date=at(21), patient=1))  # staff bookings take no place
    appointments.change(clinic["p1"], booked[0].id, lambda: AppointmentChanges(status=CANCELED))
    appointments.book(clinic["p1"], Booking(doctor=1, date=at(22)))


def test_a_place_held_by_a_past_appointment_is_free_again(clinic, monkeypatch):
    for n in range(MAX_OWN_BOOKINGS):
        appointments.book(clinic["p1"], Booking(doctor=1, date=at(n + 1)))
    monkeypatch.setattr(clock, "now", lambda: at(2) + timedelta(minutes=1))  # two of them have passed
    appointments.book(clinic["p1"], Booking(doctor=2, date=at(30)))
    appointments.book(clinic["p1"], Booking(doctor=2, date=at(31)))
    with pytest.raises(ValidationFailed):
        appointments.book(clinic["p1"], Booking(doctor=2, date=at(32)))


def test_the_limit_counts_the_appointments_as_they_now_are(clinic):
    """A place's appointment is read at booking time: moved by the desk, it still counts;
    canceled by the desk, it no longer does."""
    booked = [appointments.book(clinic["p1"], Booking(doctor=1, date=at(n + 1))) for n in range(MAX_OWN_BOOKINGS)]
    appointments.change(clinic["staff"], booked[0].id, lambda: AppointmentChanges(date=at(100)))
    with pytest.raises(ValidationFailed):
        appointments.book(clinic["p1"], Booking(doctor=2, date=at(20)))
    appointments.change(clinic["staff"], booked[1].id, lambda: AppointmentChanges(status=CANCELED))
    appointments.book(clinic["p1"], Booking(doctor=2, date=at(20)))


def test_racing_own_bookings_never_pass_the_limit(clinic):
    outcomes: list = []
    start = threading.Barrier(MAX_OWN_BOOKINGS + 3)

    def book(n: int) -> None:
        start.wait()
        try:
            outcomes.append(appointments.book(clinic["p1"], Booking(doctor=1 + n % 2, date=at(n + 1))))
        except (ValidationFailed, Conflict) as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=book, args=(n,)) for n in range(MAX_OWN_BOOKINGS + 3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for o in outcomes if not isinstance(o, Exception)) == MAX_OWN_BOOKINGS


def test_one_doctor_slot_one_booking(clinic):
    appointments.book(clinic["staff"], Booking(doctor=1, date=at(1), patient=1))
    with pytest.raises(Conflict) as taken:
        appointments.book(clinic["staff"], Booking(doctor=1, date=at(1), patient=2))
    assert taken.value.fields == {"date": appointments.SLOT_TAKEN}
    with pytest.raises(ValidationFailed) as missing:
        appointments.book(clinic["staff"], Booking(doctor=9, date=at(1), patient=8))
    assert set(missing.value.fields) == {"patient", "doctor"}


def test_a_scheduled_appointment_is_in_the_future(clinic):
    with pytest.raises(ValidationFailed) as past:
        appointments.book(clinic["staff"], Booking(doctor=1, date=at(-1), patient=1))
    assert past.value.fields == {"date": appointments.NOT_IN_FUTURE}
    done = appointments.book(clinic["staff"], Booking(doctor=1, date=at(-1), patient=1, status=COMPLETED))
    assert done.status == COMPLETED


def test_who_reaches_which_appointment(clinic):
    first = appointments.book(clinic["staff"], Booking(doctor=1, date=at(1), patient=1))
    appointments.book(clinic["staff"], Booking(doctor=2, date=at(2), patient=2))
    assert appointments.get_appointment(clinic["p1"], first.id).id == first.id
    assert appointments.get_appointment(clinic["d1"], first.id).id == first.id
    for stranger in ("p2", "d2"):
        with pytest.raises(Forbidden):
            appointments.get_appointment(clinic[stranger], first.id)
        with pytest.raises(Forbidden):  # before anything about the body
            appointments.change(clinic[stranger], first.id, lambda: pytest.fail("the body is not read"))
    mine = appointments.list_appointments(clinic["p1"], 50, None, AppointmentQuery())
    assert [a.patient for a in mine.items] == [1]
    assert [a.doctor for a in appointments.list_appointments(clinic["d2"], 50, None, AppointmentQuery()).items] == [2]
    assert len(appointments.list_appointments(clinic["staff"], 50, None, AppointmentQuery()).items) == 2
    with pytest.raises(Forbidden):
        appointments.list_appointments(clinic["p1"], 50, None, AppointmentQuery(patient=2))
    with pytest.raises(Forbidden):
        appointments.list_appointments(clinic["d1"], 50, None, AppointmentQuery(doctor=2))
    day = appointments.list_appointments(clinic["staff"], 50, None, AppointmentQuery(date=date(2024, 3, 5)))
    assert day.items == []


def test_a_patient_may_only_cancel_and_never_a_completed_one(clinic):
    booked = appointments.book(clinic["staff"], Booking(doctor=1, date=at(1), patient=1))
    with pytest.raises(Forbidden):
        appointments.change(clinic["p1"], booked.id, lambda: AppointmentChanges(date=at(3)))
    moved = appointments.change(clinic["d1"], booked.id, lambda: AppointmentChanges(date=at(3)))
    assert moved.date == "2024-03-04T12:00:00Z"
    appointments.book(clinic["staff"], Booking(doctor=1, date=at(1), patient=2))  # the old slot is free again
    appointments.change(clinic["staff"], booked.id, lambda: AppointmentChanges(status=COMPLETED))
    with pytest.raises(Conflict) as completed:
        appointments.change(clinic["p1"], booked.id, lambda: AppointmentChanges(status=CANCELED))
    assert "status" in completed.value.fields


def test_moving_onto_a_taken_slot_is_a_conflict(clinic):
    first = appointments.book(clinic["staff"], Booking(doctor=1, date=at(1), patient=1))
    appointments.book(clinic["staff"], Booking(doctor=1, date=at(2), patient=2))
    with pytest.raises(Conflict) as taken:
        appointments.change(clinic["staff"], first.id, lambda: AppointmentChanges(date=at(2)))
    assert taken.value.fields == {"date": appointments.SLOT_TAKEN}
