"""Service points: desks, counters and consulting rooms. The model stays here; callers get
`ServicePoint` dataclasses."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.domain.entities import Page, ServicePoint
from chalicelib.domain.ports.queue import SERVICE_POINT_NAME, DeskRecords
from chalicelib.domain.values import optional_int
from chalicelib.storage import departments as department_store
from chalicelib.storage import doctors as doctor_store
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import Transaction, get_or_none, read_items
from chalicelib.storage.uniques import move_unique, put_unique, unique_key

KIND = "service_point"
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
            department_store.check_exists(tx, point.department)
        put_unique(tx, NAME_CLAIM, name_key(point.department, point.name), point.id)
        tx.put("service-point", _to_model(point), ServicePointModel.id.does_not_exist())


def save_changes(before: ServicePoint, after: ServicePoint) -> None:
    """Write an edited service point if still as read, moving its name claim as needed."""
    with Transaction() as tx:
        if after.department is not None and after.department != before.department:
            department_store.check_exists(tx, after.department)
        move_unique(tx, NAME_CLAIM, name_key(before.department, before.name),
                    name_key(after.department, after.name), before.id)
        stored = (ServicePointModel.name == before.name) & (ServicePointModel.is_active == before.is_active)
        tx.update("service-point", ServicePointModel(before.id),
                  [ServicePointModel.name.set(after.name), ServicePointModel.point_kind.set(after.kind),
                   ServicePointModel.department.set(after.department),
                   ServicePointModel.is_active.set(after.is_active)], stored)


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
