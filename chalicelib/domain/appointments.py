"""Appointments: booking, who sees which, and changes of status or time.

A doctor never has two scheduled appointments at the same instant; the
storage layer enforces that with a slot claim, so this module only turns a
lost claim into a clear 409.

A scheduled appointment is always in the future. A patient booking for themself
holds at most MAX_OWN_BOOKINGS scheduled future appointments: each such booking
takes one of the patient's booking places, which frees again when the
appointment is canceled or completed, or its time has passed (see storage).
Appointments staff book for a patient take no place.

A patient books for themself at most DQS_BOOKINGS_PER_DAY times a clinic day, canceled
bookings included (booking and canceling over and over is churn, not care): past it, 429 with
Retry-After until the clinic's next day. One counter per patient and day, taken by a
conditional ADD before the booking is written, given back if it is not.
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from chalicelib.domain import clock
from chalicelib.domain.commands import AppointmentChanges, AppointmentQuery, Booking, given
from chalicelib.domain.conflicts import BUSY, edit
from chalicelib.domain.entities import (
    CANCELED,
    COMPLETED,
    SCHEDULED,
    Appointment,
    AppointmentFilters,
    Page,
    User,
)
from chalicelib.domain.permissions import DOCTOR, PATIENT, acting_patient, check_owner, own_doctor_id
from chalicelib.domain.reminders import default_remind
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import (
    ConditionFailed,
    Conflict,
    Forbidden,
    Missing,
    TooManyRequests,
    ValidationFailed,
    existing,
    raise_taken,
    retry_on_conflict,
)
from chalicelib.settings import get_settings

SLOT_TAKEN = "This doctor already has a scheduled appointment at that time."
NOT_IN_FUTURE = "A scheduled appointment must be in the future."
MAX_OWN_BOOKINGS = 5
TOO_MANY_BOOKINGS = (f"You already hold {MAX_OWN_BOOKINGS} upcoming appointments: cancel one before booking "
                     "another, or ask the desk.")
SEE_OWN = "You can only see your own appointments."
CHANGE_OWN = "You can only change your own appointments."


# Days whose bounds are instants in every time zone: datetime ends at years 1 and 9999.
FIRST_DAY, LAST_DAY = date(1, 1, 2), date(9999, 12, 30)


def clinic_day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first and last whole second of a clinic day, as UTC instants (DST-aware)."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise ValidationFailed.field("date", f"Enter a date between {FIRST_DAY} and {LAST_DAY}.")
    tz = get_settings().clinic_timezone
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz) - timedelta(seconds=1)
    return start, end


def list_appointments(actor: User, limit: int, cursor: str | None, query: AppointmentQuery) -> Page:
    """Staff and admins see all appointments; a doctor their own; a patient their own. Filters narrow further."""
    patient = acting_patient(actor, query.patient, SEE_OWN)
    doctor = query.doctor
    if actor.role == DOCTOR:
        own = own_doctor_id(actor)
        if doctor not in (None, own):
            raise Forbidden(SEE_OWN)
        doctor = own
    start = end = None
    if query.date is not None:
        start, end = clinic_day_bounds(query.date)
    start, end = _within(start, end, query.start, query.end)
    if start is not None and end is not None and start > end:  # an empty window
        return Page(items=[], next=None)
    filters = AppointmentFilters(patient=patient, doctor=doctor, status=query.status, start=start, end=end,
                                 reminded=query.reminded)
    return stores().appointments.list_page(filters, limit, cursor)


def _within(start: datetime | None, end: datetime | None, since: datetime | None,
            until: datetime | None) -> tuple[datetime | None, datetime | None]:
    """A day's inclusive bounds narrowed by `from` (date >= since) and `to` (date < until; instants are
    whole seconds, so the last one in is a second before). Either bound alone is open on its other side."""
    if since is None and until is None:
        return start, end
    low = [bound for bound in (start, since) if bound is not None]
    high = [bound for bound in (end, until - timedelta(seconds=1) if until is not None else None) if bound is not None]
    first = max(low) if low else datetime(1, 1, 2, tzinfo=UTC)
    last = min(high) if high else datetime(9999, 12, 30, tzinfo=UTC)
    return first, last


def _check_own(actor: User, appointment: Appointment, message: str) -> None:
    """A patient or doctor reaches only their own appointments; staff and admins reach all."""
    check_owner(actor, appointment.patient, message)
    if actor.role == DOCTOR and (actor.doctor_id is None or appointment.doctor != actor.doctor_id):
        raise Forbidden(message)


def get_appointment(actor: User, appointment_id: int) -> Appointment:
    appointment = existing(stores().appointments.get(appointment_id), "appointment", appointment_id)
    _check_own(actor, appointment, SEE_OWN)
    return appointment


def _check_future(status: str, date: str, now: datetime) -> None:
    if status == SCHEDULED and date <= iso_instant(now):
        raise ValidationFailed.field("date", NOT_IN_FUTURE)


def _free_booking_place(patient_id: int, now: datetime) -> tuple[int, int | None]:
    """A booking place of the patient's to take: (number, the appointment that held it or None).

    A held place is free again once its appointment is gone, no longer scheduled, or past.
    Among free places one is picked at random, so bookings racing each other rarely collide.
    """
    held = stores().appointments.booking_places(patient_id, MAX_OWN_BOOKINGS)
    free = [(number, None) for number in range(1, MAX_OWN_BOOKINGS + 1) if number not in held]
    free += [(number, owner) for number, (owner, appointment) in held.items()
             if appointment is None or appointment.status != SCHEDULED or appointment.date <= iso_instant(now)]
    if not free:
        raise ValidationFailed.field("patient", TOO_MANY_BOOKINGS)
    return random.choice(free)


def book(actor: User, booking: Booking) -> Appointment:
    """Book an appointment: staff and admins for anyone, a patient for themself (at most
    MAX_OWN_BOOKINGS upcoming). A scheduled appointment is in the future."""
    own_booking = actor.role == PATIENT
    patient = acting_patient(actor, booking.patient, "A patient can only book appointments for themself.")
    if own_booking and booking.status != SCHEDULED:
        raise ValidationFailed.field("status", "A patient can only book a scheduled appointment.")
    if patient is None:
        raise ValidationFailed.field("patient", "This field is required.")
    now = clock.now()
    appointment = Appointment(
        id=stores().ids.next_id("appointment"), patient=patient, doctor=booking.doctor,
        date=iso_instant(booking.date), status=booking.status or SCHEDULED, created_at=iso_instant(now),
        remind=default_remind(stores().patients.get(patient)),  # records2: how its reminder goes
    )
    _check_future(appointment.status, appointment.date, now)
    missing = {"patient": Missing("patient", "No patient with id %d." % appointment.patient),
               "doctor": Missing("doctor", "No doctor with id %d." % appointment.doctor)}

    counted = _count_own_booking(appointment.patient, now) if own_booking else None

    def attempt() -> None:
        place = _free_booking_place(appointment.patient, now) if own_booking else None
        try:
            stores().appointments.add(appointment, place)
        except ConditionFailed as exc:
            if set(exc.labels) <= {"booking-place"}:
                raise ConditionFailed([ConditionFailed.CONFLICT]) from exc  # taken meanwhile: look again
            # A slot is only worth mentioning once the patient and doctor exist.
            raise_taken(exc, missing if set(missing) & set(exc.labels) else {"doctor-slot": ("date", SLOT_TAKEN)})

    try:
        try:
            retry_on_conflict(attempt)
        except ConditionFailed:
            raise Conflict(BUSY) from None
    except Exception:
        if counted:  # no appointment was made: not a booking of the day
            stores().attempts.give_back(counted)
        raise
    return appointment


TOO_MANY_TODAY = "You have booked too many appointments today (canceled ones count): try again tomorrow."


def _count_own_booking(patient_id: int, now: datetime) -> str:
    """Count a patient's own booking in the clinic's day (one conditional ADD); 429 past the day's limit."""
    tz = get_settings().clinic_timezone
    day = clock.service_day(now, tz)
    next_day = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    name = f"bookings#{patient_id}#{day.isoformat()}"
    if not stores().attempts.take(name, get_settings().bookings_per_day, next_day + timedelta(days=1)):
        raise TooManyRequests(TOO_MANY_TODAY, retry_after=math.ceil((next_day - now).total_seconds()))
    return name


