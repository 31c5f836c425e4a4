"""Appointment reminders: each scheduled appointment's reminder goes once, DQS_REMINDER_HOURS (default 24)
before it, by the hourly scheduled function; staff may send one now.

A reminder is marked on its appointment by a conditional write BEFORE it is sent, so it never goes
twice, even when two runs overlap or a run is retried (a send that fails after the mark is not
retried: at most once). The text names the doctor and the date and time in the clinic's zone:
nothing clinical, and no log line holds the patient's address, number or the text.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta

from chalicelib import messaging
from chalicelib.domain import clock
from chalicelib.domain.entities import REMIND_EMAIL, REMIND_SMS, SCHEDULED, Appointment, Patient, User
from chalicelib.domain.permissions import NOT_ALLOWED, STAFF, is_admin
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant, parse_instant
from chalicelib.errors import Conflict, Forbidden, existing
from chalicelib.settings import get_settings

log = logging.getLogger("dqs.reminders")

DEFAULT_HOURS = 24
PAGE = 100


def reminder_hours() -> float:
    """How long before an appointment its reminder goes: DQS_REMINDER_HOURS, default 24."""
    raw = os.environ.get("DQS_REMINDER_HOURS", "").strip()
    try:
        hours = float(raw) if raw else DEFAULT_HOURS
    except ValueError:
        hours = DEFAULT_HOURS
    return hours if hours > 0 else DEFAULT_HOURS


def default_remind(patient: Patient | None) -> str | None:
    """Email where the patient record has an email, else SMS where it has a phone, else none."""
    if patient is None:
        return None
    if patient.email:
        return REMIND_EMAIL
    return REMIND_SMS if patient.phone else None


def message(appointment: Appointment) -> tuple[str, str]:
    """(subject, text): the doctor's name, the date and time in the clinic's zone; nothing clinical."""
    doctor = stores().doctors.get(appointment.doctor)
    tz = get_settings().clinic_timezone
    local = parse_instant(appointment.date).astimezone(tz)
    who = doctor.name if doctor is not None else "your doctor"
    when = f"{local:%A %d %B %Y} at {local:%H:%M} ({tz.key})"
    return "Appointment reminder", f"Reminder: you have an appointment with {who} on {when}."


def _send(appointment: Appointment) -> bool:
    """Send a reminder already marked on its appointment; False if it could not go."""
    try:
        patient = stores().patients.get(appointment.patient)
        subject, text = message(appointment)
        if appointment.remind == REMIND_EMAIL and patient is not None and patient.email:
            messaging.send_email(patient.email, subject, text)
        elif appointment.remind == REMIND_SMS and patient is not None and patient.phone:
            messaging.send_sms(patient.phone, text)
        else:
            return False
    except Exception as exc:  # one failed message must not hold back the others; the provider's message
        # may name the address or number, so only its kind is logged
        log.error("the reminder of appointment %d was not sent: %s", appointment.id, type(exc).__name__)
        return False
    return True


def send_due(now: datetime | None = None) -> int:
    """Send the reminder of every scheduled appointment due within the reminder window from now, each
    once: one Query per page of the sparse index of unreminded appointments, then per appointment a
    conditional mark and the message. Returns how many were sent."""
    now = now or clock.now()
    end = now + timedelta(hours=reminder_hours())
    appointments = stores().appointments
    sent, cursor = 0, None
    while True:
        page = appointments.due_reminders(now, end, PAGE, cursor)
        for appointment in page.items:
            marked = appointments.mark_reminded(appointment.id, iso_instant(now))
            if marked is not None and _send(marked):  # None: another run marked it first
                sent += 1
        cursor = page.next
        if cursor is None:
            return sent


def send_now(actor: User, appointment_id: int) -> Appointment:
    """Staff send an appointment's reminder now: 409 if it went already, the appointment is not
    scheduled, or it has no way to be reminded."""
    if actor.role != STAFF and not is_admin(actor):
        raise Forbidden(NOT_ALLOWED)
    appointments = stores().appointments
    appointment = existing(appointments.get(appointment_id), "appointment", appointment_id)
    if appointment.status != SCHEDULED:
        raise Conflict.field("status", "Only a scheduled appointment gets a reminder.")
    if appointment.reminded_at is not None:
        raise Conflict.field("reminded_at", "The reminder of this appointment was sent already.")
    if appointment.remind is None:
        raise Conflict.field("remind", "The patient record has no email or phone to remind by.")
    marked = appointments.mark_reminded(appointment_id, iso_instant(clock.now()))
    if marked is None:
        raise Conflict.field("reminded_at", "The reminder of this appointment was sent already, or it "
                                            "is no longer scheduled.")
    _send(marked)
    return marked
