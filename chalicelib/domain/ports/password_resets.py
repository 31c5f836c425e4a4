"""Password reset codes: one per email address, stored only as a keyed hash."""
from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol

from chalicelib.domain.entities import User


class ResetCode(NamedTuple):
    """The code last issued for an address: whose account it opens (None for an address no
    account has), the keyed hash of the code (None once spent) and when it expires."""
    user_id: int | None
    code_hash: str | None
    expires_at: datetime


class PasswordResets(Protocol):
    def account_for_email(self, email: str) -> User | None:
        """The account with this email without regard to case, or None; the same reads either way."""

    def issue(self, address_key: str, user_id: int | None, code_hash: str, expires_at: datetime) -> None:
        """Store the code for an address (keyed by `address_key`), replacing (voiding) any older one.
        Written alike whether an account has the address (`user_id`) or not (None)."""

    def get(self, address_key: str) -> ResetCode | None:
        """The code last issued for the address, or None (strongly consistent)."""

    def spend(self, address_key: str, code_hash: str, before: User, password_hash: str, now: datetime) -> None:
        """In one transaction: spend the code (still this hash, unspent, unexpired at `now`) and set the
        account's password, ending every token it holds (its password and token version still as read).
        ConditionFailed labels: "code" (spent, replaced or expired meanwhile), "user" (changed or gone)."""
