"""Departments: the general queue's siblings, each with its own queue and doctors."""
from __future__ import annotations

from chalicelib.domain.conflicts import create, edit, set_fields
from chalicelib.domain.entities import Department, Page, User
from chalicelib.domain.stores import stores
from chalicelib.errors import ConditionFailed, ValidationFailed, found
from chalicelib.storage import departments

NAME_TAKEN = "A department with that name already exists."


def no_department(department_id: int) -> ValidationFailed:
    """The 400 for a department id that names no department."""
    return ValidationFailed.field("department", "No department with id %d." % department_id)


def check_exists(department_id: int | None) -> None:
    """400 on `department` unless it is None (the general queue) or an existing department."""
    if department_id is not None and departments.get(department_id) is None:
        raise no_department(department_id)


def list_departments(limit: int, cursor: str | None) -> Page:
    return departments.list_page(limit, cursor)


def get_department(department_id: int) -> Department:
    return found(departments.get(department_id), "department", department_id)


def create_department(actor: User, data: dict) -> Department:
    """A new department; names are unique without regard to case."""
    department = Department(id=stores().ids.next_id("department"), name=data["name"],
                            description=data.get("description") or "")
    return create(department, departments.add, {"department-name": ("name", NAME_TAKEN)})


def update_department(actor: User, department_id: int, data: dict) -> Department:
    """Change a department's name, description or `is_active` (admin). An inactive department
    takes no joins, calls or new doctors; its history stays."""
    change = set_fields(data, ("name", "description", "is_active"))
    return edit(lambda: get_department(department_id), change, departments.save_changed,
                {"department-name": ("name", NAME_TAKEN)})


def ensure_department(name: str) -> int:
    """The id of the department with this name, creating it if missing (race-safe)."""
    existing = departments.id_by_name(name)
    if existing is not None:
        return existing
    department = Department(id=stores().ids.next_id("department"), name=name, description="")
    try:
        departments.add(department)
        return department.id
    except ConditionFailed:
        winner = departments.id_by_name(name)
        if winner is None:
            raise
        return winner
