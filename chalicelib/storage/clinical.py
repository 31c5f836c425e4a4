"""Clinical records on DynamoDB (implements chalicelib.domain.ports.clinical.Clinical).

Three tables, each keyed by the patient, so that every list is one Query per page:

- medical-records: one item per patient, written on first change (a read of a patient
  without one answers an empty record). Every write is conditional on the version read.
- clinical-entries: diagnoses, treatments and notes under the patient's key, sorted by
  `entry` = kind#id (ids come from an atomic counter, so id order is the order of writing):
  a kind's list, latest first, is one Query on the key's prefix read backwards.
- access-log: a patient's access log, sorted by `at_key` (the instant, then a unique
  suffix), read backwards for the latest first.

Every write of clinical data is one TransactWriteItems holding the item, its checks (the
patient exists, the visit is that patient's appointment or queue entry, a treatment's
diagnosis and an amended note are that patient's) and the access-log line, so neither
is stored without the other. Nothing here is ever deleted.
"""
from __future__ import annotations

import secrets
import time
from datetime import date

from pynamodb.attributes import MapAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PynamoDBException

from chalicelib.domain.entities import Page
from chalicelib.domain.ports.clinical import (
    APPOINTMENT_VISIT,
    DIAGNOSIS,
    NOTE,
    TREATMENT,
    AccessEvent,
    Diagnosis,
    EmergencyContact,
    Entry,
    MedicalRecord,
    Note,
    Treatment,
    Visit,
    entry_kind,
)
from chalicelib.domain.values import iso_date, parse_date
from chalicelib.errors import retry_on_conflict
from chalicelib.storage.appointments import AppointmentModel
from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.patients import PatientModel
from chalicelib.storage.queue_entries import QueueEntryModel
from chalicelib.storage.transactions import Transaction, read_items


class _ContactMap(MapAttribute):
    name = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    relation = UnicodeAttribute(null=True)


@register
class MedicalRecordModel(StoredModel):
    class Meta:
        table_suffix = "medical-records"

    patient = NumberAttribute(hash_key=True)
    blood_type = UnicodeAttribute(null=True)
    allergies = UnicodeAttribute(null=True)
    chronic_conditions = UnicodeAttribute(null=True)
    current_medications = UnicodeAttribute(null=True)
    emergency_contact = _ContactMap(null=True)
    notes = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = NumberAttribute(null=True)
    version = NumberAttribute()


@register
class ClinicalEntryModel(StoredModel):
    class Meta:
        table_suffix = "clinical-entries"

    patient = NumberAttribute(hash_key=True)
    entry = UnicodeAttribute(range_key=True)  # kind#id, the id zero-padded so that text order is id order
    kind = UnicodeAttribute()  # diagnosis | treatment | note
    id = NumberAttribute()
    visit_kind = UnicodeAttribute()
    visit_id = NumberAttribute()
    doctor = NumberAttribute()
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    version = NumberAttribute(null=True)
    description = UnicodeAttribute(null=True)
    # diagnoses
    condition = UnicodeAttribute(null=True)
    severity = UnicodeAttribute(null=True)
    diagnosed_on = UnicodeAttribute(null=True)
    resolved_on = UnicodeAttribute(null=True)
    # treatments and notes: their own kind (medication, progress, ...)
    category = UnicodeAttribute(null=True)
    name = UnicodeAttribute(null=True)
    dosage = UnicodeAttribute(null=True)
    started_on = UnicodeAttribute(null=True)
    ended_on = UnicodeAttribute(null=True)
    diagnosis = NumberAttribute(null=True)
    # notes
    title = UnicodeAttribute(null=True)
    content = UnicodeAttribute(null=True)
    amends = NumberAttribute(null=True)
    amended_by = NumberAttribute(null=True)


@register
class AccessLogModel(StoredModel):
    class Meta:
        table_suffix = "access-log"

    patient = NumberAttribute(hash_key=True)
    at_key = UnicodeAttribute(range_key=True)  # the instant, then a suffix: unique, in time order
    at = UnicodeAttribute()
    user = NumberAttribute()
    role = UnicodeAttribute()
    action = UnicodeAttribute()
    what = UnicodeAttribute()


# -- the medical record --------------------------------------------------------------

