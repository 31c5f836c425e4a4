"""Password reset codes: one item per email address, keyed by a keyed hash of the address, holding
only a keyed hash of the code. An address no account has gets an item too (without a user), so a
request does the same reads and writes whoever asks."""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.domain.entities import User
from chalicelib.domain.ports.password_resets import ResetCode
from chalicelib.domain.values import optional_int
from chalicelib.storage import users
from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.transactions import Transaction, get_or_none
from chalicelib.storage.uniques import owner_of
from chalicelib.storage.users import UserModel


@register
class PasswordResetModel(StoredModel):
    class Meta:
        table_suffix = "password-resets"
        ttl_attribute = "expires_at"

    address = UnicodeAttribute(hash_key=True)  # HMAC of the lowercased email: never the address itself
    user_id = NumberAttribute(null=True)
    code_hash = UnicodeAttribute(null=True)  # removed when spent
    expires_at = TTLAttribute()


def account_for_email(email: str) -> User | None:
    """Two strongly consistent reads whether an account has the email or not (its claim, then the
    account, or the stand-in account that is dropped), as storage.users.get_by_username does."""
    owner = owner_of(users.email_key(email))
    user = users.get(owner if owner is not None else users.STAND_IN_ID)
    return user if owner is not None else None


def issue(address_key: str, user_id: int | None, code_hash: str, expires_at: datetime) -> None:
    """One PutItem: the new code replaces (voids) any older one of the address."""
    PasswordResetModel(address_key, user_id=user_id, code_hash=code_hash, expires_at=expires_at).save()


def get(address_key: str) -> ResetCode | None:
    item = get_or_none(PasswordResetModel, address_key)
    if item is None:
        return None
    return ResetCode(user_id=optional_int(item.user_id), code_hash=item.code_hash, expires_at=item.expires_at)


def spend(address_key: str, code_hash: str, before: User, password_hash: str, now: datetime) -> None:
    """Spend the code and set the password in one transaction; the token version moves with it."""
    with Transaction() as tx:
        tx.update("code", PasswordResetModel(address_key), [PasswordResetModel.code_hash.remove()],
                  (PasswordResetModel.code_hash == code_hash) & (PasswordResetModel.user_id == before.id)
                  & (PasswordResetModel.expires_at > now))
        tx.update("user", UserModel(before.id),
                  [UserModel.password_hash.set(password_hash), UserModel.token_version.add(1)],
                  UserModel.id.exists() & (UserModel.password_hash == before.password_hash)
                  & (UserModel.token_version == before.token_version) & (UserModel.is_active == True))  # noqa: E712
