"""Departments. The model stays here; callers get `Department` dataclasses."""
from __future__ import annotations

from collections.abc import Callable

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.domain.entities import Department, Page
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import Transaction, get_or_none
from chalicelib.storage.uniques import move_unique, owner_of, put_unique, unique_key

KIND = "department"


@register
class DepartmentModel(StoredModel):
    class Meta:
        table_suffix = "departments"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    name = UnicodeAttribute()
    description = UnicodeAttribute(default="")
    is_active = BooleanAttribute(null=True)  # missing on items written before it existed: active
    points_version = NumberAttribute(null=True)  # service points that joined it (storage.service_points)

    by_kind = kind_id_index()


def name_key(name: str) -> str:
    return unique_key("department-name", name)


def to_department(item: DepartmentModel) -> Department:
    return Department(id=int(item.id), name=item.name, description=item.description or "",
                      is_active=item.is_active is not False)


def add(department: Department) -> None:
    """Write a new department with its name claim, in one transaction.

    Raises ConditionFailed(["department-name"]) when the name is taken.
    """
    with Transaction() as tx:
        put_unique(tx, "department-name", name_key(department.name), department.id)
        tx.put("department", DepartmentModel(department.id, kind=KIND, name=department.name,
                                             description=department.description, is_active=department.is_active),
               DepartmentModel.id.does_not_exist())


# What writes a change of a department's `is_active` together with the records that carry it
# (storage.service_points registers its own): a registry, so this module imports no other.
_ACTIVITY_SAVERS: list[Callable] = []


def saves_activity(saver: Callable) -> Callable:
    """Register `saver(before, after, stage)`, which writes a change of `is_active`: `stage(tx,
    condition)` puts the department's own edit in its transaction, conditional also on `condition`."""
    _ACTIVITY_SAVERS.append(saver)
    return saver


def save_changes(before: Department, after: Department) -> None:
    """Write an edited department if it is still as read, moving its name claim when the name changed.

    Raises ConditionFailed(["department-name"]) when the new name is taken, ["department-edit"]
    when the department changed meanwhile.
    """
    actions = [DepartmentModel.name.set(after.name), DepartmentModel.description.set(after.description),
               DepartmentModel.is_active.set(after.is_active)]

    def stage(tx: Transaction, condition=None) -> None:
        move_unique(tx, "department-name", name_key(before.name), name_key(after.name), before.id)
        still = DepartmentModel.name == before.name
        tx.update("department-edit", DepartmentModel(before.id), actions,
                  still if condition is None else still & condition)

    if before.is_active != after.is_active and _ACTIVITY_SAVERS:
        # Its service points carry whether it is active: written with it (storage.service_points).
        _ACTIVITY_SAVERS[0](before, after, stage)
        return
    with Transaction() as tx:
        stage(tx)


def get(department_id: int) -> Department | None:
    """The department with this id, or None."""
    item = get_or_none(DepartmentModel, department_id)
    return to_department(item) if item else None


def id_by_name(name: str) -> int | None:
    """The id of the department with this name (without regard to case), or None."""
    return owner_of(name_key(name))


def check_exists(tx: Transaction, department_id: int) -> None:
    """Make a transaction fail (labelled "department") unless the department exists and is active."""
    tx.check("department", DepartmentModel, department_id,
             DepartmentModel.id.exists() & active())


def active():
    """The condition that a department is active (items from before `is_active` existed are)."""
    return DepartmentModel.is_active.does_not_exist() | (DepartmentModel.is_active == True)  # noqa: E712


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all departments in id order (one Query on the kind index)."""
    return query_page(DepartmentModel, DepartmentModel.by_kind, "departments", limit, cursor, to_department,
                      hash_key=KIND)
