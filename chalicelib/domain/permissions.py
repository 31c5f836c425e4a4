"""Roles, and who may do what (API-CONTRACT.md's table, one check per handler)."""
from __future__ import annotations

from chalicelib.errors import Forbidden

ADMIN = "admin"
STAFF = "staff"
DOCTOR = "doctor"
PATIENT = "patient"
ROLES = (ADMIN, STAFF, DOCTOR, PATIENT)


def require(user, *roles: str) -> None:
    """Allow the listed roles; admin may always act."""
    if user.role != ADMIN and user.role not in roles:
        raise Forbidden("You do not have permission to perform this action.")


def require_self_or(user, owner_user_id: int | None, *roles: str) -> None:
    """Allow the object's own user, the listed roles, and admin."""
    if owner_user_id is not None and user.id == owner_user_id:
        return
    require(user, *roles)


def is_admin(user) -> bool:
    return user.role == ADMIN
