"""Departments. The model stays here; callers get `Department` dataclasses."""
from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.domain.entities import Department, Page
from chalicelib.storage.binding import kind_id_index, register
from chalicelib.storage.claims import owner_of, stage_claim, unique_key
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import Transaction, get_or_none

KIND = "department"


@register
class DepartmentModel(Model):
    class Meta:
        table_suffix = "departments"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")

    by_kind = kind_id_index()


def name_key(name: str) -> str:
    return unique_key("department-name", name)


def _to_department(item: DepartmentModel) -> Department:
    return Department(id=int(item.id), name=item.name, description=item.description or "")


def add(department: Department) -> None:
    """Write a new department with its name claim, in one transaction.

    Raises ConditionFailed(["department-name"]) when the name is taken.
    """
    with Transaction() as tx:
        stage_claim(tx, "department-name", name_key(department.name), department.id)
        tx.put("department", DepartmentModel(department.id, kind=KIND, name=department.name,
                                             description=department.description),
               DepartmentModel.id.does_not_exist())


def get(department_id: int) -> Department | None:
    """The department with this id, or None."""
    item = get_or_none(DepartmentModel, department_id)
    return _to_department(item) if item else None


def id_by_name(name: str) -> int | None:
    """The id of the department with this name (without regard to case), or None."""
    return owner_of(name_key(name))


def stage_exists_check(tx: Transaction, department_id: int) -> None:
    """Make a transaction fail (labelled "department") unless the department exists."""
    tx.require_exists("department", DepartmentModel, department_id)


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all departments in id order (one Query on the kind index)."""
    return query_page(DepartmentModel, DepartmentModel.by_kind, "departments", limit, cursor, _to_department,
                      hash_key=KIND)
