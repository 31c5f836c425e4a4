"""Password reset codes in memory, with the conditions of storage.password_resets."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from chalicelib.domain.entities import User
from chalicelib.domain.ports.password_resets import ResetCode
from tests.support.fakes.memory import MemoryDb, unique_key
from tests.support.fakes.users import STAND_IN_ID


class MemoryPasswordResets:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[str, ResetCode] = db.table("password_resets")
        self.users: dict[int, User] = db.table("users")

    def account_for_email(self, email: str) -> User | None:
        owner = self.db.uniques.get(unique_key("user-email", email))
        user = self.users.get(owner if owner is not None else STAND_IN_ID)
        return replace(user) if owner is not None and user is not None else None

    def issue(self, address_key: str, user_id: int | None, code_hash: str, expires_at: datetime) -> None:
        with self.db.lock:
            self.rows[address_key] = ResetCode(user_id, code_hash, expires_at)

    def get(self, address_key: str) -> ResetCode | None:
        return self.rows.get(address_key)

    def spend(self, address_key: str, code_hash: str, before: User, password_hash: str, now: datetime) -> None:
        def code_holds() -> bool:
            row = self.rows.get(address_key)
            return row is not None and row.code_hash == code_hash and row.user_id == before.id and row.expires_at > now

        def user_holds() -> bool:
            user = self.users.get(before.id)
            return (user is not None and user.is_active and user.password_hash == before.password_hash
                    and user.token_version == before.token_version)

        def spend_code() -> None:
            self.rows[address_key] = self.rows[address_key]._replace(code_hash=None)

        def set_password() -> None:
            user = self.users[before.id]
            self.users[before.id] = replace(user, password_hash=password_hash, token_version=user.token_version + 1)

        with self.db.transaction() as tx:
            tx.update("code", code_holds, spend_code)
            tx.update("user", user_holds, set_password)
