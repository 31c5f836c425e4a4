"""Clinical records: who reads and writes a patient's medical record, diagnoses, treatments
and notes, and the access log that shows the patient every read and write by someone else.

- A patient reads their own clinical data only, and writes none of it.
- Doctors read every patient's, and write diagnoses, treatments and notes as their author
  (a doctor changes only the entries they wrote). Staff read and write the medical record's
  `emergency_contact` only. Admins read everything, and write the medical record, but never
  diagnoses, treatments or notes.
- Every read by anyone but the patient is written to the patient's access log in the same
  request, after the data is read and before it is answered; a read that cannot be logged is
  not answered (a read refused for bad input, a bad cursor, is no read and not logged). Every
  write is stored together with its access-log line, in one atomic write.
- Notes are never edited: a correction is a new note that `amends` an earlier one of the
  same patient, and the earlier one shows `amended_by`. Nothing clinical is ever deleted.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, NamedTuple

from chalicelib.domain import appointments, clock, patients
from chalicelib.domain.commands import (
    AppointmentQuery,
    DiagnosisChanges,
    DiagnosisDetails,
    MedicalRecordChanges,
    NoteDetails,
    TreatmentChanges,
    TreatmentDetails,
    given,
)
from chalicelib.domain.conflicts import edit
from chalicelib.domain.entities import Page, Patient, User
from chalicelib.domain.permissions import ADMIN, DOCTOR, NOT_ALLOWED, PATIENT, STAFF, check_owner, own_doctor_id
from chalicelib.domain.ports.clinical import (
    DIAGNOSIS,
    ENTRY_LISTS,
    MEDICAL_HISTORY,
    MEDICAL_RECORD,
    NOTE,
    READ,
    TREATMENT,
    WRITE,
    AccessEvent,
    Diagnosis,
    Entry,
    MedicalRecord,
    Note,
    Treatment,
)
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, NotFound, Unavailable, ValidationFailed, existing

RECORD_FIELDS = MedicalRecordChanges._fields
STAFF_RECORD_FIELDS = ("emergency_contact",)
HISTORY_PAGE = 50

NOT_YOUR_RECORDS = "A patient can only see their own clinical records."
STAFF_NO_CLINICAL = "Staff cannot see diagnoses, treatments, notes or medical histories."
STAFF_CONTACT_ONLY = "Staff may only change the emergency contact."
DOCTORS_WRITE = "Only a doctor writes diagnoses, treatments and notes."
NOT_YOUR_ENTRY = "Only the doctor who wrote it may change it."
ACCESS_LOG_OWN = "Only the patient and admins may see a patient's access log."
VISIT_NOT_THEIRS = "The visit must be an appointment or a queue visit of this patient."
NO_SUCH_DIAGNOSIS = "No diagnosis with that id for this patient."
NO_SUCH_NOTE = "No note with that id for this patient."


class AccessNotLogged(Unavailable):
    """The access log could not be written, so the read is not answered (503): try again."""


EntryDetails = DiagnosisDetails | TreatmentDetails | NoteDetails
EntryChanges = DiagnosisChanges | TreatmentChanges
# The command that makes each kind of entry, and the one that changes it (notes are never changed).
DETAILS = {DIAGNOSIS: DiagnosisDetails, TREATMENT: TreatmentDetails, NOTE: NoteDetails}
CHANGES = {DIAGNOSIS: DiagnosisChanges, TREATMENT: TreatmentChanges}


class History(NamedTuple):
    patient: Patient
    medical_record: MedicalRecord
    diagnoses: Page
    treatments: Page
    notes: Page
    appointments: Page


# -- who may read, and the access log ----------------------------------------------

def _check_reader(actor: User, patient_id: int, what: str) -> None:
    """A patient reads their own; staff read only the medical record; doctors and admins read all."""
    check_owner(actor, patient_id, NOT_YOUR_RECORDS)
    if actor.role == STAFF and what != MEDICAL_RECORD:
        raise Forbidden(STAFF_NO_CLINICAL)


def _event(actor: User, patient_id: int, action: str, what: str) -> AccessEvent:
    return AccessEvent(patient=patient_id, at=iso_instant(clock.now()), user=actor.id, role=actor.role,
                       action=action, what=what)


def _log_read(actor: User, patient_id: int, what: str) -> None:
    """Write a read to the patient's access log, after what it read and before it is answered (a
    read refused as bad input is no read); a read that cannot be logged is not answered. The
    patient's own reads are not logged."""
    if actor.role == PATIENT:
        return
    if not stores().clinical.log_access(_event(actor, patient_id, READ, what)):
        raise AccessNotLogged("The access log could not be written, so the record is not shown; try again.")


