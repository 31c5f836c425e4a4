"""Doctor records."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain.conflicts import edit
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import Doctor, Page, User
from chalicelib.errors import ConditionFailed, Missing, found, raise_taken
from chalicelib.storage import counters, doctors


def list_doctors(limit: int, cursor: str | None, department: int | None = None) -> Page:
    return doctors.list_page(limit, cursor, department)


def get_doctor(doctor_id: int) -> Doctor:
    return found(doctors.get(doctor_id), "doctor", doctor_id)


def department_missing(department_id: int) -> dict[str, tuple[str, str]]:
    """The `taken` map that turns a failed department check into a 400 on `department`."""
    return {"department": Missing("department", no_department(department_id).message)}


def create_doctor(actor: User, data: dict) -> Doctor:
    """A doctor record without an account, in an existing department."""
    doctor = Doctor(id=counters.next_id("doctor"), name=data["name"], specialty=data["specialty"],
                    department=data["department"], user_id=None)
    try:
        doctors.add(doctor)
    except ConditionFailed as exc:
        raise_taken(exc, department_missing(doctor.department))
    return doctor


def update_doctor(actor: User, doctor_id: int, data: dict) -> Doctor:
    """Change a doctor record's name, specialty, department (an existing, active one) or `is_active`."""
    def change(doctor: Doctor) -> Doctor:
        return replace(doctor, **{key: value for key, value in data.items()
                                  if key in ("name", "specialty", "department", "is_active")})

    taken = department_missing(data["department"]) if "department" in data else {}
    return edit(lambda: get_doctor(doctor_id), change, doctors.save_changed, taken)
