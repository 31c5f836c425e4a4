"""Patient records, and who may see or change them."""
from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from chalicelib.domain import clock, contacts
from chalicelib.domain.commands import PatientChanges, PatientDetails, given
from chalicelib.domain.conflicts import BUSY, add, edit, set_fields
from chalicelib.domain.entities import LinkCode, Page, Patient, User
from chalicelib.domain.permissions import PATIENT, check_owner
from chalicelib.domain.search import PatientQuery
from chalicelib.domain.security import link_code_hash, new_link_code
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Conflict, ValidationFailed, existing, retry_on_conflict
from chalicelib.settings import get_settings

EMAIL_TAKEN = "A patient with that email already exists."
TAKEN = {"patient-email": ("email", EMAIL_TAKEN)}
# A person editing their own record or account, as registration does, finds an email in use when an
# account or a patient record holds it, whichever it is, and is told so with one status and one
# message: a self-service edit never tells a stranger who is a patient. Staff at the desk are told
# plainly (and may put on a record an email an account holds).
EMAIL_IN_USE = "This email is already in use. If it is yours, ask the desk to put it on your record."
OWN_TAKEN = {"patient-email": ("email", EMAIL_IN_USE), "email": ("email", EMAIL_IN_USE)}
LINK_CODE_DAYS = 7
ALREADY_LINKED = "This patient record is already linked to an account."
NOT_YOUR_RECORD = "You can only access your own patient record."


def check_birth_date(born: date | None) -> None:
    """A date of birth, wherever it is written (registration, profiles, records), is never in the
    clinic's future (its today). (Not before 1900-01-01: every date the schema takes is not.)"""
    if born is not None and born > clock.today():
        raise ValidationFailed.field("date_of_birth", "The date of birth cannot be in the future.")


def _new_link_code() -> tuple[LinkCode, str]:
    """A fresh code, valid LINK_CODE_DAYS, and the hash that is all storage keeps of it."""
    code = new_link_code()
    expires_at = iso_instant(clock.now() + timedelta(days=LINK_CODE_DAYS))
    return LinkCode(code=code, expires_at=expires_at), link_code_hash(code, get_settings())


def list_patients(actor: User, limit: int, cursor: str | None, query: PatientQuery | None = None) -> Page:
    """All patients, or those meeting `query`'s filters; a patient gets a page holding only their own
    record (if it meets the filters)."""
    patients = stores().patients
    query = query or PatientQuery()
    if actor.role == PATIENT:
        own = patients.get(actor.patient_id) if actor.patient_id is not None else None
        return Page(items=[own] if own and query.matches(own) else [], next=None)
    if query.any():
        return patients.search_page(query, limit, cursor)
    return patients.list_page(limit, cursor)


def get_patient(actor: User, patient_id: int) -> Patient:
    check_owner(actor, patient_id, NOT_YOUR_RECORD)
    return existing(stores().patients.get(patient_id), "patient", patient_id)


def create_patient(actor: User, details: PatientDetails) -> tuple[Patient, LinkCode]:
    """Register a patient without an account (a walk-in at the desk), with the record's link code.

    The code is shown once, in this answer: the patient gives it when registering an
    account, which is the only way an account gets linked to this record.
    """
    check_birth_date(details.date_of_birth)
    link, code_hash = _new_link_code()
    patient = Patient(
        id=stores().ids.next_id("patient"), name=details.name, email=details.email, phone=details.phone,
        date_of_birth=details.date_of_birth, user_id=None, created_at=iso_instant(clock.now()),
        link_code_hash=code_hash, link_code_expires_at=link.expires_at,
    )
    made = add(patient, stores().patients.add, TAKEN)
    contacts.staff_set(actor, made, ("phone", "email"))  # set at the desk: verified
    return made, link


def issue_link_code(actor: User, patient_id: int) -> LinkCode:
    """A new link code for a record without an account; the code it had stops working."""
    link, code_hash = _new_link_code()
    patients = stores().patients

    def attempt() -> LinkCode:
        before = existing(patients.get(patient_id), "patient", patient_id)
        if before.user_id is not None:
            raise Conflict(ALREADY_LINKED)
        try:
            patients.replace_link_code(before, code_hash, link.expires_at)
        except ConditionFailed as exc:
            if "link-code" in exc.labels:  # a hash collision: astronomically unlikely, but never wrong
                raise Conflict("A new code could not be made; try again.") from None
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc  # changed meanwhile: read again
        return link

    try:
        return retry_on_conflict(attempt)
    except ConditionFailed:
        raise Conflict(BUSY) from None


def update_patient(actor: User, patient_id: int, read_changes: Callable[[], PatientChanges]) -> Patient:
    """Edit a patient's details: the patient themself, or anyone the route allows.

    `read_changes` gives the validated changes; it is called only once the caller
    may change this record, so a stranger is told 403 before anything about the body.
    """
    check_owner(actor, patient_id, NOT_YOUR_RECORD)
    changes = given(read_changes())
    check_birth_date(changes.get("date_of_birth"))
    change = set_fields(changes, ("name", "email", "phone", "date_of_birth"))
    own = actor.role == PATIENT  # a patient edits only their own record (check_owner)
    patient = edit(lambda: get_patient(actor, patient_id), change,
                   lambda before, after: stores().patients.save_changes(before, after, exclusive=own),
                   OWN_TAKEN if own else TAKEN)
    contacts.staff_set(actor, patient, changes)  # staff's are verified; the patient's own need a code
    return patient
