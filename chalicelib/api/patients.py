"""Patient records."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import patients
from chalicelib.domain.entities import Patient
from chalicelib.domain.permissions import ANY_ROLE, STAFF
from chalicelib.domain.permissions import PATIENT as PATIENT_ROLE
from chalicelib.domain.values import iso_date
from chalicelib.schema import Date, Email, Int, Schema, Str

bp = Blueprint(__name__)

PHONE_PATTERN = r"(?=.*[0-9])[0-9+(). -]+"
PHONE_MESSAGE = "Enter a valid phone number: digits, spaces and + ( ) - . only."


def _fields(*, name_required: bool) -> dict:
    return {
        "name": Str(max_length=200, required=name_required),
        "email": Email(nullable=True, description="Unique among patients, without regard to case."),
        "phone": Str(max_length=32, pattern=PHONE_PATTERN, pattern_message=PHONE_MESSAGE, nullable=True,
                     description="Kept as given."),
        "date_of_birth": Date(nullable=True),
    }


PATIENT_CREATE = Schema("PatientCreate", _fields(name_required=True))
PATIENT_UPDATE = Schema("PatientUpdate", _fields(name_required=True),
                        description="PUT needs `name`; PATCH any subset. Fields left out stay as they are.")

PATIENT = Schema("Patient", {
    "id": Int(),
    "name": Str(max_length=200),
    "email": Str(max_length=254, nullable=True),
    "phone": Str(max_length=32, nullable=True),
    "date_of_birth": Date(nullable=True),
    "user_id": Int(nullable=True, description="The linked account, if the patient has one."),
})


def patient_json(patient: Patient) -> dict:
    return {"id": patient.id, "name": patient.name, "email": patient.email, "phone": patient.phone,
            "date_of_birth": iso_date(patient.date_of_birth), "user_id": patient.user_id}


@route(bp, "/patients", "GET", summary="List patients (a patient sees only their own record)", tag="patients",
       roles=ANY_ROLE, many=True, response=PATIENT)
def list_patients(ctx):
    limit, cursor, _ = ctx.page()
    return page_json(patients.list_patients(ctx.user, limit, cursor), patient_json)


@route(bp, "/patients", "POST", summary="Register a patient without an account (staff)", tag="patients",
       roles=(STAFF,), status=201, body=PATIENT_CREATE, response=PATIENT, errors=(409,))
def create_patient(ctx):
    return patient_json(patients.create_patient(ctx.user, ctx.body()))


@route(bp, "/patients/{patient_id}", "GET", summary="A patient record (own, or any for staff and doctors)",
       tag="patients", roles=ANY_ROLE, response=PATIENT)
def get_patient(ctx, patient_id):
    return patient_json(patients.get_patient(ctx.user, parse_id(patient_id, "patient")))


def _update(ctx, patient_id):
    return patient_json(patients.update_patient(ctx.user, parse_id(patient_id, "patient"), ctx.body))


@route(bp, "/patients/{patient_id}", "PUT", summary="Replace a patient's details (staff, or the patient)",
       tag="patients", roles=(PATIENT_ROLE, STAFF), body=PATIENT_UPDATE, response=PATIENT, errors=(409,))
def put_patient(ctx, patient_id):
    return _update(ctx, patient_id)


@route(bp, "/patients/{patient_id}", "PATCH", summary="Change some of a patient's details (staff, or the patient)",
       tag="patients", roles=(PATIENT_ROLE, STAFF), body=PATIENT_UPDATE, response=PATIENT, errors=(409,))
def patch_patient(ctx, patient_id):
    return _update(ctx, patient_id)
