"""Service points: the desks, counters and consulting rooms a called patient goes to."""
from __future__ import annotations

from chalicelib.domain.conflicts import create, edit, set_fields
from chalicelib.domain.departments import no_department
from chalicelib.domain.entities import Page, ServicePoint, User
from chalicelib.domain.stores import stores
from chalicelib.errors import Missing, found
from chalicelib.storage import service_points

NAME_TAKEN = "This department already has a service point with that name."


def _taken(department: int | None) -> dict[str, tuple[str, str]]:
    taken = {service_points.NAME_CLAIM: ("name", NAME_TAKEN)}
    if department is not None:
        taken["department"] = Missing("department", no_department(department).message)
    return taken


def list_service_points(limit: int, cursor: str | None) -> Page:
    return service_points.list_page(limit, cursor)


def get_service_point(point_id: int) -> ServicePoint:
    return found(service_points.get(point_id), "service point", point_id)


def create_service_point(actor: User, data: dict) -> ServicePoint:
    """A new service point of a department (an existing, active one) or of the general queue; its name
    is unique within its department without regard to case."""
    point = ServicePoint(id=stores().ids.next_id("service_point"), name=data["name"], kind=data["kind"],
                         department=data.get("department"), is_active=data.get("is_active", True))
    return create(point, service_points.add, _taken(point.department))


def update_service_point(actor: User, point_id: int, data: dict) -> ServicePoint:
    """Rename, move, or (de)activate a service point."""
    change = set_fields(data, ("name", "kind", "department", "is_active"))
    return edit(lambda: get_service_point(point_id), change, service_points.save_changed,
                _taken(data.get("department")))
