"""New accounts, with the patient or doctor record their role needs, and the bootstrap admin."""
from __future__ import annotations

from dataclasses import replace

from chalicelib.domain import clock
from chalicelib.domain.accounts.rules import check_password_rules
from chalicelib.domain.accounts.throttling import count_wrong_link_code, take_registration
from chalicelib.domain.commands import Registration
from chalicelib.domain.departments import ensure_department
from chalicelib.domain.doctors import department_missing
from chalicelib.domain.entities import Doctor, Patient, PatientLink, User
from chalicelib.domain.patients import check_birth_date
from chalicelib.domain.permissions import ADMIN, DOCTOR, PATIENT, is_admin
from chalicelib.domain.security import hash_password, link_code_hash, new_token_key, normalize_link_code, same_secret
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import ConditionFailed, Forbidden, Missing, ValidationFailed, raise_taken
from chalicelib.settings import get_settings

DEFAULT_DEPARTMENT = "General Medicine"
DEFAULT_SPECIALTY = "General Practice"
BAD_LINK_CODE = "This link code is not valid: it is wrong, expired or already used. Ask the desk for a new one."
# One answer for an email in use, whoever holds it (an account, a walk-in's record): registration
# never tells a stranger whether somebody is a patient of the clinic.
EMAIL_TAKEN = ("email", "This email is already in use. If you are a patient of the clinic, ask the desk for "
                        "your link code and register with it as link_code.")

TAKEN = {
    "username": ("username", "A user with that username already exists."),
    "email": EMAIL_TAKEN,
    "patient-email": EMAIL_TAKEN,
    "patient-link": Missing("link_code", BAD_LINK_CODE),
}


def register(actor: User | None, account: Registration, address: str | None = None) -> User:
    """Create an account, and the patient or doctor record its role needs.

    Anyone may register a patient; only an admin creates staff, doctors and admins.
    A patient with a record made at the desk links to it with its link code. Registrations
    without an admin's login are throttled per client address (429 with Retry-After).
    """
    if actor is None or not is_admin(actor):
        take_registration(address, clock.now())
    if account.role != PATIENT and (actor is None or not is_admin(actor)):
        raise Forbidden("Only an admin can register a user with the role %r." % account.role)
    check_password_rules(account.password, account.username)
    check_birth_date(account.date_of_birth)
    # The code is checked before anything is spent on the account (an id, a password hash).
    link = _check_link_code(account.link_code, address) if account.link_code is not None else None

    # Every registration that gets this far does the same work (the hash, the ids, one conditional
    # write), whether or not its email is taken and by whom: the answer's timing tells nothing.
    password_hash = hash_password(account.password)
    now = iso_instant(clock.now())
    user = User(
        id=stores().ids.next_id("user"), username=account.username, email=account.email, role=account.role,
        password_hash=password_hash, date_of_birth=account.date_of_birth,
        first_name=account.first_name, last_name=account.last_name,
        is_active=True, date_joined=now, token_key=new_token_key(),
    )
    if link is not None:
        return _write(replace(user, patient_id=link.patient_id), link=link)
    if account.role == PATIENT:
        return _register_patient(user, now)
    if account.role == DOCTOR:
        return _register_doctor(user, account)
    return _write(user)


def _write(user: User, taken=TAKEN, **record) -> User:
    """Write the account with its record (patient=, doctor= or link=); a lost uniqueness or check
    is answered as `taken` (a map, or a function of the failure giving one) says."""
    try:
        stores().users.register(user, **record)
    except ConditionFailed as exc:
        raise_taken(exc, taken(exc) if callable(taken) else taken)
    return user


def _display_name(user: User) -> str:
    return " ".join(part for part in (user.first_name, user.last_name) if part) or user.username


def _register_patient(user: User, now: str) -> User:
    """A new account with a new patient record. An email that a record holds (a walk-in, or a
    record whose account was deleted) never links to it, and gets the answer an account's email
    gets (EMAIL_TAKEN, which asks a patient for the record's link code)."""
    patient = Patient(
        id=stores().ids.next_id("patient"), name=_display_name(user), email=user.email, phone=None,
        date_of_birth=user.date_of_birth, user_id=user.id, created_at=now,
    )
    return _write(replace(user, patient_id=patient.id), patient=patient)


def _check_link_code(text: str, address: str | None) -> PatientLink:
    """The link to the record a link code opens; 400 on link_code if it is wrong, expired or used,
    429 after too many wrong ones from the address or from all addresses.

    The code is looked up by its hash and compared with the record's in constant time. It is
    checked before anything is counted: a right code is never refused because of wrong ones
    (a neighbour's on a shared address, or a stranger's); only wrong ones are counted.
    """
    now = clock.now()
    code = normalize_link_code(text)
    code_hash = link_code_hash(code, get_settings()) if code else None
    patients = stores().patients
    owner = patients.id_by_link_code(code_hash) if code_hash else None
    record = patients.get(owner) if owner is not None else None
    if (record is None or record.user_id is not None or not same_secret(record.link_code_hash, code_hash)
            or (record.link_code_expires_at or "") <= iso_instant(now)):
        count_wrong_link_code(address, now)  # 429 once this address, or all, guessed wrong too often
        raise ValidationFailed.field("link_code", BAD_LINK_CODE)
    # Written only if the record is still unlinked and the code still its own and unexpired, in the
    # same transaction as the account: of two registrations racing for one code, one wins.
    return PatientLink(record.id, code_hash, iso_instant(now))


def _register_doctor(user: User, account: Registration) -> User:
    department_id = account.department
    if department_id is None:
        department_id = ensure_department(DEFAULT_DEPARTMENT)
    doctor = Doctor(id=stores().ids.next_id("doctor"), name=_display_name(user),
                    specialty=account.specialty or DEFAULT_SPECIALTY, department=department_id, user_id=user.id)
    return _write(replace(user, doctor_id=doctor.id), {**TAKEN, **department_missing(department_id)}, doctor=doctor)


def ensure_admin(username: str, email: str, password: str) -> tuple[User, bool]:
    """The bootstrap admin: created if no user has that username. Returns (user, created)."""
    found = stores().users.get_by_username(username)
    if found is not None:
        return found, False
    check_password_rules(password, username)
    user = User(
        id=stores().ids.next_id("user"), username=username, email=email, role=ADMIN,
        password_hash=hash_password(password), date_of_birth=None, first_name="", last_name="",
        is_active=True, date_joined=iso_instant(clock.now()), token_key=new_token_key(),
    )
    return _write(user), True
