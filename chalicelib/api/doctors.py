"""Doctor records."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import doctors
from chalicelib.domain.commands import DoctorChanges, DoctorDetails
from chalicelib.domain.entities import Doctor
from chalicelib.domain.permissions import ADMIN, ANY_ROLE
from chalicelib.schema import Bool, Int, Schema, Str

bp = Blueprint(__name__)

DOCTOR_CREATE = Schema("DoctorCreate", {
    "name": Str(max_length=200, required=True),
    "specialty": Str(max_length=200, required=True),
    "department": Int(required=True, description="An existing department id."),
})

DOCTOR_UPDATE = Schema("DoctorUpdate", {
    "name": Str(max_length=200),
    "specialty": Str(max_length=200),
    "department": Int(description="An existing, active department id."),
    "is_active": Bool(),
})

DOCTOR = Schema("Doctor", {
    "id": Int(),
    "name": Str(max_length=200),
    "specialty": Str(max_length=200),
    "department": Int(),
    "user_id": Int(nullable=True, description="The linked doctor account, if any."),
    "is_active": Bool(),
})

DOCTOR_QUERY = {"department": Int(description="Only the doctors of this department.")}


def doctor_json(doctor: Doctor) -> dict:
    return {"id": doctor.id, "name": doctor.name, "specialty": doctor.specialty,
            "department": doctor.department, "user_id": doctor.user_id, "is_active": doctor.is_active}


@route(bp, "/doctors", "GET", summary="List doctors, optionally of one department", tag="doctors",
       roles=ANY_ROLE, many=True, response=DOCTOR, query=DOCTOR_QUERY)
def list_doctors(ctx):
    limit, cursor, filters = ctx.page()
    return page_json(doctors.list_doctors(limit, cursor, filters.get("department")), doctor_json)


@route(bp, "/doctors", "POST", summary="Create a doctor record (admin)", tag="doctors", roles=(ADMIN,),
       status=201, body=DOCTOR_CREATE, response=DOCTOR)
def create_doctor(ctx):
    return doctor_json(doctors.create_doctor(ctx.user, DoctorDetails(**ctx.body())))


@route(bp, "/doctors/{doctor_id}", "GET", summary="A doctor record", tag="doctors", roles=ANY_ROLE,
       response=DOCTOR)
def get_doctor(ctx, doctor_id):
    return doctor_json(doctors.get_doctor(parse_id(doctor_id, "doctor")))


@route(bp, "/doctors/{doctor_id}", "PATCH", summary="Change a doctor record (admin)", tag="doctors",
       roles=(ADMIN,), body=DOCTOR_UPDATE, response=DOCTOR, errors=(409,))
def update_doctor(ctx, doctor_id):
    doctor_id = parse_id(doctor_id, "doctor")
    return doctor_json(doctors.update_doctor(ctx.user, doctor_id, DoctorChanges(**ctx.body())))
