"""Accounts: registration, login/logout, passwords, the caller's identity, and user management."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from chalicelib.domain import clock
from chalicelib.domain.conflicts import edit
from chalicelib.domain.departments import ensure_department
from chalicelib.domain.doctors import department_missing
from chalicelib.domain.entities import Doctor, Page, Patient, User
from chalicelib.domain.patients import check_birth_date
from chalicelib.domain.permissions import ADMIN, DOCTOR, NOT_ALLOWED, PATIENT, is_admin
from chalicelib.domain.security import (
    hash_password,
    issue_token,
    link_code_hash,
    new_token_key,
    normalize_link_code,
    read_token,
    same_secret,
    verify_password,
)
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import (
    ConditionFailed,
    Forbidden,
    Missing,
    TooManyRequests,
    Unauthenticated,
    ValidationFailed,
    found,
    raise_taken,
    retry_on_conflict,
)
from chalicelib.settings import get_settings
from chalicelib.storage import counters, doctors, patients, users
from chalicelib.storage.transactions import Transaction

USERNAME_PATTERN = r"[A-Za-z0-9@.+_-]+"
DEFAULT_DEPARTMENT = "General Medicine"
DEFAULT_SPECIALTY = "General Practice"
# Failed logins (and wrong old passwords) are counted per username in windows of 15 minutes:
# 10 from one client address shut that address out for the username until the window ends;
# more than 100 from all addresses together shut the username out everywhere.
LOGIN_WINDOW_SECONDS = 15 * 60
LOGIN_FAILURES_PER_ADDRESS = 10
LOGIN_FAILURES_PER_USERNAME = 100
# Wrong link codes are counted per client address, in the same windows.
LINK_CODE_FAILURES_PER_ADDRESS = 10

BAD_LINK_CODE = "This link code is not valid: it is wrong, expired or already used. Ask the desk for a new one."
ASK_THE_DESK = ("The clinic already has a patient record with this email: ask the desk for its link code "
                "and register with it as link_code.")

_TAKEN = {
    "username": ("username", "A user with that username already exists."),
    "email": ("email", "A user with that email already exists."),
    "patient-email": ("email", "A patient with that email already exists."),
    "patient-link": Missing("link_code", BAD_LINK_CODE),
    "last-admin": ("role", "The last active admin cannot be removed, deactivated or demoted."),
}


def check_password_rules(password: str, username: str, field: str = "password") -> None:
    if password.casefold() == username.casefold():
        raise ValidationFailed.field(field, "The password is too similar to the username.")


# -- identity ---------------------------------------------------------------

def authenticate(token: str) -> User:
    """The active user a token belongs to; 401 if it is forged, expired or revoked, or was
    issued to an earlier account with the same id (its key is not this account's)."""
    settings = get_settings()
    user_id, version, key = read_token(token, settings)
    user = users.get(user_id)
    if user is None or not same_secret(user.token_key, key) or not user.is_active or user.token_version != version:
        raise Unauthenticated("Invalid token.")
    return user


# -- throttling failed attempts ---------------------------------------------------

class _Attempt(NamedTuple):
    """One attempt, counted before it is checked (so attempts sent in parallel cannot all get
    past a limit) and given back when it succeeds (so only failures stay counted)."""
    counter: str
    part: str | None

    def give_back(self) -> None:
        counters.return_attempt(self.counter, self.part)


def _window(now: datetime) -> tuple[int, int, datetime]:
    """The current window: its number, the whole seconds left in it, and when its counters may go."""
    number = int(now.timestamp()) // LOGIN_WINDOW_SECONDS
    end = (number + 1) * LOGIN_WINDOW_SECONDS
    return number, max(1, math.ceil(end - now.timestamp())), datetime.fromtimestamp(end, tz=UTC) + timedelta(days=1)


def _address_part(address: str | None) -> str:
    return f"from#{(address or 'unknown')[:64]}"


def _take_login_attempt(username: str, address: str | None, now: datetime) -> _Attempt:
    """Count a login attempt for a username from a client address; 429 if either is shut out.

    Known and unknown usernames are counted alike, so a 429 tells nothing about which exist.
    """
    number, retry_after, forget_after = _window(now)
    attempt = _Attempt(f"login-failures#{username.lower()}#{number}", _address_part(address))
    if not counters.take_attempt(attempt.counter, LOGIN_FAILURES_PER_USERNAME + 1, forget_after,
                                 part=attempt.part, part_limit=LOGIN_FAILURES_PER_ADDRESS):
        raise TooManyRequests(f"Too many failed logins for this username: try again in {retry_after} seconds.",
                              retry_after=retry_after)
    return attempt


def _take_link_code_attempt(address: str | None, now: datetime) -> _Attempt:
    """Count a try of a link code from a client address; 429 after too many wrong ones."""
    number, retry_after, forget_after = _window(now)
    attempt = _Attempt(f"link-code-failures#{_address_part(address)}#{number}", None)
    if not counters.take_attempt(attempt.counter, LINK_CODE_FAILURES_PER_ADDRESS, forget_after):
        raise TooManyRequests(f"Too many wrong link codes: try again in {retry_after} seconds.",
                              retry_after=retry_after)
    return attempt


# -- sessions -------------------------------------------------------------------

def _session(user: User, now: datetime) -> dict:
    """A new token for the user, as login and a password change answer it."""
    key = users.ensure_token_key(user, new_token_key())  # a write only for accounts made before keys
    token, expires = issue_token(user.id, user.token_version, key, now, get_settings())
    return {"token": token,
            "user": {"id": user.id, "username": user.username, "role": user.role,
                     "patient_id": user.patient_id, "doctor_id": user.doctor_id},
            "expires_at": iso_instant(expires)}


def login(username: str, password: str, address: str | None = None) -> dict:
    """Check credentials and issue a token.

    A known and an unknown username do the same work (the same reads, one password
    check, the same counting), so neither the answer nor its timing tells which exist.
    Failures are throttled per username and client address (see LOGIN_FAILURES_*).
    """
    now = clock.now()
    attempt = _take_login_attempt(username, address, now)
    user = users.get_by_username(username)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("Unable to log in with provided credentials.")
    attempt.give_back()
    if not user.is_active:
        raise Unauthenticated("This account is inactive.")
    return _session(user, now)


def logout(user: User) -> None:
    """Revoke every token the user holds."""
    users.bump_token_version(user.id)


def change_password(actor: User, old_password: str, new_password: str, address: str | None = None) -> dict:
    """The caller changes their own password: every older token stops working, and the answer
    carries a new one. A wrong old password counts as a failed login for the account."""
    check_password_rules(new_password, actor.username, "new_password")
    now = clock.now()
    attempt = _take_login_attempt(actor.username, address, now)
    if not verify_password(actor.password_hash, old_password):
        raise ValidationFailed.field("old_password", "The old password is not correct.")
    attempt.give_back()
    new_hash = hash_password(new_password)

    def change(before: User) -> User:
        if before.password_hash != actor.password_hash:
            raise ValidationFailed.field("old_password", "The password was changed meanwhile; log in again.")
        return replace(before, password_hash=new_hash, token_version=before.token_version + 1)

    user = edit(lambda: found(users.get(actor.id), "user", actor.id), change, users.save_changes, _TAKEN)
    return _session(user, now)


# -- registration -------------------------------------------------------------

def register(actor: User | None, data: dict, address: str | None = None) -> User:
    """Create an account, and the patient or doctor record its role needs.

    Anyone may register a patient; only an admin creates staff, doctors and admins.
    A patient with a record made at the desk links to it with its link code.
    """
    role = data.get("role", PATIENT)
    if role != PATIENT and (actor is None or not is_admin(actor)):
        raise Forbidden("Only an admin can register a user with the role %r." % role)
    check_password_rules(data["password"], data["username"])
    if role == PATIENT and data.get("date_of_birth") is None:
        raise ValidationFailed.field("date_of_birth", "This field is required for a patient.")
    check_birth_date(data)
    if role != DOCTOR:
        for name in ("specialty", "department"):
            if name in data:
                raise ValidationFailed.field(name, "Only a doctor has a %s." % name)
    if role != PATIENT and "link_code" in data:
        raise ValidationFailed.field("link_code", "Only a patient account is linked to a patient record.")
    # The code is checked before anything is spent on the account (an id, a password hash).
    link = _check_link_code(data["link_code"], address) if "link_code" in data else None

    now = iso_instant(clock.now())
    user = User(
        id=stores().ids.next_id("user"), username=data["username"], email=data["email"], role=role,
        password_hash=hash_password(data["password"]), date_of_birth=data.get("date_of_birth"),
        first_name=data.get("first_name", ""), last_name=data.get("last_name", ""),
        is_active=True, date_joined=now, token_key=new_token_key(),
    )
    if link is not None:
        return _register_linked(user, *link)
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
        raise_taken(exc, taken(exc) if callable(taken) else taken)
    return user


def _display_name(user: User) -> str:
    return " ".join(part for part in (user.first_name, user.last_name) if part) or user.username


def _held_by_unlinked_record(email: str) -> bool:
    owner = patients.id_by_email(email)
    record = patients.get(owner) if owner is not None else None
    return record is not None and record.user_id is None


def _register_patient(user: User, now: str) -> User:
    """A new account with a new patient record. An email that a record without an account
    holds (a walk-in, or a record whose account was deleted) never links to it: the
    patient is asked for the record's link code instead."""
    patient = Patient(
        id=stores().ids.next_id("patient"), name=_display_name(user), email=user.email, phone=None,
        date_of_birth=user.date_of_birth, user_id=user.id, created_at=now,
    )

    def taken(exc: ConditionFailed) -> dict:
        if "patient-email" in exc.labels and _held_by_unlinked_record(user.email):
            # Bad data rather than a conflict: this request, as sent, can never succeed.
            return {**_TAKEN, "patient-email": Missing("email", ASK_THE_DESK)}
        return _TAKEN

    return _commit_new_user(replace(user, patient_id=patient.id), lambda tx: patients.stage_new_patient(tx, patient),
                            taken)


def _check_link_code(text: str, address: str | None) -> tuple[Patient, str, str]:
    """The record a link code opens, the code's hash and the instant it was checked at; 400 on
    link_code if it is wrong, expired or used, 429 after too many wrong ones from the address.

    The code is looked up by its hash and compared with the record's in constant time.
    """
    now = clock.now()
    attempt = _take_link_code_attempt(address, now)
    code = normalize_link_code(text)
    code_hash = link_code_hash(code, get_settings()) if code else None
    owner = patients.id_by_link_code(code_hash) if code_hash else None
    record = patients.get(owner) if owner is not None else None
    if (record is None or record.user_id is not None or not same_secret(record.link_code_hash, code_hash)
            or (record.link_code_expires_at or "") <= iso_instant(now)):
        raise ValidationFailed.field("link_code", BAD_LINK_CODE)
    attempt.give_back()
    return record, code_hash, iso_instant(now)


def _register_linked(user: User, record: Patient, code_hash: str, checked_at: str) -> User:
    """A new account linked to the record its link code was made for; the code is used up.

    The link is written only if the record is still unlinked and the code still its own and
    unexpired, in the same transaction as the account: of two registrations racing for one
    code, one wins.
    """
    return _commit_new_user(replace(user, patient_id=record.id),
                            lambda tx: patients.stage_link_user(tx, record.id, user.id, code_hash, checked_at))


def _register_doctor(user: User, data: dict) -> User:
    department_id = data.get("department")
    if department_id is None:
        department_id = ensure_department(DEFAULT_DEPARTMENT)
    doctor = Doctor(id=stores().ids.next_id("doctor"), name=_display_name(user),
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
        id=stores().ids.next_id("user"), username=username, email=email, role=ADMIN,
        password_hash=hash_password(password), date_of_birth=None, first_name="", last_name="",
        is_active=True, date_joined=iso_instant(clock.now()), token_key=new_token_key(),
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
    """Edit a profile. Role, is_active and the password change only by an admin.

    `read_changes` gives the validated changes; it is called only once the caller
    may edit this profile, so a stranger is told 403 before anything about the body.
    A new password (admin only) ends every token the user holds.
    """
    check_profile_access(actor, user_id)
    changes = read_changes()
    check_birth_date(changes)
    new_hash = None
    if "password" in changes:
        if not is_admin(actor):  # the API does not take it from others either
            raise ValidationFailed.field("password", "Unknown field.")
        new_hash = hash_password(changes["password"])  # once: argon2 is slow on purpose

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
        if new_hash is not None:
            check_password_rules(changes["password"], after.username)
            after = replace(after, password_hash=new_hash)
        # A new role, a deactivation or a new password ends the user's sessions: they log in again.
        if (before.role, before.is_active) != (after.role, after.is_active) or new_hash is not None:
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
