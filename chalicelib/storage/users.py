"""User accounts. The model stays here; callers get `User` dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.storage.base import (
    Page, Transaction, bind, iso_date, kind_id_index, parse_date, query_page, register,
)
from chalicelib.storage.counters import CounterModel, UniqueModel, claim, claim_condition, unique_key

KIND = "user"
ACTIVE_ADMINS = "active-admins"



@register
class UserModel(Model):
    class Meta:
        table_suffix = "users"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    username = UnicodeAttribute()
    email = UnicodeAttribute()
    role = UnicodeAttribute()
    password_hash = UnicodeAttribute()
    date_of_birth = UnicodeAttribute(null=True)
    first_name = UnicodeAttribute(default="")
    last_name = UnicodeAttribute(default="")
    is_active = BooleanAttribute(default=True)
    date_joined = UnicodeAttribute()
    token_version = NumberAttribute(default=0)
    patient_id = NumberAttribute(null=True)
    doctor_id = NumberAttribute(null=True)

    by_kind = kind_id_index()


@dataclass
class User:
    id: int
    username: str
    email: str
    role: str
    password_hash: str = field(repr=False)
    date_of_birth: date | None
    first_name: str
    last_name: str
    is_active: bool
    date_joined: str
    token_version: int = 0
    patient_id: int | None = None
    doctor_id: int | None = None


def username_key(username: str) -> str:
    return unique_key("user-username", username)


def email_key(email: str) -> str:
    return unique_key("user-email", email)


def _to_user(item: UserModel) -> User:
    return User(
        id=int(item.id), username=item.username, email=item.email, role=item.role,
        password_hash=item.password_hash, date_of_birth=parse_date(item.date_of_birth),
        first_name=item.first_name or "", last_name=item.last_name or "",
        is_active=bool(item.is_active), date_joined=item.date_joined,
        token_version=int(item.token_version or 0),
        patient_id=int(item.patient_id) if item.patient_id is not None else None,
        doctor_id=int(item.doctor_id) if item.doctor_id is not None else None,
    )


def _to_model(user: User) -> UserModel:
    return UserModel(
        user.id, kind=KIND, username=user.username, email=user.email, role=user.role,
        password_hash=user.password_hash, date_of_birth=iso_date(user.date_of_birth),
        first_name=user.first_name, last_name=user.last_name, is_active=user.is_active,
        date_joined=user.date_joined, token_version=user.token_version,
        patient_id=user.patient_id, doctor_id=user.doctor_id,
    )


def _is_active_admin(user: User) -> bool:
    return user.role == "admin" and user.is_active


def _stage_admin_count(tx: Transaction, delta: int) -> None:
    """Keep the count of active admins in step; it never drops below one.

    The count is a counter item changed in the same transaction as the user,
    so two admins demoting each other at once cannot leave the clinic with none.
    """
    if delta > 0:
        tx.update("admin-count", CounterModel(ACTIVE_ADMINS), [CounterModel.value.add(delta)])
    elif delta < 0:
        tx.update("last-admin", CounterModel(ACTIVE_ADMINS), [CounterModel.value.add(delta)],
                  CounterModel.value > -delta)


def stage_new_user(tx: Transaction, user: User) -> None:
    """Add a new user and its username and email claims to a transaction."""
    tx.put("username", claim(username_key(user.username), user.id), claim_condition())
    tx.put("email", claim(email_key(user.email), user.id), claim_condition())
    tx.put("user", _to_model(user), UserModel.id.does_not_exist())
    _stage_admin_count(tx, 1 if _is_active_admin(user) else 0)


def get(user_id: int) -> User | None:
    """The user with this id, or None (strongly consistent)."""
    bind()
    try:
        return _to_user(UserModel.get(user_id, consistent_read=True))
    except UserModel.DoesNotExist:
        return None


def get_by_username(username: str) -> User | None:
    """Look a user up by username, without regard to case."""
    bind()
    try:
        owner = UniqueModel.get(username_key(username), consistent_read=True).owner
    except UniqueModel.DoesNotExist:
        return None
    return get(int(owner))


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all users in id order (one Query on the kind index)."""
    bind()
    return query_page(UserModel.by_kind, "users", limit, cursor, _to_user, hash_key=KIND)


def save_changes(before: User, after: User, *, revoke_tokens: bool = False) -> None:
    """Write an edited user, moving username/email claims when they change.

    The write is conditional on the stored role and active state being what the
    caller read, so a concurrent demotion or deactivation is never overwritten.
    With revoke_tokens, every token the user holds stops working in the same write.
    """
    bind()
    tx = Transaction()
    if username_key(before.username) != username_key(after.username):
        tx.put("username", claim(username_key(after.username), after.id), claim_condition())
        tx.delete("old-username", UniqueModel(username_key(before.username)))
    if email_key(before.email) != email_key(after.email):
        tx.put("email", claim(email_key(after.email), after.id), claim_condition())
        tx.delete("old-email", UniqueModel(email_key(before.email)))
    condition = UserModel.id.exists() & (UserModel.role == before.role) & (
        UserModel.is_active == before.is_active)
    item = UserModel(after.id)
    actions = [
        UserModel.username.set(after.username),
        UserModel.email.set(after.email),
        UserModel.role.set(after.role),
        UserModel.first_name.set(after.first_name),
        UserModel.last_name.set(after.last_name),
        UserModel.is_active.set(after.is_active),
    ]
    if after.date_of_birth is None:
        actions.append(UserModel.date_of_birth.remove())
    else:
        actions.append(UserModel.date_of_birth.set(iso_date(after.date_of_birth)))
    if after.password_hash != before.password_hash:
        actions.append(UserModel.password_hash.set(after.password_hash))
    if revoke_tokens:
        actions.append(UserModel.token_version.add(1))
    tx.update("user", item, actions, condition)
    _stage_admin_count(tx, int(_is_active_admin(after)) - int(_is_active_admin(before)))
    tx.commit()


def bump_token_version(user_id: int) -> None:
    """Revoke every token the user holds (one atomic ADD)."""
    bind()
    UserModel(user_id).update(actions=[UserModel.token_version.add(1)], condition=UserModel.id.exists())


def stage_delete(tx: Transaction, user: User) -> None:
    """Add the removal of an account and its claims to a transaction."""
    tx.delete("user", UserModel(user.id), UserModel.id.exists() & (UserModel.role == user.role) & (
        UserModel.is_active == user.is_active))
    tx.delete("username", UniqueModel(username_key(user.username)))
    tx.delete("email", UniqueModel(email_key(user.email)))
    _stage_admin_count(tx, -1 if _is_active_admin(user) else 0)
