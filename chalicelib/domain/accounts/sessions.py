"""Sessions: login (a token), logout (every token revoked), password changes (a new token)."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.domain import clock
from chalicelib.domain.accounts.rules import check_password_rules
from chalicelib.domain.accounts.throttling import logged_in, take_login_attempt
from chalicelib.domain.conflicts import edit
from chalicelib.domain.entities import Session, User
from chalicelib.domain.security import hash_password, issue_token, new_token_key, verify_password
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import Conflict, Unauthenticated, ValidationFailed, existing
from chalicelib.settings import get_settings

TAKEN = {"username": ("username", "A user with that username already exists."),
         "email": ("email", "A user with that email already exists.")}


def _session(user: User, now: datetime) -> Session:
    """A new token for the user, as login and a password change answer it."""
    key = stores().users.ensure_token_key(user, new_token_key())  # a write only for accounts made before keys
    token, expires = issue_token(user.id, user.token_version, key, now, get_settings())
    return Session(token=token, user=user, expires_at=iso_instant(expires))


def login(username: str, password: str, address: str | None = None) -> Session:
    """Check credentials and issue a token.

    A known and an unknown username do the same work (the same reads, one password
    check, the same counting), so neither the answer nor its timing tells which exist.
    Failures are throttled per username and client address (see throttling).
    """
    now = clock.now()
    attempt = take_login_attempt(username, address, now)
    user = stores().users.get_by_username(username)
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise Unauthenticated("Unable to log in with provided credentials.")
    attempt.give_back()
    if not user.is_active:
        raise Unauthenticated("This account is inactive.")
    logged_in(username, address, now)
    return _session(user, now)


def logout(user: User) -> None:
    """Revoke every token the user holds."""
    stores().users.revoke_tokens(user.id)


def change_password(actor: User, old_password: str, new_password: str, address: str | None = None) -> Session:
    """The caller changes their own password: every older token stops working, and the answer
    carries a new one. A wrong old password counts as a failed login for the account."""
    check_password_rules(new_password, actor.username, "new_password")
    now = clock.now()
    attempt = take_login_attempt(actor.username, address, now)
    if not verify_password(actor.password_hash, old_password):
        raise ValidationFailed.field("old_password", "The old password is not correct.")
    attempt.give_back()
    new_hash = hash_password(new_password)

    def change(before: User) -> User:
        if before.password_hash != actor.password_hash:  # a state conflict: what the caller knew is gone
            raise Conflict.field("old_password", "The password was changed meanwhile; log in again.")
        return replace(before, password_hash=new_hash, token_version=before.token_version + 1)

    users = stores().users
    user = edit(lambda: existing(users.get(actor.id), "user", actor.id), change, users.save_changes, TAKEN)
    return _session(user, now)
