"""Doctor records."""
from __future__ import annotations

from chalicelib.domain.conflicts import create, edit, set_fields
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import Doctor, Page, User
from chalicelib.domain.stores import stores
from chalicelib.errors import Missing, found
from chalicelib.storage import doctors


def list_doctors(limit: int, cursor: str | None, department: int | None = None) -> Page:
    return doctors.list_page(limit, cursor, department)


def get_doctor(doctor_id: int) -> Doctor:
    return found(doctors.get(doctor_id), "doctor", doctor_id)


def department_missing(department_id: int) -> dict[str, tuple[str, str]]:
    """The `taken` map that turns a failed department check into a 400 on `department`."""
    return {"department": Missing("department", no_department(department_id).message)}


def create_doctor(actor: User, data: dict) -> Doctor:
    """A doctor record without an account, in an existing department."""
    doctor = Doctor(id=stores().ids.next_id("doctor"), name=data["name"], specialty=data["specialty"],
                    department=data["department"], user_id=None)
    return create(doctor, doctors.add, department_missing(doctor.department))


def update_doctor(actor: User, doctor_id: int, data: dict) -> Doctor:
    """Change a doctor record's name, specialty, department (an existing, active one) or `is_active`."""
    change = set_fields(data, ("name", "specialty", "department", "is_active"))
    taken = department_missing(data["department"]) if "department" in data else {}
    return edit(lambda: get_doctor(doctor_id), change, doctors.save_changed, taken)
