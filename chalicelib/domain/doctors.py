"""Doctor records."""
from __future__ import annotations

from chalicelib.domain.commands import DoctorChanges, DoctorDetails, given
from chalicelib.domain.conflicts import add, edit, set_fields
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import Doctor, Page, User
from chalicelib.domain.stores import stores
from chalicelib.errors import Missing, existing


def list_doctors(limit: int, cursor: str | None, department: int | None = None) -> Page:
    return stores().doctors.list_page(limit, cursor, department)


def get_doctor(doctor_id: int) -> Doctor:
    return existing(stores().doctors.get(doctor_id), "doctor", doctor_id)


def department_missing(department_id: int) -> dict[str, tuple[str, str]]:
    """The `taken` map that turns a failed department check into a 400 on `department`."""
    return {"department": Missing("department", no_department(department_id).message)}


def create_doctor(actor: User, details: DoctorDetails) -> Doctor:
    """A doctor record without an account, in an existing department."""
    doctor = Doctor(id=stores().ids.next_id("doctor"), name=details.name, specialty=details.specialty,
                    department=details.department, user_id=None)
    return add(doctor, stores().doctors.add, department_missing(doctor.department))


def update_doctor(actor: User, doctor_id: int, changes: DoctorChanges) -> Doctor:
    """Change a doctor record's name, specialty, department (an existing, active one) or `is_active`."""
    values = given(changes)
    change = set_fields(values, ("name", "specialty", "department", "is_active"))
    taken = department_missing(values["department"]) if "department" in values else {}
    return edit(lambda: get_doctor(doctor_id), change, stores().doctors.save_changes, taken)
