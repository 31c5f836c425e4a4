"""What the domain's operations are asked to do: one typed value per command, built by the API
from a validated body (`PatientChanges(**body)`), or by any other caller from plain values.

Changes (PATCH/PUT) leave out what they do not change: a field left out is UNCHANGED, which
differs from None (a nullable field set to null).
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, NamedTuple

from chalicelib.domain.entities import SCHEDULED
from chalicelib.domain.ports.clinical import EmergencyContact, Visit


class _Unchanged:
    """A field a change leaves as it is."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()


def given(command: NamedTuple) -> dict[str, Any]:
    """The fields a change sets: those not UNCHANGED."""
    return {name: value for name, value in command._asdict().items() if value is not UNCHANGED}


# -- accounts -------------------------------------------------------------------

class Registration(NamedTuple):
    """A new account. A patient (the default role) has a date of birth; only a doctor a specialty
    and a department (the schema says so); only a patient a link code."""
    username: str
    email: str
    password: str
    role: str = "patient"
    date_of_birth: date | None = None
    first_name: str = ""
    last_name: str = ""
    specialty: str | None = None
    department: int | None = None
    link_code: str | None = None


class ProfileChanges(NamedTuple):
    """Changes to a user's profile; role, is_active and password are an admin's to change."""
    username: str = UNCHANGED
    email: str = UNCHANGED
    first_name: str = UNCHANGED
    last_name: str = UNCHANGED
    date_of_birth: date | None = UNCHANGED
    role: str = UNCHANGED
    is_active: bool = UNCHANGED
    password: str = UNCHANGED


# -- records --------------------------------------------------------------------

class PatientDetails(NamedTuple):
    """A new patient record made at the desk."""
    name: str
    email: str | None = None
    phone: str | None = None
    date_of_birth: date | None = None


class PatientChanges(NamedTuple):
    name: str = UNCHANGED
    email: str | None = UNCHANGED
    phone: str | None = UNCHANGED
    date_of_birth: date | None = UNCHANGED


class DoctorDetails(NamedTuple):
    """A new doctor record without an account, in an existing department."""
    name: str
    specialty: str
    department: int


class DoctorChanges(NamedTuple):
    name: str = UNCHANGED
    specialty: str = UNCHANGED
    department: int = UNCHANGED
    is_active: bool = UNCHANGED


class DepartmentDetails(NamedTuple):
    name: str
    description: str = ""


class DepartmentChanges(NamedTuple):
    name: str = UNCHANGED
    description: str = UNCHANGED
    is_active: bool = UNCHANGED


# -- appointments -----------------------------------------------------------------

class Booking(NamedTuple):
    """An appointment to book; a patient booking for themself may leave `patient` out."""
    doctor: int
    date: datetime
    patient: int | None = None
    status: str = SCHEDULED


class AppointmentChanges(NamedTuple):
    status: str = UNCHANGED
    date: datetime = UNCHANGED


class AppointmentQuery(NamedTuple):
    """What a list of appointments narrows to; `date` is a day in the clinic's time zone."""
    date: date | None = None
    doctor: int | None = None
    patient: int | None = None
    status: str | None = None
    start: datetime | None = None  # from: date >= start
    end: datetime | None = None  # to: date < end
    reminded: bool | None = None


# -- clinical records ---------------------------------------------------------------

class MedicalRecordChanges(NamedTuple):
    """Fields of a patient's medical record to write (a whole write: those left out become null)."""
    blood_type: str | None = UNCHANGED
    allergies: str | None = UNCHANGED
    chronic_conditions: str | None = UNCHANGED
    current_medications: str | None = UNCHANGED
    emergency_contact: EmergencyContact | None = UNCHANGED
    notes: str | None = UNCHANGED


class DiagnosisDetails(NamedTuple):
    """A new diagnosis, made at a visit of the patient."""
    visit: Visit
    condition: str
    severity: str
    diagnosed_on: date
    description: str | None = None


class TreatmentDetails(NamedTuple):
    """A new treatment, made at a visit of the patient; `diagnosis` one of theirs."""
    visit: Visit
    kind: str
    name: str
    started_on: date
    description: str | None = None
    dosage: str | None = None
    ended_on: date | None = None
    diagnosis: int | None = None


class NoteDetails(NamedTuple):
    """A new note, made at a visit of the patient; `amends` an earlier note of theirs."""
    visit: Visit
    kind: str
    title: str
    content: str
    amends: int | None = None


class DiagnosisChanges(NamedTuple):
    resolved_on: date | None = UNCHANGED
    severity: str = UNCHANGED
    description: str | None = UNCHANGED


class TreatmentChanges(NamedTuple):
    ended_on: date | None = UNCHANGED
    dosage: str | None = UNCHANGED
    description: str | None = UNCHANGED