def patient_exists(patient_id: int) -> bool:
    """Whether there is a patient with this id: one strongly consistent GetItem of its key."""
    try:
        PatientModel.get(patient_id, consistent_read=True, attributes_to_get=["id"])
    except PatientModel.DoesNotExist:
        return False
    return True


def _to_record(patient_id: int, item: MedicalRecordModel | None) -> MedicalRecord:
    if item is None:
        return MedicalRecord(patient=patient_id)
    contact = item.emergency_contact
    return MedicalRecord(
        patient=patient_id, blood_type=item.blood_type, allergies=item.allergies,
        chronic_conditions=item.chronic_conditions, current_medications=item.current_medications,
        emergency_contact=EmergencyContact(contact.name, contact.phone, contact.relation) if contact else None,
        notes=item.notes, updated_at=item.updated_at,
        updated_by=int(item.updated_by) if item.updated_by is not None else None, version=int(item.version))


def medical_record(patient_id: int) -> MedicalRecord | None:
    """The patient's medical record (empty if never written), or None without such a patient:
    one TransactGetItems of the patient and the record."""
    keys = [(PatientModel, patient_id), (MedicalRecordModel, patient_id)]
    patient, item = retry_on_conflict(lambda: read_items(keys))
    if patient is None:
        return None
    return _to_record(patient_id, item)


def save_medical_record(before: MedicalRecord, after: MedicalRecord, logged: AccessEvent) -> None:
    """Write the record and its access-log line, if the stored record is still `before`
    (else ConditionFailed(["medical-record"]))."""
    contact = after.emergency_contact
    item = MedicalRecordModel(
        after.patient, blood_type=after.blood_type, allergies=after.allergies,
        chronic_conditions=after.chronic_conditions, current_medications=after.current_medications,
        emergency_contact=_ContactMap(name=contact.name, phone=contact.phone, relation=contact.relation)
        if contact else None,
        notes=after.notes, updated_at=after.updated_at, updated_by=after.updated_by, version=after.version)
    if before.version:
        condition = MedicalRecordModel.version == before.version
    else:
        condition = MedicalRecordModel.patient.does_not_exist()
    with Transaction() as tx:
        tx.put("medical-record", item, condition)
        _stage_log(tx, logged)


# -- diagnoses, treatments, notes ----------------------------------------------------

def _entry_key(kind: str, entry_id: int) -> str:
    return f"{kind}#{entry_id:015d}"


def _int(value) -> int | None:
    return int(value) if value is not None else None


def _to_entry(item: ClinicalEntryModel) -> Entry:
    common = {"id": int(item.id), "patient": int(item.patient), "visit": Visit(item.visit_kind, int(item.visit_id)),
              "doctor": int(item.doctor), "created_at": item.created_at}
    if item.kind == DIAGNOSIS:
        return Diagnosis(**common, condition=item.condition, description=item.description, severity=item.severity,
                         diagnosed_on=date.fromisoformat(item.diagnosed_on), resolved_on=parse_date(item.resolved_on),
                         updated_at=item.updated_at, version=int(item.version))
    if item.kind == TREATMENT:
        return Treatment(**common, kind=item.category, name=item.name, description=item.description,
                         dosage=item.dosage, started_on=date.fromisoformat(item.started_on),
                         ended_on=parse_date(item.ended_on), diagnosis=_int(item.diagnosis),
                         updated_at=item.updated_at, version=int(item.version))
    return Note(**common, kind=item.category, title=item.title, content=item.content, amends=_int(item.amends),
                amended_by=_int(item.amended_by))


def _item(entry: Entry) -> ClinicalEntryModel:
    kind = entry_kind(entry)
    item = ClinicalEntryModel(entry.patient, _entry_key(kind, entry.id), kind=kind, id=entry.id,
                              visit_kind=entry.visit.kind, visit_id=entry.visit.id, doctor=entry.doctor,
                              created_at=entry.created_at)
    if isinstance(entry, Diagnosis):
        item.condition, item.description, item.severity = entry.condition, entry.description, entry.severity
        item.diagnosed_on, item.resolved_on = iso_date(entry.diagnosed_on), iso_date(entry.resolved_on)
    elif isinstance(entry, Treatment):
        item.category, item.name, item.description = entry.kind, entry.name, entry.description
        item.dosage, item.diagnosis = entry.dosage, entry.diagnosis
        item.started_on, item.ended_on = iso_date(entry.started_on), iso_date(entry.ended_on)
    else:
        item.category, item.title, item.content, item.amends = entry.kind, entry.title, entry.content, entry.amends
    if not isinstance(entry, Note):
        item.updated_at, item.version = entry.updated_at, entry.version
    return item


