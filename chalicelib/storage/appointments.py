"""Appointments. The model stays here; callers get `Appointment` dataclasses.

A scheduled appointment holds a claim on its doctor's time slot
(`doctor-slot#<doctor>#<instant>` in the uniques table), written in the same
transaction as the appointment, so two bookings of one doctor at one instant
cannot both succeed. Cancelling or completing releases the claim; moving the
date moves it, in one transaction.

Lists are one Query each, on the index that narrows most (a patient's, a
doctor's, or all appointments in date order, with a day as a range on the
date); other filters are a FilterExpression on that Query.
"""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.domain.entities import SCHEDULED, Appointment, AppointmentFilters, Page
from chalicelib.domain.values import iso_instant
from chalicelib.storage import doctors, patients
from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import Transaction, get_or_none, read_items, update_unless
from chalicelib.storage.uniques import holders, move_unique, put_unique, take_over_unique

KIND = "appointment"


class _AppointmentsByDate(GlobalSecondaryIndex):
    """Every appointment under one key, in date order: the staff's list and a day's list."""

    class Meta:
        index_name = "kind-date-index"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    date = UnicodeAttribute(range_key=True)


class _AppointmentsByDoctor(GlobalSecondaryIndex):
    class Meta:
        index_name = "doctor-date-index"
        projection = AllProjection()

    doctor = NumberAttribute(hash_key=True)
    date = UnicodeAttribute(range_key=True)


class _AppointmentsByPatient(GlobalSecondaryIndex):
    class Meta:
        index_name = "patient-date-index"
        projection = AllProjection()

    patient = NumberAttribute(hash_key=True)
    date = UnicodeAttribute(range_key=True)


class _RemindersDue(GlobalSecondaryIndex):
    """Scheduled appointments whose reminder has not gone, in date order: a sparse index (only they
    carry `reminder_due`), so the hourly pass finds the due ones with one Query of a time window."""

    class Meta:
        index_name = "reminder-due-index"
        projection = AllProjection()

    reminder_due = UnicodeAttribute(hash_key=True)
    date = UnicodeAttribute(range_key=True)


REMINDER_DUE = "due"


@register
class AppointmentModel(StoredModel):
    class Meta:
        table_suffix = "appointments"
        # Webhooks' appointment events follow its changes (chalicelib.domain.webhooks).
        stream_view_type = "NEW_AND_OLD_IMAGES"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    patient = NumberAttribute()
    doctor = NumberAttribute()
    # An instant as iso_instant writes it (UTC, whole seconds, Z): sorts as text in time order.
    date = UnicodeAttribute()
    status = UnicodeAttribute()
    created_at = UnicodeAttribute()
    remind = UnicodeAttribute(null=True)  # "email", "sms", or absent: no reminder
    reminded_at = UnicodeAttribute(null=True)  # when the reminder went
    reminder_due = UnicodeAttribute(null=True)  # REMINDER_DUE while scheduled, with a way, and not reminded
    checked_in_entry = NumberAttribute(null=True)

    by_date = _AppointmentsByDate()
    reminders_due = _RemindersDue()
    by_doctor = _AppointmentsByDoctor()
    by_patient = _AppointmentsByPatient()


def slot_key(doctor_id: int, instant: str) -> str:
    """The claim a scheduled appointment holds on its doctor's time."""
    return f"doctor-slot#{doctor_id}#{instant}"


def booking_place_key(patient_id: int, number: int) -> str:
    """One of the places a patient's own bookings hold."""
    return f"patient-booking#{patient_id}#{number}"


def _to_appointment(item: AppointmentModel) -> Appointment:
    return Appointment(id=int(item.id), patient=int(item.patient), doctor=int(item.doctor), date=item.date,
                       status=item.status, created_at=item.created_at, remind=item.remind,
                       reminded_at=item.reminded_at,
                       checked_in_entry=int(item.checked_in_entry) if item.checked_in_entry is not None else None)


