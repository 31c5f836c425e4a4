"""Departments. The model stays here; callers get `Department` dataclasses."""
from __future__ import annotations

from dataclasses import dataclass

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.storage.base import kind_id_index, Page, Transaction, bind, query_page, register
from chalicelib.storage.counters import claim, claim_condition, owner_of, unique_key

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


@dataclass
class Department:
    id: int
    name: str
    description: str


def name_key(name: str) -> str:
    return unique_key("department-name", name)


def to_department(item: DepartmentModel) -> Department:
    return Department(id=int(item.id), name=item.name, description=item.description or "")


def stage_new_department(tx: Transaction, department: Department) -> None:
    """Add a new department, and its name claim, to a transaction."""
    tx.put("department-name", claim(name_key(department.name), department.id), claim_condition())
    tx.put("department", DepartmentModel(department.id, kind=KIND, name=department.name,
                                         description=department.description),
           DepartmentModel.id.does_not_exist())


def get(department_id: int) -> Department | None:
    """The department with this id, or None."""
    bind()
    try:
        return to_department(DepartmentModel.get(department_id, consistent_read=True))
    except DepartmentModel.DoesNotExist:
        return None


def id_by_name(name: str) -> int | None:
    """The id of the department with this name (without regard to case), or None."""
    return owner_of(name_key(name))


def stage_exists_check(tx: Transaction, department_id: int, label: str = "department") -> None:
    """Make a transaction fail (with `label`) unless the department exists."""
    tx.check(label, DepartmentModel, department_id, DepartmentModel.id.exists())


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all departments in id order (one Query on the kind index)."""
    bind()
    return query_page(DepartmentModel.by_kind, "departments", limit, cursor, to_department, hash_key=KIND)
