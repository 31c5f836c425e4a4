"""Appointments."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol

from chalicelib.domain.entities import Appointment, AppointmentFilters, Page


class Appointments(Protocol):
    def get(self, appointment_id: int) -> Appointment | None:
        """The appointment with this id, or None."""

    def list_page(self, filters: AppointmentFilters, limit: int, cursor: str | None) -> Page:
        """A page of appointments in date order. The filters other than patient, doctor and the date
        range apply to the page read, so a page may hold fewer than `limit` items while `next` leads on."""

    def add(self, appointment: Appointment, place: tuple[int, int | None] | None = None) -> None:
        """Write a new appointment, holding its doctor's slot when scheduled, if its patient and doctor exist.
        `place` is (number, the appointment that held it when read, or None) of the patient's booking place
        it takes. Labels: "patient", "doctor" (missing), "doctor-slot" (taken), "booking-place" (taken meanwhile)."""

    def save_changes(self, before: Appointment, after: Appointment) -> None:
        """Write a new status and/or date if both are still as read, taking, moving or releasing the slot.
        Labels: "doctor-slot" (taken), "appointment" (changed meanwhile)."""

    def booking_places(self, patient_id: int, places: int) -> dict[int, tuple[int, Appointment | None]]:
        """The held ones among a patient's booking places 1..`places`: number -> (the id of the
        appointment holding it, that appointment or None if it is gone)."""

    def due_reminders(self, start: datetime, end: datetime, limit: int, cursor: str | None) -> Page:
        """A page of the scheduled appointments with a way to remind and no reminder sent yet, with
        start <= date <= end, in date order; its cost does not grow with the number of appointments."""

    def mark_reminded(self, appointment_id: int, at: str) -> Appointment | None:
        """Mark the reminder sent at `at` if the appointment is still scheduled and not yet reminded
        (one conditional write): the marked appointment, or None (reminded already, not scheduled, gone)."""
