"""The clinic's records: patients, departments and doctors, and who may see or change them."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain import clock
from chalicelib.domain.edits import edit
from chalicelib.domain.permissions import ADMIN, DOCTOR, PATIENT, STAFF, require
from chalicelib.errors import Forbidden, ValidationFailed, found
from chalicelib.settings import get_settings
from chalicelib.storage import counters, departments, doctors, patients
from chalicelib.storage.base import ConditionFailed, Page, Transaction, iso_instant
from chalicelib.storage.departments import Department
from chalicelib.storage.doctors import Doctor
from chalicelib.storage.patients import Patient
from chalicelib.storage.users import User

PATIENT_EMAIL_TAKEN = "A patient with that email already exists."
DEPARTMENT_NAME_TAKEN = "A department with that name already exists."


def _no_department(department_id: int) -> ValidationFailed:
    return ValidationFailed.field("department", "No department with id %d." % department_id)


# -- patients -------------------------------------------------------------------

def check_patient_access(actor: User, patient_id: int, *, write: bool = False) -> None:
    """A patient reaches only their own record; staff (and doctors, to read) reach all."""
    if actor.role == PATIENT:
        if actor.patient_id != patient_id:
            raise Forbidden("You can only access your own patient record.")
        return
    if write:
        require(actor, STAFF)
    else:
        require(actor, STAFF, DOCTOR)


def check_may_create_patient(actor: User) -> None:
    require(actor, STAFF)


def _check_birth_date(data: dict) -> None:
    born = data.get("date_of_birth")
    if born is not None and born > clock.service_day(clock.now(), get_settings().clinic_timezone):
        raise ValidationFailed.field("date_of_birth", "The date of birth cannot be in the future.")


def list_patients(actor: User, limit: int, cursor: str | None) -> Page:
    """All patients for staff and doctors; a patient gets a page holding only their own record."""
    if actor.role == PATIENT:
        own = patients.get(actor.patient_id) if actor.patient_id is not None else None
        return Page(items=[own] if own else [], next=None)
    require(actor, STAFF, DOCTOR)
    return patients.list_page(limit, cursor)


def get_patient(actor: User, patient_id: int) -> Patient:
    check_patient_access(actor, patient_id)
    return found(patients.get(patient_id), "patient", patient_id)


def create_patient(actor: User, data: dict) -> Patient:
    """Register a patient without an account (a walk-in at the desk): staff and admin."""
    check_may_create_patient(actor)
    _check_birth_date(data)
    patient = Patient(
        id=counters.next_id("patient"), name=data["name"], email=data.get("email"), phone=data.get("phone"),
        date_of_birth=data.get("date_of_birth"), user_id=None, created_at=iso_instant(clock.now()),
    )
    try:
        patients.add(patient)
    except ConditionFailed as exc:
        if "patient-email" in exc.labels:
            raise ValidationFailed.field("email", PATIENT_EMAIL_TAKEN) from None
        raise
    return patient


def update_patient(actor: User, patient_id: int, changes: dict) -> Patient:
    """Edit a patient's details: staff, admin, or the patient themself."""
    check_patient_access(actor, patient_id, write=True)
    _check_birth_date(changes)

    def change(before: Patient) -> Patient:
        return replace(before, **{name: changes[name] for name in ("name", "email", "phone", "date_of_birth")
                                  if name in changes})

    return edit(lambda: get_patient(actor, patient_id), change, patients.save_changes,
                {"patient-email": ("email", PATIENT_EMAIL_TAKEN)})


# -- departments ----------------------------------------------------------------

def list_departments(actor: User, limit: int, cursor: str | None) -> Page:
    return departments.list_page(limit, cursor)


def get_department(actor: User, department_id: int) -> Department:
    return found(departments.get(department_id), "department", department_id)


def check_may_create_department(actor: User) -> None:
    require(actor, ADMIN)


def create_department(actor: User, data: dict) -> Department:
    """A new department (admin only); names are unique without regard to case."""
    check_may_create_department(actor)
    department = Department(id=counters.next_id("department"), name=data["name"],
                            description=data.get("description") or "")
    tx = Transaction()
    departments.stage_new_department(tx, department)
    try:
        tx.commit()
    except ConditionFailed as exc:
        if "department-name" in exc.labels:
            raise ValidationFailed.field("name", DEPARTMENT_NAME_TAKEN) from None
        raise
    return department


# -- doctors --------------------------------------------------------------------

def list_doctors(actor: User, limit: int, cursor: str | None, department: int | None = None) -> Page:
    return doctors.list_page(limit, cursor, department)


def get_doctor(actor: User, doctor_id: int) -> Doctor:
    return found(doctors.get(doctor_id), "doctor", doctor_id)


def check_may_create_doctor(actor: User) -> None:
    require(actor, ADMIN)


def create_doctor(actor: User, data: dict) -> Doctor:
    """A doctor record without an account (admin only), in an existing department."""
    check_may_create_doctor(actor)
    doctor = Doctor(id=counters.next_id("doctor"), name=data["name"], specialty=data["specialty"],
                    department=data["department"], user_id=None)
    tx = Transaction()
    # Checked in the same transaction, so the department cannot be missing when the doctor lands.
    departments.stage_exists_check(tx, doctor.department)
    doctors.stage_new_doctor(tx, doctor)
    try:
        tx.commit()
    except ConditionFailed as exc:
        if "department" in exc.labels:
            raise _no_department(doctor.department) from None
        raise
    return doctor
