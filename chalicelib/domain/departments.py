"""Departments: the general queue's siblings, each with its own queue and doctors."""
from __future__ import annotations

from chalicelib.domain.commands import DepartmentChanges, DepartmentDetails, given
from chalicelib.domain.conflicts import add, edit, set_fields
from chalicelib.domain.entities import Department, Page, User
from chalicelib.domain.stores import stores
from chalicelib.errors import ConditionFailed, ValidationFailed, existing

NAME_TAKEN = "A department with that name already exists."
TAKEN = {"department-name": ("name", NAME_TAKEN)}


def no_department(department_id: int) -> ValidationFailed:
    """The 400 for a department id that names no department."""
    return ValidationFailed.field("department", "No department with id %d." % department_id)


def check_exists(department_id: int | None) -> None:
    """400 on `department` unless it is None (the general queue) or an existing department."""
    if department_id is not None and stores().departments.get(department_id) is None:
        raise no_department(department_id)


def list_departments(limit: int, cursor: str | None) -> Page:
    return stores().departments.list_page(limit, cursor)


def get_department(department_id: int) -> Department:
    return existing(stores().departments.get(department_id), "department", department_id)


def create_department(actor: User, details: DepartmentDetails) -> Department:
    """A new department; names are unique without regard to case."""
    department = Department(id=stores().ids.next_id("department"), name=details.name,
                            description=details.description or "")
    return add(department, stores().departments.add, TAKEN)


def update_department(actor: User, department_id: int, changes: DepartmentChanges) -> Department:
    """Change a department's name, description or `is_active` (admin). An inactive department
    takes no joins, calls or new doctors; its history stays."""
    change = set_fields(given(changes), ("name", "description", "is_active"))
    return edit(lambda: get_department(department_id), change, stores().departments.save_changes, TAKEN)


def ensure_department(name: str) -> int:
    """The id of the department with this name, creating it if missing (race-safe)."""
    departments = stores().departments
    found = departments.id_by_name(name)
    if found is not None:
        return found
    department = Department(id=stores().ids.next_id("department"), name=name, description="")
    try:
        departments.add(department)
        return department.id
    except ConditionFailed:
        winner = departments.id_by_name(name)
        if winner is None:
            raise
        return winner
