"""Patient records."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.auth import client_address
from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import contacts, patients
from chalicelib.domain.commands import PatientChanges, PatientDetails
from chalicelib.domain.entities import LinkCode, Patient
from chalicelib.domain.permissions import ANY_ROLE, STAFF
from chalicelib.domain.permissions import PATIENT as PATIENT_ROLE
from chalicelib.domain.search import PatientQuery
from chalicelib.domain.values import iso_date
from chalicelib.schema import PHONE_PATTERN, Bool, Choice, Date, Email, Int, Schema, Str

bp = Blueprint(__name__)

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


LINK_CODE_DESCRIPTION = ("Shown once: the patient gives it as `link_code` to `POST /register/` to link their new "
                         "account to this record. 8 characters, valid 7 days, single use.")

NEW_PATIENT = Schema("NewPatient", {
    **PATIENT.fields,
    "link_code": Str(max_length=8, min_length=8, description=LINK_CODE_DESCRIPTION),
    "link_code_expires_at": Str(max_length=40, description="When the link code stops working."),
})

LINK_CODE = Schema("LinkCode", {
    "link_code": Str(max_length=8, min_length=8, description=LINK_CODE_DESCRIPTION),
    "expires_at": Str(max_length=40, description="When it stops working (7 days from now)."),
})


def patient_json(patient: Patient) -> dict:
    return {"id": patient.id, "name": patient.name, "email": patient.email, "phone": patient.phone,
            "date_of_birth": iso_date(patient.date_of_birth), "user_id": patient.user_id}


SEARCH_QUERY = {
    "search": Str(max_length=200, description="Matches the start of any word of the name, without regard to case "
                                              "or accents (`mar` finds María López); several words must all match."),
    "email": Email(description="Matches exactly, without regard to case."),
    "phone": Str(max_length=32, pattern=PHONE_PATTERN, pattern_message=PHONE_MESSAGE,
                 description="Matches on digits only (`+1 (555) 010-0200` = `15550100200`)."),
    "date_of_birth": Date(),
}


@route(bp, "/patients", "GET", tag="patients", roles=ANY_ROLE, many=True, response=PATIENT, query=SEARCH_QUERY,
       summary="List or find patients (filters combine; a patient sees only their own record)")
def list_patients(ctx):
    limit, cursor, filters = ctx.page()
    return page_json(patients.list_patients(ctx.user, limit, cursor, PatientQuery(**filters)), patient_json)


@route(bp, "/patients", "POST", summary="Register a patient without an account (staff); the answer shows its link code",
       tag="patients", roles=(STAFF,), status=201, body=PATIENT_CREATE, response=NEW_PATIENT, errors=(409,),
       idempotent=True)
def create_patient(ctx):
    patient, link = patients.create_patient(ctx.user, PatientDetails(**ctx.body()))
    return {**patient_json(patient), "link_code": link.code, "link_code_expires_at": link.expires_at}


def link_code_json(link: LinkCode) -> dict:
    return {"link_code": link.code, "expires_at": link.expires_at}


@route(bp, "/patients/{patient_id}/link_code", "POST",
       summary="A new link code for a record without an account (staff); the old code stops working",
       tag="patients", roles=(STAFF,), status=201, response=LINK_CODE, errors=(409,))
def issue_link_code(ctx, patient_id):
    return link_code_json(patients.issue_link_code(ctx.user, parse_id(patient_id, "patient")))


VERIFY_CONTACT = Schema("VerifyContact", {
    "channel": Choice(("sms", "email"), required=True, description="The record's phone (sms) or email."),
    "code": Str(max_length=12, description="Omitted: a one-time code is sent to the contact (at most 3 an hour). "
                                           "Given: the code that was sent, which verifies the contact."),
})
VERIFIED = Schema("ContactVerification", {
    "channel": Str(max_length=5), "verified": Bool(), "code_sent": Bool(),
})


@route(bp, "/patients/{patient_id}/verify_contact", "POST",
       summary="Verify a phone or email the patient set themself (only verified ones get messages)",
       tag="patients", roles=(PATIENT_ROLE, STAFF), body=VERIFY_CONTACT, response=VERIFIED, errors=(429,))
def verify_contact(ctx, patient_id):
    body, record = ctx.body(), parse_id(patient_id, "patient")
    if body.get("code") is None:
        contacts.request_code(ctx.user, record, body["channel"], client_address(ctx))
        return {"channel": body["channel"], "verified": False, "code_sent": True}
    contacts.confirm_code(ctx.user, record, body["channel"], body["code"], client_address(ctx))
    return {"channel": body["channel"], "verified": True, "code_sent": False}


@route(bp, "/patients/{patient_id}", "GET", summary="A patient record (own, or any for staff and doctors)",
       tag="patients", roles=ANY_ROLE, response=PATIENT)
def get_patient(ctx, patient_id):
    return patient_json(patients.get_patient(ctx.user, parse_id(patient_id, "patient")))


def _update(ctx, patient_id):
    # The body is read only once the caller may change this record (403 before 400).
    patient = patients.update_patient(ctx.user, parse_id(patient_id, "patient"), lambda: PatientChanges(**ctx.body()))
    return patient_json(patient)


@route(bp, "/patients/{patient_id}", "PUT", summary="Replace a patient's details (staff, or the patient)",
       tag="patients", roles=(PATIENT_ROLE, STAFF), body=PATIENT_UPDATE, response=PATIENT, errors=(409,))
def put_patient(ctx, patient_id):
    return _update(ctx, patient_id)


@route(bp, "/patients/{patient_id}", "PATCH", summary="Change some of a patient's details (staff, or the patient)",
       tag="patients", roles=(PATIENT_ROLE, STAFF), body=PATIENT_UPDATE, response=PATIENT, errors=(409,))
def patch_patient(ctx, patient_id):
    return _update(ctx, patient_id)