def _existing_patient(patient_id: int) -> None:
    if not stores().clinical.patient_exists(patient_id):
        raise NotFound(f"No patient with id {patient_id}.")


def access_log(actor: User, patient_id: int, limit: int, cursor: str | None) -> Page:
    """Who read or wrote the patient's clinical data, latest first: the patient's own and admins'."""
    if actor.role not in (PATIENT, ADMIN):
        raise Forbidden(ACCESS_LOG_OWN)
    check_owner(actor, patient_id, ACCESS_LOG_OWN)
    _existing_patient(patient_id)
    return stores().clinical.access_page(patient_id, limit, cursor)


# -- the medical record --------------------------------------------------------------

def get_medical_record(actor: User, patient_id: int) -> MedicalRecord:
    """The patient's medical record (all null until written): the patient's own, staff, doctors, admins."""
    _check_reader(actor, patient_id, MEDICAL_RECORD)
    record = existing(stores().clinical.medical_record(patient_id), "patient", patient_id)
    _log_read(actor, patient_id, MEDICAL_RECORD)
    return record


def write_medical_record(actor: User, patient_id: int, body: Callable[[], MedicalRecordChanges], *,
                         whole: bool) -> MedicalRecord:
    """PUT (`whole`: fields left out become null) or PATCH the medical record. Doctors and admins
    write every field; staff only the emergency contact (another field is a 403, and their PUT
    leaves the fields they may not write as they are)."""
    if actor.role not in (DOCTOR, STAFF, ADMIN):
        raise Forbidden(NOT_ALLOWED)
    data = given(body())
    writable = STAFF_RECORD_FIELDS if actor.role == STAFF else RECORD_FIELDS
    if any(name not in writable for name in data):
        raise Forbidden(STAFF_CONTACT_ONLY)
    values = {name: data.get(name) for name in writable} if whole else data

    def change(record: MedicalRecord) -> MedicalRecord:
        if all(getattr(record, name) == value for name, value in values.items()):
            return record
        return replace(record, **values, updated_at=iso_instant(clock.now()), updated_by=actor.id,
                       version=record.version + 1)

    logged = _event(actor, patient_id, WRITE, MEDICAL_RECORD)
    return edit(lambda: existing(stores().clinical.medical_record(patient_id), "patient", patient_id), change,
                lambda before, after: stores().clinical.save_medical_record(before, after, logged), {})


# -- diagnoses, treatments, notes ----------------------------------------------------

def list_entries(actor: User, patient_id: int, kind: str, limit: int, cursor: str | None) -> Page:
    """The patient's diagnoses, treatments or notes, latest first."""
    what = ENTRY_LISTS[kind]
    _check_reader(actor, patient_id, what)
    _existing_patient(patient_id)
    page = stores().clinical.entries_page(patient_id, kind, limit, cursor)
    _log_read(actor, patient_id, what)
    return page


def get_entry(actor: User, patient_id: int, kind: str, entry_id: int) -> Entry:
    """One diagnosis, treatment or note of the patient."""
    what = ENTRY_LISTS[kind]
    _check_reader(actor, patient_id, what)
    _existing_patient(patient_id)
    entry = existing(stores().clinical.entry(patient_id, kind, entry_id), kind, entry_id)
    _log_read(actor, patient_id, what)
    return entry


def _author(actor: User, patient_id: int, body: Callable[[], Any]) -> int:
    """The doctor writing an entry: only a doctor writes them, as its author. An admin, whom the
    route lets in, has the body checked like anyone the route lets in, and is then refused."""
    check_owner(actor, patient_id)
    if actor.role == ADMIN:
        body()
    if actor.role != DOCTOR:
        raise Forbidden(DOCTORS_WRITE)
    return own_doctor_id(actor)


def _command(kind: str, command: Any, commands: dict[str, type]) -> Any:
    """The command, if it is the one for this kind of entry."""
    if not isinstance(command, commands[kind]):
        raise TypeError(f"A {kind} takes a {commands[kind].__name__}, not a {type(command).__name__}.")
    return command


