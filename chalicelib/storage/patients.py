"""Patient records. The model stays here; callers get `Patient` dataclasses."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.storage.base import kind_id_index, Page, Transaction, bind, iso_date, parse_date, query_page, register
from chalicelib.storage.counters import next_id, UniqueModel, claim, claim_condition, unique_key

KIND = "patient"



@register
class PatientModel(Model):
    class Meta:
        table_suffix = "patients"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    name = UnicodeAttribute()
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)
    date_of_birth = UnicodeAttribute(null=True)
    user_id = NumberAttribute(null=True)
    created_at = UnicodeAttribute()

    by_kind = kind_id_index()


@dataclass
class Patient:
    id: int
    name: str
    email: str | None
    phone: str | None
    date_of_birth: date | None
    user_id: int | None
    created_at: str


def email_key(email: str) -> str:
    return unique_key("patient-email", email)


def to_patient(item: PatientModel) -> Patient:
    return Patient(
        id=int(item.id), name=item.name, email=item.email, phone=item.phone,
        date_of_birth=parse_date(item.date_of_birth),
        user_id=int(item.user_id) if item.user_id is not None else None,
        created_at=item.created_at,
    )


def to_model(patient: Patient) -> PatientModel:
    return PatientModel(
        patient.id, kind=KIND, name=patient.name, email=patient.email, phone=patient.phone,
        date_of_birth=iso_date(patient.date_of_birth), user_id=patient.user_id,
        created_at=patient.created_at,
    )


def stage_new_patient(tx: Transaction, patient: Patient) -> None:
    """Add a new patient record, and its email claim, to a transaction."""
    if patient.email:
        tx.put("patient-email", claim(email_key(patient.email), patient.id), claim_condition())
    tx.put("patient", to_model(patient), PatientModel.id.does_not_exist())


def add(patient: Patient) -> None:
    """Write a new patient record with its email claim, in one transaction.

    Raises ConditionFailed(["patient-email"]) when another patient has the email.
    """
    bind()
    tx = Transaction()
    stage_new_patient(tx, patient)
    tx.commit()


def walk_in(name: str, created_at: str) -> Patient:
    """A new patient record with only a name (a desk's walk-in; fixtures and benchmarks)."""
    patient = Patient(id=next_id("patient"), name=name, email=None, phone=None, date_of_birth=None,
                      user_id=None, created_at=created_at)
    add(patient)
    return patient


def stage_link_user(tx: Transaction, patient_id: int, user_id: int) -> None:
    """Link an existing, unlinked patient record to a new account."""
    tx.update("patient-link", PatientModel(patient_id), [PatientModel.user_id.set(user_id)],
              PatientModel.id.exists() & PatientModel.user_id.does_not_exist())


def stage_unlink_user(tx: Transaction, patient_id: int) -> None:
    tx.update("patient-unlink", PatientModel(patient_id), [PatientModel.user_id.remove()],
              PatientModel.id.exists())


def get(patient_id: int) -> Patient | None:
    """The patient with this id, or None."""
    bind()
    try:
        return to_patient(PatientModel.get(patient_id, consistent_read=True))
    except PatientModel.DoesNotExist:
        return None


def stage_exists_check(tx: Transaction, patient_id: int, label: str = "patient") -> None:
    """Make a transaction fail (with `label`) unless the patient exists."""
    tx.check(label, PatientModel, patient_id, PatientModel.id.exists())


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all patients in id order (one Query on the kind index)."""
    bind()
    return query_page(PatientModel.by_kind, "patients", limit, cursor, to_patient, hash_key=KIND)


def save_changes(before: Patient, after: Patient) -> None:
    """Write an edited patient, moving the email claim when the email changes.

    The write is conditional on the stored email being the one the caller read,
    so two edits racing to change it cannot leave a claim behind. Raises
    ConditionFailed labelled "patient-email" (taken) or "patient" (changed meanwhile).
    """
    bind()
    tx = Transaction()
    old_key = email_key(before.email) if before.email else None
    new_key = email_key(after.email) if after.email else None
    if old_key != new_key:
        if new_key:
            tx.put("patient-email", claim(new_key, after.id), claim_condition())
        if old_key:
            tx.delete("old-patient-email", UniqueModel(old_key), UniqueModel.owner == after.id)
    condition = PatientModel.id.exists() & (
        PatientModel.email == before.email if before.email else PatientModel.email.does_not_exist())
    actions = [PatientModel.name.set(after.name)]
    for attribute, value in ((PatientModel.email, after.email), (PatientModel.phone, after.phone),
                             (PatientModel.date_of_birth, iso_date(after.date_of_birth))):
        actions.append(attribute.remove() if value is None else attribute.set(value))
    tx.update("patient", PatientModel(after.id), actions, condition)
    tx.commit()
