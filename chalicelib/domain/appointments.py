"""Appointments: booking, who sees which, and changes of status or time.

A doctor never has two scheduled appointments at the same instant; the
storage layer enforces that with a slot claim, so this module only turns a
lost claim into a clear 400.
"""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time, timedelta

from chalicelib.domain import clock
from chalicelib.domain.edits import edit
from chalicelib.domain.permissions import DOCTOR, PATIENT, STAFF, require
from chalicelib.errors import Forbidden, ValidationFailed, found
from chalicelib.settings import get_settings
from chalicelib.storage import appointments, counters
from chalicelib.storage.appointments import CANCELED, COMPLETED, SCHEDULED, STATUSES, Appointment, Filters
from chalicelib.storage.base import ConditionFailed, Page, iso_instant
from chalicelib.storage.users import User

__all__ = ["STATUSES", "clinic_day_bounds", "list_appointments", "get_appointment", "check_may_book", "book", "change"]

SLOT_TAKEN = "This doctor already has a scheduled appointment at that time."


def clinic_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first and last whole second of a clinic day, as UTC instants (DST-aware)."""
    tz = get_settings().clinic_timezone
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz) - timedelta(seconds=1)
    return start, end


def _own_doctor_id(actor: User) -> int:
    if actor.doctor_id is None:
        raise Forbidden("This account has no doctor record.")
    return actor.doctor_id


def _own_patient_id(actor: User) -> int:
    if actor.patient_id is None:
        raise Forbidden("This account has no patient record.")
    return actor.patient_id


def list_appointments(actor: User, limit: int, cursor: str | None, query: dict) -> Page:
    """Staff see all appointments; a doctor their own; a patient their own. Filters narrow further."""
    patient, doctor = query.get("patient"), query.get("doctor")
    if actor.role == PATIENT:
        own = _own_patient_id(actor)
        if patient is not None and patient != own:
            raise Forbidden("You can only see your own appointments.")
        patient = own
    elif actor.role == DOCTOR:
        own = _own_doctor_id(actor)
        if doctor is not None and doctor != own:
            raise Forbidden("You can only see your own appointments.")
        doctor = own
    else:
        require(actor, STAFF)
    start = end = None
    if query.get("date") is not None:
        start, end = clinic_day_bounds(query["date"])
    filters = Filters(patient=patient, doctor=doctor, status=query.get("status"), start=start, end=end)
    return appointments.list_page(filters, limit, cursor)


def _check_visible(actor: User, appointment: Appointment) -> None:
    if actor.role == PATIENT:
        if actor.patient_id is None or appointment.patient != actor.patient_id:
            raise Forbidden("You can only see your own appointments.")
    elif actor.role == DOCTOR:
        if actor.doctor_id is None or appointment.doctor != actor.doctor_id:
            raise Forbidden("You can only see your own appointments.")
    else:
        require(actor, STAFF)


def get_appointment(actor: User, appointment_id: int) -> Appointment:
    appointment = found(appointments.get(appointment_id), "appointment", appointment_id)
    _check_visible(actor, appointment)
    return appointment


def check_may_book(actor: User) -> None:
    """Staff and admin book for anyone, a patient for themself; doctors do not book."""
    if actor.role != PATIENT:
        require(actor, STAFF)


def book(actor: User, data: dict) -> Appointment:
    """Book an appointment: staff and admin for anyone, a patient for themself; doctors do not book."""
    check_may_book(actor)
    if actor.role == PATIENT:
        own = _own_patient_id(actor)
        if data.get("patient") is not None and data["patient"] != own:
            raise Forbidden("A patient can only book appointments for themself.")
        if data.get("status", SCHEDULED) != SCHEDULED:
            raise ValidationFailed.field("status", "A patient can only book a scheduled appointment.")
        data = {**data, "patient": own}
    elif data.get("patient") is None:
        raise ValidationFailed.field("patient", "This field is required.")
    appointment = Appointment(
        id=counters.next_id("appointment"), patient=data["patient"], doctor=data["doctor"],
        date=iso_instant(data["date"]), status=data.get("status") or SCHEDULED,
        created_at=iso_instant(clock.now()),
    )
    try:
        appointments.create(appointment)
    except ConditionFailed as exc:
        fields = {}
        if "patient" in exc.labels:
            fields["patient"] = "No patient with id %d." % appointment.patient
        if "doctor" in exc.labels:
            fields["doctor"] = "No doctor with id %d." % appointment.doctor
        if not fields and "doctor-slot" in exc.labels:
            fields["date"] = SLOT_TAKEN
        if not fields:
            raise
        raise ValidationFailed(next(iter(fields.values())), fields=fields) from None
    return appointment


def _check_may_change(actor: User, appointment: Appointment, changes: dict) -> None:
    if actor.role == PATIENT:
        if actor.patient_id is None or appointment.patient != actor.patient_id:
            raise Forbidden("You can only change your own appointments.")
        if set(changes) != {"status"} or changes["status"] != CANCELED:
            raise Forbidden("A patient can only cancel an appointment.")
        if appointment.status == COMPLETED:
            raise ValidationFailed.field("status", "A completed appointment cannot be canceled.")
    elif actor.role == DOCTOR:
        if actor.doctor_id is None or appointment.doctor != actor.doctor_id:
            raise Forbidden("You can only change your own appointments.")
    else:
        require(actor, STAFF)


def change(actor: User, appointment_id: int, changes: dict) -> Appointment:
    """Change status and/or date: staff, admin, the appointment's doctor; its patient may only cancel."""
    def change(before: Appointment) -> Appointment:
        _check_may_change(actor, before, changes)
        return replace(before, status=changes.get("status", before.status),
                       date=iso_instant(changes["date"]) if "date" in changes else before.date)

    return edit(lambda: get_appointment(actor, appointment_id), change, appointments.save_changes,
                {"doctor-slot": ("date", SLOT_TAKEN)})