def _reminder_due(appointment: Appointment) -> str | None:
    """Whether the appointment belongs in the index of reminders to send."""
    due = appointment.status == SCHEDULED and appointment.remind is not None and appointment.reminded_at is None
    return REMINDER_DUE if due else None


def booking_places(patient_id: int, places: int) -> dict[int, tuple[int, Appointment | None]]:
    """The held ones among a patient's booking places 1..`places`: number -> (id of the appointment
    holding it, that appointment or None if it is gone). At most two strongly consistent reads (TransactGetItems)."""
    numbers = {booking_place_key(patient_id, n): n for n in range(1, places + 1)}
    held = holders(list(numbers))
    if not held:
        return {}
    ids = sorted(set(held.values()))
    stored = {int(item.id): _to_appointment(item)
              for item in read_items([(AppointmentModel, appointment_id) for appointment_id in ids]) if item}
    return {numbers[key]: (owner, stored.get(owner)) for key, owner in held.items()}


def add(appointment: Appointment, place: tuple[int, int | None] | None = None) -> None:
    """Store a new appointment, with its slot claim when scheduled, if its patient and doctor exist.

    `place` is (number, the appointment that held it when read, or None) of the patient's
    booking place this one takes. Raises ConditionFailed labelled "patient" or "doctor"
    (no such record), "doctor-slot" (the doctor already has a scheduled appointment
    then) or "booking-place" (the place was taken meanwhile: read again).
    """
    with Transaction() as tx:
        patients.check_exists(tx, appointment.patient)
        doctors.check_exists(tx, appointment.doctor)
        if appointment.status == SCHEDULED:
            put_unique(tx, "doctor-slot", slot_key(appointment.doctor, appointment.date), appointment.id)
        if place is not None:
            number, previous = place
            take_over_unique(tx, "booking-place", booking_place_key(appointment.patient, number), appointment.id,
                             previous)
        tx.put("appointment", AppointmentModel(
            appointment.id, kind=KIND, patient=appointment.patient, doctor=appointment.doctor,
            date=appointment.date, status=appointment.status, created_at=appointment.created_at,
            remind=appointment.remind, reminded_at=appointment.reminded_at,
            reminder_due=_reminder_due(appointment),
        ), AppointmentModel.id.does_not_exist())


def get(appointment_id: int) -> Appointment | None:
    """The appointment with this id, or None."""
    item = get_or_none(AppointmentModel, appointment_id)
    return _to_appointment(item) if item else None


def save_changes(before: Appointment, after: Appointment) -> None:
    """Write a new status and/or date, taking, moving or releasing the slot claim to match.

    Conditional on the stored status and date being what the caller read.
    Raises ConditionFailed labelled "doctor-slot" (the new time is taken) or
    "appointment" (changed meanwhile: read again and retry).
    """
    old_slot = slot_key(before.doctor, before.date) if before.status == SCHEDULED else None
    new_slot = slot_key(after.doctor, after.date) if after.status == SCHEDULED else None
    with Transaction() as tx:
        move_unique(tx, "doctor-slot", old_slot, new_slot, after.id)
        condition = AppointmentModel.id.exists() & (AppointmentModel.status == before.status) & (
            AppointmentModel.date == before.date)
        due = _reminder_due(after)
        tx.update("appointment", AppointmentModel(after.id),
                  [AppointmentModel.status.set(after.status), AppointmentModel.date.set(after.date),
                   AppointmentModel.reminder_due.set(due) if due else AppointmentModel.reminder_due.remove()],
                  condition & (AppointmentModel.reminded_at.exists() if before.reminded_at
                               else AppointmentModel.reminded_at.does_not_exist()))


