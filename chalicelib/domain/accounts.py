"""Accounts: registration, login, logout, the caller's identity, and user management."""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from chalicelib.domain import clock
from chalicelib.domain.conflicts import edit
from chalicelib.domain.departments import ensure_department
from chalicelib.domain.doctors import department_missing
from chalicelib.domain.entities import Doctor, Page, Patient, User
from chalicelib.domain.permissions import ADMIN, DOCTOR, NOT_ALLOWED, PATIENT, is_admin
from chalicelib.domain.security import hash_password, issue_token, read_token, verify_password
from chalicelib.domain.values import iso_instant
from chalicelib.errors import (
    ConditionFailed,
    Conflict,
    Forbidden,
    Unauthenticated,
    ValidationFailed,
    found,
    raise_taken,
)
from chalicelib.settings import get_settings
from chalicelib.storage import counters, doctors, patients, users
from chalicelib.storage.transactions import Transaction, retry_on_conflict

USERNAME_PATTERN = r"[A-Za-z0-9@.+_-]+"
DEFAULT_DEPARTMENT = "General Medicine"
DEFAULT_SPECIALTY = "General Practice"
MAX_LOGIN_FAILURES = 10
LOGIN_WINDOW_SECONDS = 15 * 60

_TAKEN = {
    "username": ("username", "A user with that username already exists."),
    "email": ("email", "A user with that email already exists."),
    "patient-email": ("email", "A patient with that email already exists."),
    "last-admin": ("role", "The last active admin cannot be removed, deactivated or demoted."),
}


def check_password_rules(password: str, username: str) -> None:
    if password.casefold() == username.casefold():
        raise ValidationFailed.field("password", "The password is too similar to the username.")


# -- identity ---------------------------------------------------------------

def authenticate(token: str) -> User:
    """The active user a token belongs to; 401 if it is forged, expired or revoked."""
    settings = get_settings()
    user_id, version = read_token(token, settings)
    user = users.get(user_id)
    if user is None or not user.is_active or user.token_version != version:
        raise Unauthenticated("Invalid token.")
    return user


def _failures_counter(username: str, now: datetime) -> tuple[str, datetime]:
    """The counter of failed logins for a username in the current window, and when it may go."""
    window = int(now.timestamp()) // LOGIN_WINDOW_SECONDS
    window_end = datetime.fromtimestamp((window + 1) * LOGIN_WINDOW_SECONDS, tz=UTC)
    return f"login-failures#{username.lower()}#{window}", window_end + timedelta(days=1)


def login(username: str, password: str) -> dict:
    """Check credentials and issue a token.

    Failed logins are counted per username (known or not, so the answer tells
    nothing about which exist) in windows of LOGIN_WINDOW_SECONDS; past
    MAX_LOGIN_FAILURES in one window, that username cannot log in until the
    next, which makes guessing a password by trying them impractical.
    """
    now = clock.now()
    counter, forget_after = _failures_counter(username, now)
    if counters.current_value(counter) >= MAX_LOGIN_FAILURES:
        minutes = LOGIN_WINDOW_SECONDS // 60
        raise Unauthenticated(f"Too many failed logins for this username: try again in up to {minutes} minutes.")
    user = users.get_by_username(username) if re.fullmatch(USERNAME_PATTERN, username) else None
    if not verify_password(user.password_hash if user else None, password) or user is None:
        counters.next_value(counter, expires_at=forget_after)
        raise Unauthenticated("Unable to log in with provided credentials.")
    if not user.is_active:
        raise Unauthenticated("This account is inactive.")
    token, expires = issue_token(user.id, user.token_version, now, get_settings())
    return {"token": token, "user": {"id": user.id, "username": user.username, "role": user.role},
            "expires_at": iso_instant(expires)}


def logout(user: User) -> None:
    """Revoke every token the user holds."""
    users.bump_token_version(user.id)


# -- registration -------------------------------------------------------------

def register(actor: User | None, data: dict) -> User:
    """Create an account, and the patient or doctor record its role needs.

    Anyone may register a patient; only an admin creates staff, doctors and admins.
    """
    role = data.get("role", PATIENT)
    if role != PATIENT and (actor is None or not is_admin(actor)):
        raise Forbidden("Only an admin can register a user with the role %r." % role)
    check_password_rules(data["password"], data["username"])
    if role == PATIENT and data.get("date_of_birth") is None:
        raise ValidationFailed.field("date_of_birth", "This field is required for a patient.")
    if role != DOCTOR:
        for name in ("specialty", "department"):
            if name in data:
                raise ValidationFailed.field(name, "Only a doctor has a %s." % name)

    now = iso_instant(clock.now())
    user = User(
        id=counters.next_id("user"), username=data["username"], email=data["email"], role=role,
        password_hash=hash_password(data["password"]), date_of_birth=data.get("date_of_birth"),
        first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
        is_active=True, date_joined=now,
    )
    if role == PATIENT:
        return _register_patient(user, now)
    if role == DOCTOR:
        return _register_doctor(user, data)
    return _commit_new_user(user)


