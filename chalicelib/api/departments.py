"""Departments."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import records
from chalicelib.schema import Int, Schema, Str
from chalicelib.storage.departments import Department

bp = Blueprint(__name__)

DEPARTMENT_CREATE = Schema("DepartmentCreate", {
    "name": Str(max_length=100, required=True, description="Unique without regard to case."),
    "description": Str(max_length=1000, min_length=0),
})

DEPARTMENT = Schema("Department", {
    "id": Int(),
    "name": Str(max_length=100),
    "description": Str(max_length=1000, min_length=0),
})


def department_json(department: Department) -> dict:
    return {"id": department.id, "name": department.name, "description": department.description}


@route(bp, "/departments", "GET", summary="List departments", tag="departments", many=True, response=DEPARTMENT)
def list_departments(ctx):
    limit, cursor, _ = ctx.page()
    return page_json(records.list_departments(ctx.user, limit, cursor), department_json)


@route(bp, "/departments", "POST", summary="Create a department (admin)", tag="departments", status=201,
       body=DEPARTMENT_CREATE, response=DEPARTMENT)
def create_department(ctx):
    records.check_may_create_department(ctx.user)  # 403 before looking at the body
    return department_json(records.create_department(ctx.user, ctx.body()))


@route(bp, "/departments/{department_id}", "GET", summary="A department", tag="departments",
       response=DEPARTMENT)
def get_department(ctx, department_id):
    return department_json(records.get_department(ctx.user, parse_id(department_id, "department")))
