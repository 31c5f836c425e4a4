"""Service points: desks, counters and consulting rooms. The model stays here; callers get
`ServicePoint` dataclasses.

A point also carries whether its department is inactive (`department_inactive`, written with
every change of the department's `is_active`), so a call at the point checks the point alone
and never the department item all the department's desks share (concurrent transactions on
one item cancel each other in DynamoDB). The department's `points_version` counts the points
that joined it, so a (de)activation that listed the points before one joined is refused and redone.
"""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.domain.entities import Page, ServicePoint
from chalicelib.domain.ports.queue import (
    DEPARTMENT,
    DESK_DOCTOR,
    DESK_POINT,
    SERVICE_POINT_NAME,
    DeskCheck,
    DeskRecords,
)
from chalicelib.domain.values import optional_int
from chalicelib.errors import ConditionFailed, ValidationFailed
from chalicelib.storage import departments as department_store
from chalicelib.storage import doctors as doctor_store
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import Transaction, get_or_none, read_items
from chalicelib.storage.uniques import move_unique, put_unique, unique_key

KIND = "service_point"
MAX_MARKED_POINTS = 97
NAME_CLAIM = SERVICE_POINT_NAME


@register
class ServicePointModel(StoredModel):
    class Meta:
        table_suffix = "service-points"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)  # the kind index's key; desk or room is `point_kind`
    name = UnicodeAttribute()
    point_kind = UnicodeAttribute()
    department = NumberAttribute(null=True)
    is_active = BooleanAttribute(default=True)
    department_inactive = BooleanAttribute(null=True)  # missing: the department is active (or none)

    by_kind = kind_id_index()


def name_key(department: int | None, name: str) -> str:
    """The claim on a name within a department (or the general queue), without regard to case."""
    return unique_key(NAME_CLAIM, f"{department if department is not None else 'general'}#{name}")


def to_point(item: ServicePointModel) -> ServicePoint:
    return ServicePoint(id=int(item.id), name=item.name, kind=item.point_kind,
                        department=optional_int(item.department),
                        is_active=bool(item.is_active))


def _to_model(point: ServicePoint) -> ServicePointModel:
    return ServicePointModel(point.id, kind=KIND, name=point.name, point_kind=point.kind,
                             department=point.department, is_active=point.is_active)


def add(point: ServicePoint) -> None:
    """Write a new service point with its name claim; ConditionFailed names SERVICE_POINT_NAME
    (taken) or DEPARTMENT (missing or inactive)."""
    with Transaction() as tx:
        if point.department is not None:
            _join_department(tx, point.department)
        put_unique(tx, NAME_CLAIM, name_key(point.department, point.name), point.id)
        tx.put("service-point", _to_model(point), ServicePointModel.id.does_not_exist())


def save_changes(before: ServicePoint, after: ServicePoint) -> None:
    """Write an edited service point if still as read, moving its name claim as needed."""
    with Transaction() as tx:
        if after.department is not None and after.department != before.department:
            _join_department(tx, after.department)
        move_unique(tx, NAME_CLAIM, name_key(before.department, before.name),
                    name_key(after.department, after.name), before.id)
        stored = (ServicePointModel.name == before.name) & (ServicePointModel.is_active == before.is_active)
        tx.update("service-point", ServicePointModel(before.id),
                  [ServicePointModel.name.set(after.name), ServicePointModel.point_kind.set(after.kind),
                   ServicePointModel.department.set(after.department),
                   ServicePointModel.is_active.set(after.is_active),
                   # its department is active: checked by _join_department when it moves, else as it was
                   *([ServicePointModel.department_inactive.remove()] if after.department != before.department
                     else [])], stored)


def get(point_id: int) -> ServicePoint | None:
    item = get_or_none(ServicePointModel, point_id)
    return to_point(item) if item else None


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all service points in id order (one Query on the kind index)."""
    return query_page(ServicePointModel, ServicePointModel.by_kind, "service-points", limit, cursor, to_point,
                      hash_key=KIND)


def desk_records(doctor_id: int | None, department_id: int | None, point_id: int | None) -> DeskRecords:
    """A desk's doctor record, its queue's department and its service point, in one TransactGetItems
    (only those asked for; None where missing or not asked)."""
    asked = [(doctor_store.DoctorModel, doctor_id), (department_store.DepartmentModel, department_id),
             (ServicePointModel, point_id)]
    keys = [(model, key) for model, key in asked if key is not None]
    items = iter(read_items(keys)) if keys else iter(())
    found = [next(items) if key is not None else None for _, key in asked]
    doctor, department, point = found
    return DeskRecords(doctor_store.to_doctor(doctor) if doctor else None,
                       department_store.to_department(department) if department else None,
                       to_point(point) if point else None)


def _join_department(tx: Transaction, department_id: int) -> None:
    """A point joins a department: fail (DEPARTMENT) unless it exists and is active, and count the
    join on the department, so a (de)activation that listed its points before cannot commit."""
    model = department_store.DepartmentModel
    tx.update(DEPARTMENT, model(department_id), [model.points_version.add(1)],
              model.id.exists() & department_store.active())


def _department_points(department_id: int) -> list[int]:
    """Ids of the department's service points (a Query of the kind index: points are few)."""
    return [int(item.id) for item in ServicePointModel.by_kind.query(
        KIND, filter_condition=ServicePointModel.department == department_id)]


