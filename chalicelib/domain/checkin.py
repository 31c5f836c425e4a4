"""Appointment check-in: a patient with an appointment today joins the doctor's department queue
with priority `appointment` (after urgent, before normal, in appointment-time order), and the
appointment's `checked_in_entry` is set in the same write as the entry.
"""
from __future__ import annotations

from datetime import timedelta

from chalicelib.domain import clock
from chalicelib.domain.appointments import clinic_day_bounds, get_appointment
from chalicelib.domain.entities import SCHEDULED, QueueEntry, User
from chalicelib.domain.queue.joining import CheckIn, JoinRequest, join
from chalicelib.domain.stores import stores
from chalicelib.domain.values import parse_instant
from chalicelib.errors import Conflict, NotFound, ValidationFailed

EARLIEST = timedelta(minutes=60)  # how long before the appointment its check-in opens
NOT_SCHEDULED = "Only a scheduled appointment can be checked in."
NOT_NOW = "An appointment is checked in on its day, from 60 minutes before it."


class AlreadyCheckedIn(Conflict):
    """The appointment was checked in already (409, with the entry it made)."""

    def __init__(self, entry: QueueEntry | None, entry_id: int):
        message = "This appointment is already checked in."
        super().__init__(message, fields={"appointment": message})
        self.entry = entry
        self.entry_id = entry_id


def check_in(actor: User, appointment_id: int) -> QueueEntry:
    """Check an appointment in now: the new waiting entry in its doctor's department queue."""
    appointment = get_appointment(actor, appointment_id)  # 404; a patient's own only
    _refuse_if_checked_in(appointment.checked_in_entry)
    if appointment.status != SCHEDULED:
        raise ValidationFailed.field("status", NOT_SCHEDULED)
    now, at = clock.now(), parse_instant(appointment.date)
    day = clock.day_of(at)
    if clock.day_of(now) != day or now < at - EARLIEST:
        raise ValidationFailed.field("date", NOT_NOW)
    doctor = stores().doctors.get(appointment.doctor)
    if doctor is None:
        raise NotFound(f"No doctor with id {appointment.doctor}.")
    start, _ = clinic_day_bounds(day)
    minute = int((at - start).total_seconds() // 60)

    def checked_in_meanwhile() -> Exception:
        current = stores().appointments.get(appointment_id)
        if current is not None and current.checked_in_entry is not None:
            return _checked_in(current.checked_in_entry)
        return ValidationFailed.field("status", NOT_SCHEDULED)

    return join(actor, JoinRequest(patient_id=appointment.patient, department=doctor.department),
                CheckIn(appointment.id, minute), checked_in_meanwhile)


def _checked_in(entry_id: int) -> AlreadyCheckedIn:
    return AlreadyCheckedIn(stores().queue_entries.get(entry_id), entry_id)


def _refuse_if_checked_in(entry_id: int | None) -> None:
    if entry_id is not None:
        raise _checked_in(entry_id)