def add_entry(actor: User, patient_id: int, kind: str, body: Callable[[], EntryDetails]) -> Entry:
    """A new diagnosis, treatment or note, written by a doctor, tied to a visit of this patient."""
    doctor = _author(actor, patient_id, body)
    details = _command(kind, body(), DETAILS)
    now = iso_instant(clock.now())
    common: dict[str, Any] = {"id": stores().ids.next_id(kind), "patient": patient_id, "doctor": doctor,
                              "created_at": now, **details._asdict()}
    entry: Entry
    if kind == DIAGNOSIS:
        entry = Diagnosis(**common, resolved_on=None, updated_at=now)
    elif kind == TREATMENT:
        if details.ended_on is not None and details.ended_on < details.started_on:
            raise ValidationFailed.field("ended_on", "This date cannot be before started_on.")
        entry = Treatment(**common, updated_at=now)
    else:
        if details.amends == common["id"]:  # the id this note just got: no earlier note of anyone's
            raise ValidationFailed.field("amends", NO_SUCH_NOTE)
        entry = Note(**common)
    try:
        stores().clinical.add_entry(entry, _event(actor, patient_id, WRITE, ENTRY_LISTS[kind]))
    except ConditionFailed as exc:
        _refused(exc, entry)
    return entry


def _refused(exc: ConditionFailed, entry: Entry) -> None:
    """A new entry's failed checks as the answer: no patient (404), then bad references (400),
    then a note already amended (409)."""
    if "patient" in exc.labels:
        raise NotFound(f"No patient with id {entry.patient}.") from None
    missing = {}
    if "visit" in exc.labels:
        missing["visit"] = VISIT_NOT_THEIRS
    if "diagnosis" in exc.labels:
        missing["diagnosis"] = NO_SUCH_DIAGNOSIS
    if "amends" in exc.labels:
        earlier = stores().clinical.entry(entry.patient, NOTE, entry.amends)
        if earlier is None:
            missing["amends"] = NO_SUCH_NOTE
        elif not missing:
            message = f"Note {earlier.id} was already amended by note {earlier.amended_by}; amend that one."
            raise Conflict.field("amends", message, amended_by=earlier.amended_by) from None
    if missing:
        raise ValidationFailed(next(iter(missing.values())), fields=missing) from None
    raise exc


def change_entry(actor: User, patient_id: int, kind: str, entry_id: int,
                 body: Callable[[], EntryChanges]) -> Entry:
    """A diagnosis's resolved_on, severity or description; a treatment's ended_on, dosage or
    description. Only by the doctor who wrote it; notes are never changed."""
    doctor = _author(actor, patient_id, body)
    if kind == NOTE:
        raise Forbidden("Notes are never edited: write a new note that amends it.")
    current = existing(stores().clinical.entry(patient_id, kind, entry_id), kind, entry_id)
    if current.doctor != doctor:
        raise Forbidden(NOT_YOUR_ENTRY)
    data = given(_command(kind, body(), CHANGES))
    first, then = ("diagnosed_on", "resolved_on") if kind == DIAGNOSIS else ("started_on", "ended_on")

    def change(entry: Diagnosis | Treatment) -> Diagnosis | Treatment:
        if all(getattr(entry, name) == value for name, value in data.items()):
            return entry
        if data.get(then) is not None and data[then] < getattr(entry, first):
            raise ValidationFailed.field(then, f"This date cannot be before {first} ({getattr(entry, first)}).")
        return replace(entry, **data, updated_at=iso_instant(clock.now()), version=entry.version + 1)

    unread = [current]  # the first attempt changes what was just read; a retry reads again

    def read() -> Diagnosis | Treatment:
        return unread.pop() if unread else existing(stores().clinical.entry(patient_id, kind, entry_id), kind, entry_id)

    logged = _event(actor, patient_id, WRITE, ENTRY_LISTS[kind])
    return edit(read, change, lambda before, after: stores().clinical.save_entry(before, after, logged), {})


# -- the medical history ---------------------------------------------------------------

def medical_history(actor: User, patient_id: int) -> History:
    """The patient's record, medical record and the first page of each of their lists.

    Appointments are those the caller may list (a doctor: their own with this patient).
    """
    _check_reader(actor, patient_id, MEDICAL_HISTORY)
    patient = patients.get_patient(actor, patient_id)
    clinical = stores().clinical
    record = existing(clinical.medical_record(patient_id), "patient", patient_id)
    pages = {kind: clinical.entries_page(patient_id, kind, HISTORY_PAGE, None) for kind in (DIAGNOSIS, TREATMENT, NOTE)}
    booked = appointments.list_appointments(actor, HISTORY_PAGE, None, AppointmentQuery(patient=patient_id))
    _log_read(actor, patient_id, MEDICAL_HISTORY)
    return History(patient=patient, medical_record=record, diagnoses=pages[DIAGNOSIS],
                   treatments=pages[TREATMENT], notes=pages[NOTE], appointments=booked)

