"""Service points: the desks, counters and consulting rooms a called patient goes to."""
from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from chalicelib.domain.conflicts import add, edit
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import Page, ServicePoint, User
from chalicelib.domain.ports.queue import DEPARTMENT, SERVICE_POINT_NAME
from chalicelib.domain.stores import stores
from chalicelib.errors import Missing, existing

NAME_TAKEN = "This department already has a service point with that name."


class NewServicePoint(NamedTuple):
    """A service point to create: of a department, or of the general queue (None)."""
    name: str
    kind: str
    department: int | None = None
    is_active: bool = True


class ServicePointChanges(NamedTuple):
    """What an edit sets; the fields it leaves out (`given` names the ones it sets) stay as stored."""
    given: frozenset[str]
    name: str = ""
    kind: str = ""
    department: int | None = None
    is_active: bool = True

    @classmethod
    def of(cls, data: dict) -> ServicePointChanges:
        fields = frozenset(data) & {"name", "kind", "department", "is_active"}
        return cls(given=fields, **{name: data[name] for name in fields})

    def apply(self, point: ServicePoint) -> ServicePoint:
        return replace(point, **{name: getattr(self, name) for name in self.given})


def _taken(department: int | None) -> dict[str, tuple[str, str]]:
    taken = {SERVICE_POINT_NAME: ("name", NAME_TAKEN)}
    if department is not None:
        taken[DEPARTMENT] = Missing("department", no_department(department).message)
    return taken


def list_service_points(limit: int, cursor: str | None) -> Page:
    return stores().service_points.list_page(limit, cursor)


def get_service_point(point_id: int) -> ServicePoint:
    return existing(stores().service_points.get(point_id), "service point", point_id)


def create_service_point(actor: User, new: NewServicePoint) -> ServicePoint:
    """A new service point of a department (an existing, active one) or of the general queue; its name
    is unique within its department without regard to case."""
    point = ServicePoint(id=stores().ids.next_id("service_point"), name=new.name, kind=new.kind,
                         department=new.department, is_active=new.is_active)
    return add(point, stores().service_points.add, _taken(point.department))


def update_service_point(actor: User, point_id: int, changes: ServicePointChanges) -> ServicePoint:
    """Rename, move, or (de)activate a service point."""
    department = changes.department if "department" in changes.given else None
    return edit(lambda: get_service_point(point_id), changes.apply, stores().service_points.save_changes,
                _taken(department))
