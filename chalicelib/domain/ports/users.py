"""User accounts."""
from __future__ import annotations

from typing import Protocol

from chalicelib.domain.entities import Doctor, Page, Patient, PatientLink, User, UserFilters


class Users(Protocol):
    def get(self, user_id: int) -> User | None:
        """The user with this id, or None (strongly consistent)."""

    def get_by_username(self, username: str) -> User | None:
        """The user with this username without regard to case, or None; as long either way."""

    def list_page(self, limit: int, cursor: str | None) -> Page:
        """A page of all users in id order."""

    def filtered_page(self, filters: UserFilters, limit: int, cursor: str | None) -> Page:
        """A page of the accounts meeting the filters (username or email by prefix without regard to case,
        role, is_active), from one read whatever the number of accounts; may hold fewer than `limit`."""

    def register(self, user: User, *, patient: Patient | None = None, doctor: Doctor | None = None,
                 link: PatientLink | None = None) -> None:
        """Write a new account with its username and email, and the record its role needs, all or nothing:
        a new `patient` record, a new `doctor` record (its department must exist and be active), or the
        `link` to a desk-made record (still unlinked, the code still its own and unexpired; the code is used up).

        ConditionFailed labels: "username", "email", "patient-email", "link-code", "department",
        "patient-link" (the link lost), "user"/"patient"/"doctor" (an id already used).
        """

    def save_changes(self, before: User, after: User, exclusive: bool = False) -> None:
        """Write an edited user if its role, active state (and password and token version, when they
        change) are still as read; usernames and emails move with it. A token_version above before's
        ends every token. When `exclusive`, a new email must also be on no patient record but the
        account's own. Labels: "username", "email", "patient-email" (when exclusive), "user" (changed
        meanwhile), "last-admin"."""

    def delete(self, user: User) -> None:
        """Remove the account, its username and email, and its links from its patient and doctor records
        (which stay), if its role and active state are still as read. Labels: "user", "last-admin"."""

    def revoke_tokens(self, user_id: int) -> None:
        """End every token the user holds (nothing to do for a user gone meanwhile)."""

    def ensure_token_key(self, user: User, key: str) -> str:
        """The account's token key: `key`, stored now if the account has none (made before keys), or the one it has."""