def list_page(filters: AppointmentFilters, limit: int, cursor: str | None) -> Page:
    """A page of appointments in date order, from ONE Query.

    The index is the patient's if a patient is given, else the doctor's, else
    all appointments'; a date range is a key condition on any of them; the
    remaining filters are a FilterExpression. DynamoDB applies that filter
    after reading `limit` items, so a filtered page may hold fewer than
    `limit` items (even none) while `next` still leads on to the rest.
    """
    if filters.patient is not None:
        index, hash_key, name = AppointmentModel.by_patient, filters.patient, f"patient:{filters.patient}"
    elif filters.doctor is not None:
        index, hash_key, name = AppointmentModel.by_doctor, filters.doctor, f"doctor:{filters.doctor}"
    else:
        index, hash_key, name = AppointmentModel.by_date, KIND, "all"

    range_condition = None
    if filters.start is not None and filters.end is not None:
        range_condition = AppointmentModel.date.between(iso_instant(filters.start), iso_instant(filters.end))

    conditions = []
    if filters.patient is not None and filters.doctor is not None:
        conditions.append(AppointmentModel.doctor == filters.doctor)
    if filters.status is not None:
        conditions.append(AppointmentModel.status == filters.status)
    if filters.reminded is not None:
        conditions.append(AppointmentModel.reminded_at.exists() if filters.reminded
                          else AppointmentModel.reminded_at.does_not_exist())
    filter_condition = None
    for condition in conditions:
        filter_condition = condition if filter_condition is None else filter_condition & condition

    # The cursor is signed for exactly this query, so it cannot be replayed on another.
    scope = "appointments:" + ":".join(str(part) for part in (
        name, filters.doctor, filters.status, filters.reminded,
        iso_instant(filters.start) if filters.start else None, iso_instant(filters.end) if filters.end else None))
    return query_page(AppointmentModel, index, scope, limit, cursor, _to_appointment, hash_key=hash_key,
                      range_key_condition=range_condition, filter_condition=filter_condition)


def due_reminders(start: datetime, end: datetime, limit: int, cursor: str | None) -> Page:
    """A page of the scheduled, not yet reminded appointments with start <= date <= end, in date order:
    one Query of the sparse reminder index, whatever the number of appointments."""
    scope = f"reminders:{iso_instant(start)}:{iso_instant(end)}"
    return query_page(AppointmentModel, AppointmentModel.reminders_due, scope, limit, cursor, _to_appointment,
                      hash_key=REMINDER_DUE,
                      range_key_condition=AppointmentModel.date.between(iso_instant(start), iso_instant(end)))


def mark_reminded(appointment_id: int, at: str) -> Appointment | None:
    """Mark the reminder as sent, before it is sent: one conditional UpdateItem that succeeds once
    (the appointment still scheduled, not yet reminded). The marked appointment, or None if it was
    reminded already, is no longer scheduled, or is gone."""
    item = AppointmentModel(appointment_id)
    condition = (AppointmentModel.id.exists() & (AppointmentModel.status == SCHEDULED)
                 & AppointmentModel.reminded_at.does_not_exist())
    if not update_unless(item, [AppointmentModel.reminded_at.set(at), AppointmentModel.reminder_due.remove()],
                         condition):
        return None
    return _to_appointment(item)


def stage_check_in(tx: Transaction, label: str, appointment_id: int, entry_id: int) -> None:
    """Set a scheduled appointment's `checked_in_entry` in a transaction (queue_entries.add); the
    transaction fails with `label` if it is checked in already or no longer scheduled."""
    m = AppointmentModel
    tx.update(label, m(appointment_id), [m.checked_in_entry.set(entry_id)],
              m.id.exists() & (m.status == SCHEDULED) & m.checked_in_entry.does_not_exist())


def changes(records: list[dict]) -> list[tuple[Appointment | None, Appointment | None]]:
    """The (before, after) appointments of the appointments table's stream records."""
    def appointment(image: dict | None) -> Appointment | None:
        return _to_appointment(AppointmentModel.from_raw_data(image)) if image else None

    return [(appointment(r.get("dynamodb", {}).get("OldImage")), appointment(r.get("dynamodb", {}).get("NewImage")))
            for r in records]
