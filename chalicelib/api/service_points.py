"""Service points: desks, counters and consulting rooms."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import service_points
from chalicelib.domain.entities import SERVICE_POINT_KINDS, ServicePoint
from chalicelib.domain.permissions import ADMIN, ANY_ROLE
from chalicelib.domain.service_points import NewServicePoint, ServicePointChanges
from chalicelib.schema import Bool, Choice, Int, Schema, Str

bp = Blueprint(__name__)

TAG = "service-points"

_FIELDS = {
    "name": Str(max_length=100, required=True, description="Unique within its department without regard to case."),
    "kind": Choice(SERVICE_POINT_KINDS, required=True, description="`desk` (or counter) or `room`."),
    "department": Int(nullable=True, description="An existing, active department; null = the general queue."),
    "is_active": Bool(description="Only active service points may call (default true)."),
}

SERVICE_POINT_CREATE = Schema("ServicePointCreate", _FIELDS)
SERVICE_POINT_UPDATE = Schema("ServicePointUpdate", _FIELDS)

SERVICE_POINT = Schema("ServicePoint", {
    "id": Int(),
    "name": Str(max_length=100),
    "kind": Choice(SERVICE_POINT_KINDS),
    "department": Int(nullable=True),
    "is_active": Bool(),
})


def service_point_json(point: ServicePoint) -> dict:
    return {"id": point.id, "name": point.name, "kind": point.kind, "department": point.department,
            "is_active": point.is_active}


@route(bp, "/service-points", "GET", summary="List service points (desks and rooms)", tag=TAG, roles=ANY_ROLE,
       many=True, response=SERVICE_POINT)
def list_service_points(ctx):
    limit, cursor, _ = ctx.page()
    return page_json(service_points.list_service_points(limit, cursor), service_point_json)


@route(bp, "/service-points", "POST", summary="Create a service point (admin)", tag=TAG, roles=(ADMIN,),
       status=201, body=SERVICE_POINT_CREATE, response=SERVICE_POINT, errors=(409,))
def create_service_point(ctx):
    return service_point_json(service_points.create_service_point(ctx.user, NewServicePoint(**ctx.body())))


@route(bp, "/service-points/{service_point_id}", "GET", summary="A service point", tag=TAG, roles=ANY_ROLE,
       response=SERVICE_POINT)
def get_service_point(ctx, service_point_id):
    return service_point_json(service_points.get_service_point(parse_id(service_point_id, "service point")))


@route(bp, "/service-points/{service_point_id}", "PATCH", summary="Change a service point (admin)", tag=TAG,
       roles=(ADMIN,), body=SERVICE_POINT_UPDATE, response=SERVICE_POINT, errors=(409,))
def update_service_point(ctx, service_point_id):
    point_id = parse_id(service_point_id, "service point")
    changes = ServicePointChanges.of(ctx.body())
    return service_point_json(service_points.update_service_point(ctx.user, point_id, changes))
