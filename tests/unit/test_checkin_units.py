"""Appointment check-in through the domain with the stores in memory: the calling order
(urgent, appointment by appointment time, normal), the one write, and what refuses it."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.domain import checkin, clock, queue
from chalicelib.domain.entities import (
    APPOINTMENT_PRIORITY,
    CANCELED,
    SCHEDULED,
    URGENT,
    Appointment,
    Doctor,
    rank_of,
    token_of_rank,
)
from chalicelib.domain.queue import JoinRequest
from chalicelib.domain.stores import stores
from chalicelib.errors import ConditionFailed, Conflict, ValidationFailed
from tests.support.queue_world import CARDIOLOGY, IDENTITIES, STAFF, world_fixture  # noqa: F401

PATIENT_1 = IDENTITIES["own patient"]


@pytest.fixture
def clinic(world, fakes):
    fakes.doctors.rows[7] = Doctor(7, "D7", "-", CARDIOLOGY, 503)
    return fakes


def book(fakes, appointment_id: int, patient: int, when: str, status: str = SCHEDULED) -> Appointment:
    appointment = Appointment(id=appointment_id, patient=patient, doctor=7, date=when, status=status,
                              created_at="2026-03-01T08:00:00Z")
    fakes.appointments.rows[appointment_id] = appointment
    return appointment


def test_urgent_then_appointments_by_their_time_then_normal(clinic):
    # joined in the opposite order of the calling order
    normal = queue.join(STAFF, JoinRequest(patient_id=4, department=CARDIOLOGY))
    book(clinic, 1, 1, "2026-03-02T10:00:00Z")
    book(clinic, 2, 2, "2026-03-02T09:30:00Z")
    late = checkin.check_in(PATIENT_1, 1)
    early = checkin.check_in(STAFF, 2)
    urgent = queue.join(STAFF, JoinRequest(patient_id=3, department=CARDIOLOGY, priority=URGENT))
    assert (late.priority, early.priority) == (APPOINTMENT_PRIORITY, APPOINTMENT_PRIORITY)
    called = [queue.call_next(STAFF, CARDIOLOGY).id for _ in range(4)]
    assert called == [urgent.id, early.id, late.id, normal.id]
    assert queue.call_next(STAFF, CARDIOLOGY) is None


def test_ranks_keep_the_old_order_and_give_the_token_back():
    assert rank_of(URGENT, 7) == 7 and rank_of("normal", 7) == 10**9 + 7  # as stored before check-in existed
    assert rank_of(URGENT, 99_999) < rank_of(APPOINTMENT_PRIORITY, 1, 0) < rank_of(APPOINTMENT_PRIORITY, 1, 1)
    assert rank_of(APPOINTMENT_PRIORITY, 99_999, 1500) < rank_of("normal", 1)
    assert rank_of(APPOINTMENT_PRIORITY, 3, 600) < rank_of(APPOINTMENT_PRIORITY, 2, 601)
    for rank in (rank_of(URGENT, 12), rank_of("normal", 12), rank_of(APPOINTMENT_PRIORITY, 12, 1439)):
        assert token_of_rank(rank) == 12


def test_the_entry_and_the_appointment_are_one_write(clinic):
    book(clinic, 1, 1, "2026-03-02T10:00:00Z")
    entry = checkin.check_in(PATIENT_1, 1)
    assert stores().appointments.get(1).checked_in_entry == entry.id
    assert stores().queue_entries.get(entry.id).appointment == 1
    with pytest.raises(checkin.AlreadyCheckedIn) as twice:
        checkin.check_in(STAFF, 1)
    assert twice.value.entry.id == entry.id


def test_a_failed_write_leaves_neither(clinic, monkeypatch):
    # The appointment was canceled after the check-in read it: no entry, no claim, nothing set.
    scheduled = book(clinic, 1, 1, "2026-03-02T10:00:00Z")
    book(clinic, 1, 1, "2026-03-02T10:00:00Z", status=CANCELED)
    real_get = stores().appointments.get
    monkeypatch.setattr(stores().appointments, "get", lambda i: replace(scheduled) if i == 1 else real_get(i))
    with pytest.raises(ValidationFailed) as refused:
        checkin.check_in(PATIENT_1, 1)
    assert "status" in refused.value.fields
    monkeypatch.setattr(stores().appointments, "get", real_get)
    assert clinic.queue_entries.s.entries == {} and clinic.queue_entries.s.claims == {}
    assert stores().appointments.get(1).checked_in_entry is None
    # The patient already holds a place in that queue: the appointment stays unchecked.
    book(clinic, 2, 2, "2026-03-02T09:45:00Z")
    held = queue.join(STAFF, JoinRequest(patient_id=2, department=CARDIOLOGY))
    with pytest.raises(Conflict):
        checkin.check_in(STAFF, 2)
    assert stores().appointments.get(2).checked_in_entry is None
    assert list(clinic.queue_entries.s.entries) == [held.id]


def test_the_store_refuses_a_second_check_in_itself(clinic):
    book(clinic, 1, 1, "2026-03-02T10:00:00Z")
    entry = checkin.check_in(PATIENT_1, 1)
    again = replace(entry, id=entry.id + 100, patient_id=3, token_number=99)
    with pytest.raises(ConditionFailed) as lost:
        stores().queue_entries.add(again, claim_expires_at=clock.now())
    assert lost.value.labels == ["checked-in"]


@pytest.mark.parametrize("when, status, field", [
    ("2026-03-03T10:00:00Z", SCHEDULED, "date"),  # tomorrow
    ("2026-03-01T10:00:00Z", SCHEDULED, "date"),  # yesterday
    ("2026-03-02T10:01:00Z", SCHEDULED, "date"),  # more than 60 minutes ahead (now is 09:00)
    ("2026-03-02T10:00:00Z", CANCELED, "status"),
])
def test_another_day_too_early_or_not_scheduled_is_400(clinic, when, status, field):
    book(clinic, 1, 1, when, status=status)
    with pytest.raises(ValidationFailed) as refused:
        checkin.check_in(PATIENT_1, 1)
    assert field in refused.value.fields


def test_a_patient_checks_in_only_their_own(clinic):
    book(clinic, 1, 2, "2026-03-02T10:00:00Z")
    with pytest.raises(Exception) as refused:
        checkin.check_in(PATIENT_1, 1)
    assert type(refused.value).__name__ == "Forbidden"
