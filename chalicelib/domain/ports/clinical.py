"""Clinical records: a patient's medical record, their diagnoses, treatments and notes, and
the access log that shows the patient who read or wrote them.

Every write of clinical data is stored together with its access-log line (one atomic
write), so neither is ever stored without the other. Nothing here is ever deleted.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import NamedTuple, Protocol

from chalicelib.domain.entities import Page

BLOOD_TYPES = ("A+", "A-", "B+", "B-", "AB+", "AB-", "O+", "O-")
SEVERITIES = ("mild", "moderate", "severe", "critical")
TREATMENT_KINDS = ("medication", "therapy", "surgery", "procedure", "other")
NOTE_KINDS = ("progress", "consultation", "discharge", "procedure", "other")
# What an access-log line names, and what was done to it.
MEDICAL_RECORD, MEDICAL_HISTORY = "medical_record", "medical_history"
DIAGNOSES, TREATMENTS, NOTES = "diagnoses", "treatments", "notes"
READ, WRITE = "read", "write"
# The kinds of entry, by the list each belongs to.
DIAGNOSIS, TREATMENT, NOTE = "diagnosis", "treatment", "note"
ENTRY_LISTS = {DIAGNOSIS: DIAGNOSES, TREATMENT: TREATMENTS, NOTE: NOTES}
# A visit is an appointment or a queue visit (an entry of the queue).
APPOINTMENT_VISIT, QUEUE_VISIT = "appointment", "queue_entry"


class Visit(NamedTuple):
    """The visit an entry was made at: an appointment or a queue entry, of the same patient."""
    kind: str
    id: int


class EmergencyContact(NamedTuple):
    name: str | None
    phone: str | None
    relation: str | None


@dataclass(frozen=True, slots=True)
class MedicalRecord:
    """A patient's one medical record; all fields None (and version 0) until first written."""
    patient: int
    blood_type: str | None = None
    allergies: str | None = None
    chronic_conditions: str | None = None
    current_medications: str | None = None
    emergency_contact: EmergencyContact | None = None
    notes: str | None = None
    updated_at: str | None = None
    updated_by: int | None = None
    version: int = 0  # how many times it was written: the condition of the next write


@dataclass(frozen=True, slots=True)
class Diagnosis:
    id: int
    patient: int
    visit: Visit
    condition: str
    description: str | None
    severity: str
    diagnosed_on: date
    resolved_on: date | None
    doctor: int
    created_at: str
    updated_at: str
    version: int = 1


@dataclass(frozen=True, slots=True)
class Treatment:
    id: int
    patient: int
    visit: Visit
    kind: str
    name: str
    description: str | None
    dosage: str | None
    started_on: date
    ended_on: date | None
    diagnosis: int | None
    doctor: int
    created_at: str
    updated_at: str
    version: int = 1


@dataclass(frozen=True, slots=True)
class Note:
    """A medical note: never edited. A correction is a new note that `amends` it; the earlier
    one then shows `amended_by` (once: a correction of a correction amends the correction)."""
    id: int
    patient: int
    visit: Visit
    kind: str
    title: str
    content: str
    doctor: int
    created_at: str
    amends: int | None = None
    amended_by: int | None = None


Entry = Diagnosis | Treatment | Note


def entry_kind(entry: Entry) -> str:
    return {Diagnosis: DIAGNOSIS, Treatment: TREATMENT, Note: NOTE}[type(entry)]


class AccessEvent(NamedTuple):
    """One line of a patient's access log: who read or wrote what of their clinical data."""
    patient: int
    at: str
    user: int
    role: str
    action: str  # READ | WRITE
    what: str  # MEDICAL_RECORD | MEDICAL_HISTORY | DIAGNOSES | TREATMENTS | NOTES


class MedicalRecords(Protocol):
    def patient_exists(self, patient_id: int) -> bool:
        """Whether there is a patient with this id (every patient has a medical record)."""

    def medical_record(self, patient_id: int) -> MedicalRecord | None:
        """The patient's medical record (an empty one if never written), or None if there is no such patient."""

    def save_medical_record(self, before: MedicalRecord, after: MedicalRecord, logged: AccessEvent) -> None:
        """Write the record and its access-log line in one write, conditional on the stored record
        still being `before` (its version). Raises ConditionFailed(["medical-record"]) otherwise."""


class ClinicalEntries(Protocol):
    def add_entry(self, entry: Entry, logged: AccessEvent) -> None:
        """Store a new diagnosis, treatment or note and its access-log line in one write, if its
        patient exists (else ConditionFailed "patient"), its visit is that patient's ("visit"), a
        treatment's diagnosis is one of that patient's ("diagnosis"), and the note a note amends is
        one of that patient's not amended yet ("amends"; the earlier note gets `amended_by`)."""

    def entry(self, patient_id: int, kind: str, entry_id: int) -> Entry | None:
        """The patient's diagnosis, treatment or note with this id, or None."""

    def save_entry(self, before: Diagnosis | Treatment, after: Diagnosis | Treatment, logged: AccessEvent) -> None:
        """Write a changed diagnosis or treatment and its access-log line in one write, conditional on
        the stored entry's version being `before`'s. Raises ConditionFailed(["entry"]) otherwise."""

    def entries_page(self, patient_id: int, kind: str, limit: int, cursor: str | None) -> Page:
        """A page of the patient's entries of one kind, latest first: one Query."""


class AccessLog(Protocol):
    def log_access(self, event: AccessEvent) -> bool:
        """Append a line to the patient's access log; False when it could not be written."""

    def access_page(self, patient_id: int, limit: int, cursor: str | None) -> Page:
        """A page of the patient's access log, latest first: one Query."""


class Clinical(MedicalRecords, ClinicalEntries, AccessLog, Protocol):
    """Every store of clinical data (one storage module implements them all)."""
