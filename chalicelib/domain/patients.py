"""Patient records, and who may see or change them."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from chalicelib.domain import clock
from chalicelib.domain.conflicts import create, edit, set_fields
from chalicelib.domain.entities import LinkCode, Page, Patient, User
from chalicelib.domain.permissions import PATIENT
from chalicelib.domain.security import link_code_hash, new_link_code
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, Forbidden, ValidationFailed, found, retry_on_conflict
from chalicelib.settings import get_settings
from chalicelib.storage import patients

EMAIL_TAKEN = "A patient with that email already exists."
TAKEN = {"patient-email": ("email", EMAIL_TAKEN)}
EARLIEST_BIRTH_DATE = date(1900, 1, 1)
LINK_CODE_DAYS = 7
ALREADY_LINKED = "This patient record is already linked to an account."


def check_access(actor: User, patient_id: int) -> None:
    """A patient reaches only their own record; the other roles a route allows reach all."""
    if actor.role == PATIENT and actor.patient_id != patient_id:
        raise Forbidden("You can only access your own patient record.")


def check_birth_date(data: dict) -> None:
    """A date of birth, wherever it is written (registration, profiles, records), is never in the
    clinic's future (its today) and not before 1900-01-01."""
    born = data.get("date_of_birth")
    if born is None:
        return
    if born > clock.today():
        raise ValidationFailed.field("date_of_birth", "The date of birth cannot be in the future.")
    if born < EARLIEST_BIRTH_DATE:
        raise ValidationFailed.field("date_of_birth", "Enter a date after 1900-01-01.")


def _new_link_code() -> tuple[LinkCode, str]:
    """A fresh code, valid LINK_CODE_DAYS, and the hash that is all storage keeps of it."""
    code = new_link_code()
    expires_at = iso_instant(clock.now() + timedelta(days=LINK_CODE_DAYS))
    return LinkCode(code=code, expires_at=expires_at), link_code_hash(code, get_settings())


def list_patients(actor: User, limit: int, cursor: str | None) -> Page:
    """All patients; a patient gets a page holding only their own record."""
    if actor.role == PATIENT:
        own = patients.get(actor.patient_id) if actor.patient_id is not None else None
        return Page(items=[own] if own else [], next=None)
    return patients.list_page(limit, cursor)


def get_patient(actor: User, patient_id: int) -> Patient:
    check_access(actor, patient_id)
    return found(patients.get(patient_id), "patient", patient_id)


def create_patient(actor: User, data: dict) -> tuple[Patient, LinkCode]:
    """Register a patient without an account (a walk-in at the desk), with the record's link code.

    The code is shown once, in this answer: the patient gives it when registering an
    account, which is the only way an account gets linked to this record.
    """
    check_birth_date(data)
    link, code_hash = _new_link_code()
    patient = Patient(
        id=stores().ids.next_id("patient"), name=data["name"], email=data.get("email"), phone=data.get("phone"),
        date_of_birth=data.get("date_of_birth"), user_id=None, created_at=iso_instant(clock.now()),
        link_code_hash=code_hash, link_code_expires_at=link.expires_at,
    )
    return create(patient, patients.add, TAKEN), link


def issue_link_code(actor: User, patient_id: int) -> LinkCode:
    """A new link code for a record without an account; the code it had stops working."""
    link, code_hash = _new_link_code()

    def attempt() -> LinkCode:
        before = found(patients.get(patient_id), "patient", patient_id)
        if before.user_id is not None:
            raise Conflict(ALREADY_LINKED)
        try:
            patients.replace_link_code(before, code_hash, link.expires_at)
        except ConditionFailed as exc:
            if "link-code" in exc.labels:  # a hash collision: astronomically unlikely, but never wrong
                raise ValidationFailed("A new code could not be made; try again.") from None
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc  # changed meanwhile: read again
        return link

    try:
        return retry_on_conflict(attempt)
    except ConditionFailed:
        raise ValidationFailed("This record is being changed by someone else right now; try again.") from None


def update_patient(actor: User, patient_id: int, read_changes: Callable[[], dict]) -> Patient:
    """Edit a patient's details: the patient themself, or anyone the route allows.

    `read_changes` gives the validated changes; it is called only once the caller
    may change this record, so a stranger is told 403 before anything about the body.
    """
    check_access(actor, patient_id)
    changes = read_changes()
    check_birth_date(changes)

    change = set_fields(changes, ("name", "email", "phone", "date_of_birth"))
    return edit(lambda: get_patient(actor, patient_id), change, patients.save_changes, TAKEN)
