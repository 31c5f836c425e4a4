"""Patient records, and who may see or change them."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain import clock
from chalicelib.domain.conflicts import edit
from chalicelib.domain.entities import Page, Patient, User
from chalicelib.domain.permissions import PATIENT
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Forbidden, ValidationFailed, found, raise_taken
from chalicelib.storage import counters, patients

EMAIL_TAKEN = "A patient with that email already exists."
TAKEN = {"patient-email": ("email", EMAIL_TAKEN)}


def check_access(actor: User, patient_id: int) -> None:
    """A patient reaches only their own record; the other roles a route allows reach all."""
    if actor.role == PATIENT and actor.patient_id != patient_id:
        raise Forbidden("You can only access your own patient record.")


def check_birth_date(data: dict) -> None:
    """A date of birth is never in the clinic's future."""
    born = data.get("date_of_birth")
    if born is not None and born > clock.today():
        raise ValidationFailed.field("date_of_birth", "The date of birth cannot be in the future.")


def list_patients(actor: User, limit: int, cursor: str | None) -> Page:
    """All patients; a patient gets a page holding only their own record."""
    if actor.role == PATIENT:
        own = patients.get(actor.patient_id) if actor.patient_id is not None else None
        return Page(items=[own] if own else [], next=None)
    return patients.list_page(limit, cursor)


def get_patient(actor: User, patient_id: int) -> Patient:
    check_access(actor, patient_id)
    return found(patients.get(patient_id), "patient", patient_id)


def create_patient(actor: User, data: dict) -> Patient:
    """Register a patient without an account (a walk-in at the desk)."""
    check_birth_date(data)
    patient = Patient(
        id=counters.next_id("patient"), name=data["name"], email=data.get("email"), phone=data.get("phone"),
        date_of_birth=data.get("date_of_birth"), user_id=None, created_at=iso_instant(clock.now()),
    )
    try:
        patients.add(patient)
    except ConditionFailed as exc:
        raise_taken(exc, TAKEN)
    return patient


def update_patient(actor: User, patient_id: int, read_changes: Callable[[], dict]) -> Patient:
    """Edit a patient's details: the patient themself, or anyone the route allows.

    `read_changes` gives the validated changes; it is called only once the caller
    may change this record, so a stranger is told 403 before anything about the body.
    """
    check_access(actor, patient_id)
    changes = read_changes()
    check_birth_date(changes)

    def change(before: Patient) -> Patient:
        return replace(before, **{name: changes[name] for name in ("name", "email", "phone", "date_of_birth")
                                  if name in changes})

    return edit(lambda: get_patient(actor, patient_id), change, patients.save_changes, TAKEN)
