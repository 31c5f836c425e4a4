"""Appointments."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import appointments, reminders
from chalicelib.domain.commands import AppointmentChanges, AppointmentQuery, Booking
from chalicelib.domain.entities import APPOINTMENT_STATUSES as STATUSES
from chalicelib.domain.entities import REMIND_BY, Appointment
from chalicelib.domain.permissions import ANY_ROLE, DOCTOR, PATIENT, STAFF
from chalicelib.schema import Choice, Date, Instant, Int, Schema, Str

bp = Blueprint(__name__)

APPOINTMENT_CREATE = Schema("AppointmentCreate", {
    "patient": Int(description="Required for staff; a patient may omit it (it is them)."),
    "doctor": Int(required=True),
    "date": Instant(required=True, description="When, with a time zone; stored in UTC to the second."),
    "status": Choice(STATUSES, description="Defaults to scheduled."),
})

APPOINTMENT_UPDATE = Schema("AppointmentUpdate", {
    "status": Choice(STATUSES),
    "date": Instant(description="Move the appointment (staff, admin, its doctor)."),
}, description="A patient may only send {\"status\": \"canceled\"}.")

APPOINTMENT = Schema("Appointment", {
    "id": Int(),
    "patient": Int(),
    "doctor": Int(),
    "date": Str(max_length=40, description="UTC instant, e.g. 2023-12-15T10:00:00Z."),
    "status": Choice(STATUSES),
    "created_at": Str(max_length=40),
    "remind": Choice(REMIND_BY, nullable=True, description="How its reminder goes: email where the patient record "
                                                           "has an email, else sms where it has a phone, else null."),
    "reminded_at": Str(max_length=40, nullable=True, description="When its reminder went, or null."),
    "checked_in_entry": Int(nullable=True, description="The queue entry its check-in made (null until then)."),
})

APPOINTMENT_QUERY = {
    "date": Date(description="Only appointments on this day in the clinic's time zone."),
    "doctor": Int(description="Only this doctor's appointments."),
    "patient": Int(description="Only this patient's appointments."),
    "status": Choice(STATUSES, description="Only appointments with this status."),
    "from": Instant(description="Only appointments at or after this instant."),
    "to": Instant(description="Only appointments before this instant."),
    "reminded": Choice(("true", "false"), description="Only those whose reminder went (true) or did not (false)."),
}


def appointment_json(appointment: Appointment) -> dict:
    return {"id": appointment.id, "patient": appointment.patient, "doctor": appointment.doctor,
            "date": appointment.date, "status": appointment.status, "created_at": appointment.created_at,
            "remind": appointment.remind, "reminded_at": appointment.reminded_at,
            "checked_in_entry": appointment.checked_in_entry}


@route(bp, "/appointments", "GET", tag="appointments", roles=ANY_ROLE, many=True, response=APPOINTMENT,
       query=APPOINTMENT_QUERY,
       summary="List appointments in date order (staff: all; doctors and patients: their own). "
               "A filtered page may hold fewer than `limit` items; follow `next` until it is null.")
def list_appointments(ctx):
    limit, cursor, filters = ctx.page()
    since, until = filters.pop("from", None), filters.pop("to", None)
    if "reminded" in filters:
        filters["reminded"] = filters["reminded"] == "true"
    page = appointments.list_appointments(ctx.user, limit, cursor,
                                          AppointmentQuery(**filters, start=since, end=until))
    return page_json(page, appointment_json)


# 429 with Retry-After: a patient's own bookings of the clinic's day, canceled ones included, past
# DQS_BOOKINGS_PER_DAY (default 10).
@route(bp, "/appointments", "POST", summary="Book an appointment (staff for anyone, a patient for themself, "
       "at most DQS_BOOKINGS_PER_DAY a day, canceled ones included: 429 past it)",
       tag="appointments", roles=(PATIENT, STAFF), status=201, body=APPOINTMENT_CREATE, response=APPOINTMENT,
       errors=(409, 429), idempotent=True)
def book(ctx):
    return appointment_json(appointments.book(ctx.user, Booking(**ctx.body())))


@route(bp, "/appointments/{appointment_id}", "GET", summary="An appointment (staff, its doctor, its patient)",
       tag="appointments", roles=ANY_ROLE, response=APPOINTMENT)
def get_appointment(ctx, appointment_id):
    return appointment_json(appointments.get_appointment(ctx.user, parse_id(appointment_id, "appointment")))


@route(bp, "/appointments/{appointment_id}", "PATCH", tag="appointments", roles=(PATIENT, DOCTOR, STAFF),
       body=APPOINTMENT_UPDATE, response=APPOINTMENT, errors=(409,),
       summary="Change an appointment's status or date (staff, its doctor); its patient may cancel it")
def change(ctx, appointment_id):
    return appointment_json(appointments.change(ctx.user, parse_id(appointment_id, "appointment"),
                                                lambda: AppointmentChanges(**ctx.body())))


@route(bp, "/appointments/{appointment_id}/send_reminder", "POST", tag="appointments", roles=(STAFF,),
       response=APPOINTMENT, errors=(409,),
       summary="Send an appointment's reminder now (staff); 409 if it went already or the appointment is not scheduled")
def send_reminder(ctx, appointment_id):
    return appointment_json(reminders.send_now(ctx.user, parse_id(appointment_id, "appointment")))
