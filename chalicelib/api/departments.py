"""Departments."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import departments
from chalicelib.domain.commands import DepartmentChanges, DepartmentDetails
from chalicelib.domain.entities import Department
from chalicelib.domain.permissions import ADMIN, ANY_ROLE
from chalicelib.schema import Bool, Int, Schema, Str

bp = Blueprint(__name__)

DEPARTMENT_CREATE = Schema("DepartmentCreate", {
    "name": Str(max_length=100, required=True, description="Unique without regard to case."),
    "description": Str(max_length=1000, min_length=0, multiline=True),
})

DEPARTMENT_UPDATE = Schema("DepartmentUpdate", {
    "name": Str(max_length=100, description="Unique without regard to case."),
    "description": Str(max_length=1000, min_length=0),
    "is_active": Bool(description="An inactive department takes no joins, calls or new doctors."),
})

DEPARTMENT = Schema("Department", {
    "id": Int(),
    "name": Str(max_length=100),
    "description": Str(max_length=1000, min_length=0, multiline=True),
    "is_active": Bool(),
})


def department_json(department: Department) -> dict:
    return {"id": department.id, "name": department.name, "description": department.description,
            "is_active": department.is_active}


@route(bp, "/departments", "GET", summary="List departments", tag="departments", roles=ANY_ROLE,
       many=True, response=DEPARTMENT)
def list_departments(ctx):
    limit, cursor, _ = ctx.page()
    return page_json(departments.list_departments(limit, cursor), department_json)


@route(bp, "/departments", "POST", summary="Create a department (admin)", tag="departments",
       roles=(ADMIN,), status=201, body=DEPARTMENT_CREATE, response=DEPARTMENT, errors=(409,))
def create_department(ctx):
    return department_json(departments.create_department(ctx.user, DepartmentDetails(**ctx.body())))


@route(bp, "/departments/{department_id}", "GET", summary="A department", tag="departments",
       roles=ANY_ROLE, response=DEPARTMENT)
def get_department(ctx, department_id):
    return department_json(departments.get_department(parse_id(department_id, "department")))


@route(bp, "/departments/{department_id}", "PATCH", summary="Change a department (admin)", tag="departments",
       roles=(ADMIN,), body=DEPARTMENT_UPDATE, response=DEPARTMENT, errors=(409,))
def update_department(ctx, department_id):
    department_id = parse_id(department_id, "department")
    return department_json(departments.update_department(ctx.user, department_id, DepartmentChanges(**ctx.body())))