@department_store.saves_activity
def save_department(before, after, stage) -> None:
    """Write a department's edit that changes `is_active`, marking each of its service points
    with the new state in the same transaction; ConditionFailed(["department-edit"]) when the
    department or its points changed meanwhile (read again and redo). `stage(tx, condition)` puts
    the department's own edit in the transaction, conditional also on `condition`."""
    model = department_store.DepartmentModel
    item = get_or_none(model, before.id)
    version = item.points_version if item is not None else None
    same_points = model.points_version.does_not_exist() if version is None else model.points_version == version
    points = _department_points(before.id)
    if len(points) > MAX_MARKED_POINTS:
        # One transaction holds 100 writes: the department, its name claim and its points.
        raise ValidationFailed.field("is_active", "A department with more than %d service points cannot be "
                                     "(de)activated: move some of them first." % MAX_MARKED_POINTS)
    with Transaction() as tx:
        stage(tx, same_points)  # the department's own edit, if its points are still those listed
        for point_id in points:
            _mark(tx, "department-edit", point_id, before.id, inactive=not after.is_active)


def _mark(tx: Transaction, label: str, point_id: int, department_id: int, *, inactive: bool) -> None:
    """Mark a point with whether its department is inactive, if it is still of that department."""
    tx.update(label, ServicePointModel(point_id),
              [ServicePointModel.department_inactive.set(True) if inactive
               else ServicePointModel.department_inactive.remove()],
              ServicePointModel.department == department_id)


def mark_inactive_departments() -> tuple[int, int]:
    """Mark the points of departments that were inactive before points carried it (missing, the
    flag reads as active, so such a point would take calls), as a (de)activation now does.

    Reads the inactive departments (one Query of the departments' kind index) and, per department,
    its points lacking the mark (one of the points'); marks them in one transaction that also checks
    the department is still inactive and each point still of it (a reactivation in between leaves
    them for the next run to see as they are; no point joins an inactive department). Points already
    marked are only read, so running it again writes nothing.
    Returns (inactive departments read, points marked).
    """
    model = department_store.DepartmentModel
    departments = list(model.by_kind.query(department_store.KIND, filter_condition=model.is_active == False))  # noqa: E712
    marked = 0
    for department in departments:
        department_id = int(department.id)
        unmarked = [int(item.id) for item in ServicePointModel.by_kind.query(
            KIND, filter_condition=(ServicePointModel.department == department_id)
            & (ServicePointModel.department_inactive.does_not_exist()
               | (ServicePointModel.department_inactive == False)))]  # noqa: E712
        for first in range(0, len(unmarked), MAX_MARKED_POINTS):
            chunk = unmarked[first:first + MAX_MARKED_POINTS]
            try:
                with Transaction() as tx:
                    tx.check(DEPARTMENT, model, department_id, model.is_active == False)  # noqa: E712
                    for point_id in chunk:
                        _mark(tx, "point", point_id, department_id, inactive=True)
            except ConditionFailed:
                break  # reactivated, or a point moved, meanwhile: the next run sees it as it is
            marked += len(chunk)
    return len(departments), marked


def stage_desk_check(tx: Transaction, desk: DeskCheck) -> None:
    """ConditionChecks that a call at this desk is allowed as it is written: the service point is
    active, of the queue's department, and that department is active (DESK_POINT); a doctor's
    record is active and of that department (DESK_DOCTOR)."""
    point = ServicePointModel
    same_queue = (point.department.does_not_exist() if desk.department is None
                  else point.department == desk.department)
    tx.check(DESK_POINT, point, desk.service_point,
             (point.is_active == True) & same_queue  # noqa: E712
             & (point.department_inactive.does_not_exist() | (point.department_inactive == False)))  # noqa: E712
    if desk.doctor is not None:
        doctor = doctor_store.DoctorModel
        tx.check(DESK_DOCTOR, doctor, desk.doctor,
                 (doctor.department == desk.department)
                 & (doctor.is_active.does_not_exist() | (doctor.is_active == True)))  # noqa: E712
