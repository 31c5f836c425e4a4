"""Appointments in memory, with the conditions and list pages of storage.appointments."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.entities import SCHEDULED, Appointment, AppointmentFilters, Page
from chalicelib.domain.values import iso_instant
from tests.support.fakes.memory import MemoryDb, page


def slot_key(doctor_id: int, instant: str) -> str:
    return f"doctor-slot#{doctor_id}#{instant}"


def booking_place_key(patient_id: int, number: int) -> str:
    return f"patient-booking#{patient_id}#{number}"


class MemoryAppointments:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[int, Appointment] = db.table("appointments")

    def get(self, appointment_id: int) -> Appointment | None:
        stored = self.rows.get(appointment_id)
        return replace(stored) if stored else None

    def add(self, appointment: Appointment, place: tuple[int, int | None] | None = None) -> None:
        patients, doctors = self.db.table("patients"), self.db.table("doctors")
        with self.db.transaction() as tx:
            tx.check("patient", lambda: appointment.patient in patients)
            tx.check("doctor", lambda: appointment.doctor in doctors)
            if appointment.status == SCHEDULED:
                tx.put_unique("doctor-slot", slot_key(appointment.doctor, appointment.date), appointment.id)
            if place is not None:
                number, previous = place
                tx.take_over_unique("booking-place", booking_place_key(appointment.patient, number),
                                    appointment.id, previous)
            tx.put("appointment", lambda: appointment.id not in self.rows,
                   lambda: self.rows.__setitem__(appointment.id, replace(appointment)))

    def save_changes(self, before: Appointment, after: Appointment) -> None:
        old_slot = slot_key(before.doctor, before.date) if before.status == SCHEDULED else None
        new_slot = slot_key(after.doctor, after.date) if after.status == SCHEDULED else None
        with self.db.transaction() as tx:
            tx.move_unique("doctor-slot", old_slot, new_slot, after.id)

            def condition() -> bool:
                stored = self.rows.get(after.id)
                return (stored is not None and (stored.status, stored.date) == (before.status, before.date)
                        and (stored.reminded_at is None) == (before.reminded_at is None))

            tx.update("appointment", condition, lambda: self.rows.__setitem__(after.id, replace(
                self.rows[after.id], status=after.status, date=after.date)))

    def booking_places(self, patient_id: int, places: int) -> dict[int, tuple[int, Appointment | None]]:
        with self.db.lock:
            held = {n: self.db.uniques[booking_place_key(patient_id, n)] for n in range(1, places + 1)
                    if booking_place_key(patient_id, n) in self.db.uniques}
            return {n: (owner, self.get(owner)) for n, owner in held.items()}

    def list_page(self, filters: AppointmentFilters, limit: int, cursor: str | None) -> Page:
        if filters.patient is not None:
            chosen, name = [a for a in self.rows.values() if a.patient == filters.patient], f"patient:{filters.patient}"
        elif filters.doctor is not None:
            chosen, name = [a for a in self.rows.values() if a.doctor == filters.doctor], f"doctor:{filters.doctor}"
        else:
            chosen, name = list(self.rows.values()), "all"
        if filters.start is not None and filters.end is not None:
            start, end = iso_instant(filters.start), iso_instant(filters.end)
            chosen = [a for a in chosen if start <= a.date <= end]
        chosen = [replace(a) for a in sorted(chosen, key=lambda a: (a.date, a.id))]

        def keep(item: Appointment) -> bool:
            return ((filters.patient is None or filters.doctor is None or item.doctor == filters.doctor)
                    and (filters.status is None or item.status == filters.status)
                    and (filters.reminded is None or (item.reminded_at is not None) == filters.reminded))

        scope = "appointments:" + ":".join(str(part) for part in (
            name, filters.doctor, filters.status, filters.reminded,
            iso_instant(filters.start) if filters.start else None, iso_instant(filters.end) if filters.end else None))
        return page(chosen, scope, limit, cursor, keep)

    def due_reminders(self, start, end, limit: int, cursor: str | None) -> Page:
        low, high = iso_instant(start), iso_instant(end)
        with self.db.lock:
            chosen = [replace(a) for a in sorted(self.rows.values(), key=lambda a: (a.date, a.id))
                      if a.status == SCHEDULED and a.remind is not None and a.reminded_at is None
                      and low <= a.date <= high]
        return page(chosen, f"reminders:{low}:{high}", limit, cursor)

    def mark_reminded(self, appointment_id: int, at: str) -> Appointment | None:
        with self.db.lock:
            stored = self.rows.get(appointment_id)
            if stored is None or stored.status != SCHEDULED or stored.reminded_at is not None:
                return None
            self.rows[appointment_id] = replace(stored, reminded_at=at)
            return replace(self.rows[appointment_id])