def _check_patient_change(appointment: Appointment, changes: dict) -> None:
    if set(changes) != {"status"} or changes["status"] != CANCELED:
        raise Forbidden("A patient can only cancel an appointment.")
    if appointment.status == COMPLETED:
        raise Conflict.field("status", "A completed appointment cannot be canceled.")


def change(actor: User, appointment_id: int, read_changes: Callable[[], AppointmentChanges]) -> Appointment:
    """Change status and/or date: staff, admins, the appointment's doctor; its patient may only cancel.

    Each attempt reads the appointment once. `read_changes` gives the validated
    changes; it is called only once the caller may change this appointment, so a
    stranger is told 403 (or 404) before anything about the body.
    """
    changes: dict | None = None

    def read() -> Appointment:
        nonlocal changes
        appointment = existing(stores().appointments.get(appointment_id), "appointment", appointment_id)
        _check_own(actor, appointment, CHANGE_OWN)
        if changes is None:
            changes = given(read_changes())
        return appointment

    def change(before: Appointment) -> Appointment:
        if actor.role == PATIENT:
            _check_patient_change(before, changes)
        after = replace(before, status=changes.get("status", before.status),
                        date=iso_instant(changes["date"]) if "date" in changes else before.date)
        if (after.status, after.date) != (before.status, before.date):
            _check_future(after.status, after.date, clock.now())
        return after

    return edit(read, change, stores().appointments.save_changes, {"doctor-slot": ("date", SLOT_TAKEN)})
