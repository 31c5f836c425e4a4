"""Accounts: registration and the users resource."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.auth import client_address
from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain.accounts import management, registration
from chalicelib.domain.accounts.rules import username_field
from chalicelib.domain.commands import ProfileChanges, Registration
from chalicelib.domain.entities import User, UserFilters
from chalicelib.domain.permissions import ADMIN, ANONYMOUS, ANY_ROLE, DOCTOR, PATIENT, ROLES, STAFF, is_admin
from chalicelib.domain.values import iso_date
from chalicelib.schema import (
    Bool,
    Choice,
    Date,
    Email,
    Int,
    NotNullWhen,
    NotWhen,
    OnlyWhen,
    Password,
    RequiredUnless,
    Schema,
    Str,
)

bp = Blueprint(__name__)

def _person_name() -> Str:
    return Str(max_length=150, min_length=0)


REGISTER = Schema("RegisterRequest", {
    "username": username_field(required=True),
    "email": Email(required=True),
    "password": Password(required=True),
    "role": Choice(ROLES, description="Defaults to patient. Other roles need an admin's token."),
    "date_of_birth": Date(nullable=True, description="Required for a patient."),
    "first_name": _person_name(),
    "last_name": _person_name(),
    "specialty": Str(max_length=200, description="Doctors only."),
    "department": Int(description="Doctors only: an existing department id."),
    "link_code": Str(max_length=32, description="Patients only: the code the desk gave for a record made there. "
                                                "Links the new account to that record, and is used up."),
}, rules=(
    RequiredUnless("date_of_birth", "role", (ADMIN, STAFF, DOCTOR), PATIENT, "This field is required for a patient."),
    OnlyWhen(("specialty", "department"), "role", DOCTOR, "Only a doctor has a %s."),
    NotWhen(("link_code",), "role", (ADMIN, STAFF, DOCTOR), "Only a patient account is linked to a patient record."),
), description="A patient (the default role) needs `date_of_birth`; only a doctor has `specialty` and `department`.")

_PROFILE_FIELDS = {
    "username": username_field(required=True),
    "email": Email(required=True),
    "first_name": _person_name(),
    "last_name": _person_name(),
    "date_of_birth": Date(nullable=True, description="Not in the future, not before 1900-01-01. A patient keeps "
                                                     "theirs: null is refused with `role` patient, and for an "
                                                     "account that is a patient's."),
    "role": Choice(ROLES, description="Admin only."),
    "is_active": Bool(description="Admin only."),
}
# A patient's date of birth, once given, stays: stated where the body says so (the stored role is
# checked by accounts.management.update_user).
_PATIENT_KEEPS_BIRTH_DATE = (NotNullWhen("date_of_birth", "role", PATIENT, "This field is required for a patient."),)
# What an admin may send; anyone else sending `password` gets 400 "Unknown field.".
USER_UPDATE = Schema("UserUpdate", {
    **_PROFILE_FIELDS,
    "password": Password(description="Admin only: sets the user's password; every token they hold stops working."),
}, rules=_PATIENT_KEEPS_BIRTH_DATE)
OWN_PROFILE_UPDATE = Schema("OwnProfileUpdate", _PROFILE_FIELDS, rules=_PATIENT_KEEPS_BIRTH_DATE,
                            description="Your own password changes with POST /auth/password/ (the old one first).")

USER = Schema("User", {
    "id": Int(),
    "username": Str(max_length=150),
    "email": Str(max_length=254),
    "role": Choice(ROLES),
    "date_of_birth": Date(nullable=True),
    "first_name": Str(max_length=150, min_length=0),
    "last_name": Str(max_length=150, min_length=0),
    "is_active": Bool(),
    "date_joined": Str(max_length=40),
    "patient_id": Int(description="Present when a patient record is linked."),
    "doctor_id": Int(description="Present when a doctor record is linked."),
})


def user_json(user: User) -> dict:
    body = {
        "id": user.id, "username": user.username, "email": user.email, "role": user.role,
        "date_of_birth": iso_date(user.date_of_birth), "first_name": user.first_name,
        "last_name": user.last_name, "is_active": user.is_active, "date_joined": user.date_joined,
    }
    if user.patient_id is not None:
        body["patient_id"] = user.patient_id
    if user.doctor_id is not None:
        body["doctor_id"] = user.doctor_id
    return body


@route(bp, "/register", "POST", summary="Register a user (patients self-register; other roles need an admin)",
       tag="auth", roles=(ANONYMOUS,), status=201, body=REGISTER, response=USER, errors=(409, 429))
def register(ctx):
    actor = ctx.optional_user
    return user_json(registration.register(actor, Registration(**ctx.body()), client_address(ctx)))


USER_QUERY = {
    "username": Str(max_length=150, description="Usernames that start so, without regard to case."),
    "email": Str(max_length=254, description="Emails that start so, without regard to case."),
    "role": Choice(ROLES, description="Only this role."),
    "is_active": Choice(("true", "false"), description="Only active (true) or inactive (false) accounts."),
}


@route(bp, "/users", "GET", summary="List users (admin); filters combine, and a filtered page may hold fewer than "
       "`limit`: follow `next` until it is null", tag="users", roles=(ADMIN,), many=True, response=USER,
       query=USER_QUERY)
def list_users(ctx):
    limit, cursor, filters = ctx.page()
    if "is_active" in filters:
        filters["is_active"] = filters["is_active"] == "true"
    return page_json(management.list_users(limit, cursor, UserFilters(**filters)), user_json)


@route(bp, "/users/{user_id}", "GET", summary="A user's profile (own, or any for admin)", tag="users",
       roles=ANY_ROLE, response=USER)
def get_user(ctx, user_id):
    return user_json(management.get_user(ctx.user, parse_id(user_id, "user")))


def update_own_or_any(ctx, user_id: int):
    """Edit a user's profile from the request's body (the users resource and /profile/ alike). An admin
    may set another user's password; nobody sets their own here (POST /auth/password/ asks the old one)."""
    def changes() -> ProfileChanges:
        schema = USER_UPDATE if is_admin(ctx.user) and user_id != ctx.user.id else OWN_PROFILE_UPDATE
        return ProfileChanges(**schema.validate(ctx.json(), partial=ctx.spec.partial))

    return user_json(management.update_user(ctx.user, user_id, changes))


@route(bp, "/users/{user_id}", "PUT", summary="Replace a user's profile fields", tag="users", roles=ANY_ROLE,
       body=USER_UPDATE, response=USER, errors=(409,))
def put_user(ctx, user_id):
    return update_own_or_any(ctx, parse_id(user_id, "user"))


@route(bp, "/users/{user_id}", "PATCH", summary="Change some of a user's profile fields", tag="users",
       roles=ANY_ROLE, body=USER_UPDATE, response=USER, errors=(409,))
def patch_user(ctx, user_id):
    return update_own_or_any(ctx, parse_id(user_id, "user"))


@route(bp, "/users/{user_id}", "DELETE", summary="Delete a user (admin); linked records stay", tag="users",
       roles=(ADMIN,), status=204, errors=(409,))
def delete_user(ctx, user_id):
    management.delete_user(ctx.user, parse_id(user_id, "user"))