def _commit_new_user(user: User, stage_more=None, taken=_TAKEN) -> User:
    try:
        with Transaction() as tx:
            users.stage_new_user(tx, user)
            if stage_more:
                stage_more(tx)
    except ConditionFailed as exc:
        raise_taken(exc, taken)
    return user


def _display_name(user: User) -> str:
    return " ".join(part for part in (user.first_name, user.last_name) if part) or user.username


def _register_patient(user: User, now: str) -> User:
    # A walk-in patient the desk registered earlier with this email gets linked
    # to the new account instead of duplicated.
    existing_id = patients.id_by_email(user.email)
    if existing_id is not None:
        existing = patients.get(existing_id)
        if existing is not None and existing.user_id is None:
            linked = replace(user, patient_id=existing.id)
            try:
                return _commit_new_user(linked, lambda tx: patients.stage_link_user(tx, existing.id, user.id))
            except ConditionFailed as exc:
                if "patient-link" not in exc.labels:
                    raise
        raise Conflict.field("email", "A patient with that email already exists.")
    patient = Patient(
        id=counters.next_id("patient"), name=_display_name(user), email=user.email, phone=None,
        date_of_birth=user.date_of_birth, user_id=user.id, created_at=now,
    )
    return _commit_new_user(replace(user, patient_id=patient.id),
                            lambda tx: patients.stage_new_patient(tx, patient))


def _register_doctor(user: User, data: dict) -> User:
    department_id = data.get("department")
    if department_id is None:
        department_id = ensure_department(DEFAULT_DEPARTMENT)
    doctor = Doctor(id=counters.next_id("doctor"), name=_display_name(user),
                    specialty=data.get("specialty") or DEFAULT_SPECIALTY,
                    department=department_id, user_id=user.id)
    return _commit_new_user(replace(user, doctor_id=doctor.id), lambda tx: doctors.stage_new_doctor(tx, doctor),
                            {**_TAKEN, **department_missing(department_id)})


def ensure_admin(username: str, email: str, password: str) -> tuple[User, bool]:
    """The bootstrap admin: created if no user has that username. Returns (user, created)."""
    existing = users.get_by_username(username)
    if existing is not None:
        return existing, False
    check_password_rules(password, username)
    user = User(
        id=counters.next_id("user"), username=username, email=email, role=ADMIN,
        password_hash=hash_password(password), date_of_birth=None, first_name="", last_name="",
        is_active=True, date_joined=iso_instant(clock.now()),
    )
    return _commit_new_user(user), True


# -- user management ------------------------------------------------------------

def check_profile_access(actor: User, user_id: int) -> None:
    """Users see and edit their own profile; an admin sees and edits all."""
    if actor.id != user_id and not is_admin(actor):
        raise Forbidden(NOT_ALLOWED)


def get_user(actor: User, user_id: int) -> User:
    """A user's profile: their own, or anyone's for an admin."""
    check_profile_access(actor, user_id)
    return found(users.get(user_id), "user", user_id)


def list_users(limit: int, cursor: str | None) -> Page:
    return users.list_page(limit, cursor)


def update_user(actor: User, user_id: int, read_changes: Callable[[], dict]) -> User:
    """Edit a profile. Role and is_active change only by an admin.

    `read_changes` gives the validated changes; it is called only once the caller
    may edit this profile, so a stranger is told 403 before anything about the body.
    """
    check_profile_access(actor, user_id)
    changes = read_changes()

    def change(before: User) -> User:
        privileged = {name for name in ("role", "is_active") if name in changes
                      and changes[name] != getattr(before, name)}
        if privileged and not is_admin(actor):
            raise Forbidden("Only an admin can change %s." % " and ".join(sorted(privileged)))
        values = {name: changes[name] for name in
                  ("username", "email", "first_name", "last_name", "date_of_birth", "role", "is_active")
                  if name in changes}
        after = replace(before, **values)
        if after.role == PATIENT and after.date_of_birth is None and before.date_of_birth is not None:
            raise ValidationFailed.field("date_of_birth", "This field is required for a patient.")
        # A new role or a deactivation ends the user's sessions: they log in again as what they now are.
        if (before.role, before.is_active) != (after.role, after.is_active):
            after = replace(after, token_version=before.token_version + 1)
        return after

    return edit(lambda: get_user(actor, user_id), change, users.save_changes, _TAKEN)


def delete_user(actor: User, user_id: int) -> None:
    """Remove an account and its tokens; its patient or doctor record stays, unlinked."""
    def attempt() -> None:
        user = found(users.get(user_id), "user", user_id)
        try:
            _delete_with_links(user)
        except ConditionFailed as exc:
            if exc.labels == ["user"]:
                raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
            raise_taken(exc, _TAKEN)

    retry_on_conflict(attempt)


def _delete_with_links(user: User) -> None:
    with Transaction() as tx:
        users.stage_delete(tx, user)
        if user.patient_id is not None and patients.get(user.patient_id) is not None:
            patients.stage_unlink_user(tx, user.patient_id)
        if user.doctor_id is not None and doctors.get(user.doctor_id) is not None:
            doctors.stage_unlink_user(tx, user.doctor_id)
