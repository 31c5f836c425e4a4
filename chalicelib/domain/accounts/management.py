"""Users: reading, listing, editing and deleting accounts."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain.accounts.rules import check_password_rules
from chalicelib.domain.commands import ProfileChanges, given
from chalicelib.domain.conflicts import BUSY, edit
from chalicelib.domain.entities import Page, User, UserFilters
from chalicelib.domain.patients import EMAIL_IN_USE, check_birth_date
from chalicelib.domain.permissions import NOT_ALLOWED, PATIENT, is_admin
from chalicelib.domain.security import hash_password
from chalicelib.domain.stores import stores
from chalicelib.errors import (
    ConditionFailed,
    Conflict,
    Forbidden,
    ValidationFailed,
    existing,
    raise_taken,
    retry_on_conflict,
)

TAKEN = {
    "username": ("username", "A user with that username already exists."),
    "email": ("email", "A user with that email already exists."),
    "last-admin": ("role", "The last active admin cannot be removed, deactivated or demoted."),
}
# Anyone but an admin edits only their own account: an email an account or a patient record holds
# gets the self-service answer (patients.EMAIL_IN_USE).
OWN_TAKEN = {**TAKEN, "email": ("email", EMAIL_IN_USE), "patient-email": ("email", EMAIL_IN_USE)}
PROFILE = ("username", "email", "first_name", "last_name", "date_of_birth", "role", "is_active")


def check_profile_access(actor: User, user_id: int) -> None:
    """Users see and edit their own profile; an admin sees and edits all."""
    if actor.id != user_id and not is_admin(actor):
        raise Forbidden(NOT_ALLOWED)


def get_user(actor: User, user_id: int) -> User:
    """A user's profile: their own, or anyone's for an admin."""
    check_profile_access(actor, user_id)
    return existing(stores().users.get(user_id), "user", user_id)


def list_users(limit: int, cursor: str | None, filters: UserFilters | None = None) -> Page:
    """All accounts, or those meeting the admin's filters."""
    if filters is not None and filters.any():
        return stores().users.filtered_page(filters, limit, cursor)
    return stores().users.list_page(limit, cursor)


def update_user(actor: User, user_id: int, read_changes: Callable[[], ProfileChanges]) -> User:
    """Edit a profile. Role and is_active change only by an admin (the password too: only an
    admin's schema has it).

    `read_changes` gives the validated changes; it is called only once the caller
    may edit this profile, so a stranger is told 403 before anything about the body.
    A new role, a deactivation or a new password ends every token the user holds.
    """
    check_profile_access(actor, user_id)
    changes = given(read_changes())
    check_birth_date(changes.get("date_of_birth"))
    new_hash = hash_password(changes["password"]) if "password" in changes else None  # once: argon2 is slow

    def change(before: User) -> User:
        privileged = {name for name in ("role", "is_active") if name in changes
                      and changes[name] != getattr(before, name)}
        if privileged and not is_admin(actor):
            raise Forbidden("Only an admin can change %s." % " and ".join(sorted(privileged)))
        after = replace(before, **{name: changes[name] for name in PROFILE if name in changes})
        if after.role == PATIENT and after.date_of_birth is None and before.date_of_birth is not None:
            raise ValidationFailed.field("date_of_birth", "This field is required for a patient.")
        if new_hash is not None:
            check_password_rules(changes["password"], after.username)
            after = replace(after, password_hash=new_hash)
        if (before.role, before.is_active) != (after.role, after.is_active) or new_hash is not None:
            after = replace(after, token_version=before.token_version + 1)
        return after

    own = not is_admin(actor)  # anyone else edits only their own account (check_profile_access)
    return edit(lambda: get_user(actor, user_id), change,
                lambda before, after: stores().users.save_changes(before, after, exclusive=own),
                OWN_TAKEN if own else TAKEN)


def delete_user(actor: User, user_id: int) -> None:
    """Remove an account and its tokens; its patient or doctor record stays, unlinked."""
    users = stores().users

    def attempt() -> None:
        user = existing(users.get(user_id), "user", user_id)
        try:
            users.delete(user)
        except ConditionFailed as exc:
            if exc.labels == ["user"]:  # changed meanwhile: read again
                raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
            raise_taken(exc, TAKEN)

    try:
        retry_on_conflict(attempt)
    except ConditionFailed:
        raise Conflict(BUSY) from None