def add_entry(entry: Entry, logged: AccessEvent) -> None:
    """Store a new entry and its access-log line with its checks, in one TransactWriteItems
    (ConditionFailed labelled "patient", "visit", "diagnosis" or "amends" when one fails)."""
    with Transaction() as tx:
        tx.require_exists("patient", PatientModel, entry.patient)
        visits = AppointmentModel if entry.visit.kind == APPOINTMENT_VISIT else QueueEntryModel
        tx.check("visit", visits, entry.visit.id, visits.patient == entry.patient)
        if isinstance(entry, Treatment) and entry.diagnosis is not None:
            tx.check("diagnosis", ClinicalEntryModel, entry.patient, ClinicalEntryModel.entry.exists(),
                     range_key=_entry_key(DIAGNOSIS, entry.diagnosis))
        if isinstance(entry, Note) and entry.amends is not None:
            tx.update("amends", ClinicalEntryModel(entry.patient, _entry_key(NOTE, entry.amends)),
                      [ClinicalEntryModel.amended_by.set(entry.id)],
                      ClinicalEntryModel.entry.exists() & ClinicalEntryModel.amended_by.does_not_exist())
        tx.put("entry", _item(entry), ClinicalEntryModel.entry.does_not_exist())
        _stage_log(tx, logged)


def entry(patient_id: int, kind: str, entry_id: int) -> Entry | None:
    """The patient's entry of this kind and id, or None (one strongly consistent GetItem)."""
    try:
        item = ClinicalEntryModel.get(patient_id, _entry_key(kind, entry_id), consistent_read=True)
    except ClinicalEntryModel.DoesNotExist:
        return None
    return _to_entry(item)


def save_entry(before: Diagnosis | Treatment, after: Diagnosis | Treatment, logged: AccessEvent) -> None:
    """Write a changed diagnosis or treatment and its access-log line, if the stored version is
    still `before`'s (else ConditionFailed(["entry"]))."""
    with Transaction() as tx:
        tx.put("entry", _item(after), ClinicalEntryModel.version == before.version)
        _stage_log(tx, logged)


def entries_page(patient_id: int, kind: str, limit: int, cursor: str | None) -> Page:
    """A page of the patient's entries of one kind, latest first: one Query."""
    return query_page(ClinicalEntryModel, ClinicalEntryModel, f"clinical:{patient_id}:{kind}", limit, cursor,
                      _to_entry, hash_key=patient_id, range_key_condition=ClinicalEntryModel.entry.startswith(
                          f"{kind}#"), scan_index_forward=False)


# -- the access log ------------------------------------------------------------------

def _log_item(event: AccessEvent) -> AccessLogModel:
    # Within one second, the wall clock in nanoseconds keeps the order; the random part keeps two
    # lines written at the same instant apart.
    at_key = f"{event.at}#{time.time_ns():020d}#{secrets.token_hex(4)}"
    return AccessLogModel(event.patient, at_key, at=event.at, user=event.user, role=event.role,
                          action=event.action, what=event.what)


def _stage_log(tx: Transaction, event: AccessEvent) -> None:
    tx.put("access-log", _log_item(event), AccessLogModel.at_key.does_not_exist())


def log_access(event: AccessEvent) -> bool:
    """Append a line to the patient's access log (one PutItem); False when it could not be written."""
    try:
        _log_item(event).save(AccessLogModel.at_key.does_not_exist())
    except PynamoDBException:
        return False
    return True


def _to_event(item: AccessLogModel) -> AccessEvent:
    return AccessEvent(patient=int(item.patient), at=item.at, user=int(item.user), role=item.role,
                       action=item.action, what=item.what)


def access_page(patient_id: int, limit: int, cursor: str | None) -> Page:
    """A page of the patient's access log, latest first: one Query."""
    return query_page(AccessLogModel, AccessLogModel, f"access-log:{patient_id}", limit, cursor, _to_event,
                      hash_key=patient_id, scan_index_forward=False)
