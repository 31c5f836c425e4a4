"""Roles, and the rules about who may act that do not depend on the request's body.

Which roles may call an operation at all is declared on its route (and published
in the OpenAPI description as `x-roles`); the rules about owning an object (a
patient's own record, a doctor's own appointments) live with each domain operation.
"""
from __future__ import annotations

from chalicelib.domain.entities import User
from chalicelib.errors import Forbidden

ADMIN = "admin"
STAFF = "staff"
DOCTOR = "doctor"
PATIENT = "patient"
ROLES = (ADMIN, STAFF, DOCTOR, PATIENT)
# Who may call an operation that needs no login.
ANONYMOUS = "anonymous"
# Every logged-in role.
ANY_ROLE = (PATIENT, DOCTOR, STAFF, ADMIN)

NOT_ALLOWED = "You do not have permission to perform this action."


def allowed_roles(roles: tuple[str, ...]) -> tuple[str, ...]:
    """The roles a route declares, with admin (who may do everything) always among them."""
    return tuple(dict.fromkeys((*roles, ADMIN)))


def check_role(user: User, roles: tuple[str, ...]) -> None:
    """403 unless the user's role is one of `roles` (admin always is)."""
    if user.role != ADMIN and user.role not in roles:
        raise Forbidden(NOT_ALLOWED)


def is_admin(user: User) -> bool:
    return user.role == ADMIN


def own_patient_id(actor: User) -> int:
    """The patient record of a patient's account; 403 for an account without one."""
    if actor.patient_id is None:
        raise Forbidden("Your account has no patient record.")
    return actor.patient_id


def own_doctor_id(actor: User) -> int:
    """The doctor record of a doctor's account; 403 for an account without one."""
    if actor.doctor_id is None:
        raise Forbidden("Your account has no doctor record.")
    return actor.doctor_id


# -- a patient acts only for themself (the one place this rule is written) ------------

NOT_YOURS = "A patient can only act for themself."


def acting_patient(actor: User, requested: int | None, message: str = NOT_YOURS) -> int | None:
    """The patient an operation acts for. A patient acts for their own record only: it is
    the answer whatever they leave out, and naming another patient is a 403 (`message`).
    Other roles act for the patient they name (None when they name none)."""
    if actor.role != PATIENT:
        return requested
    own = own_patient_id(actor)
    if requested not in (None, own):
        raise Forbidden(message)
    return own


def check_owner(actor: User, patient_id: int, message: str = NOT_ALLOWED) -> None:
    """403 (`message`) when a patient's account reaches for another patient's object;
    every other role passes (what else it may do is its route's roles)."""
    acting_patient(actor, patient_id, message)
