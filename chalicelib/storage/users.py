"""User accounts. The model stays here; callers get `User` dataclasses."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError

from chalicelib.domain.entities import Page, User
from chalicelib.domain.values import iso_date, parse_date
from chalicelib.errors import ConditionFailed, retry_on_conflict
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.claims import owner_of, stage_claim, stage_move, stage_release, unique_key
from chalicelib.storage.counters import CounterModel
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import (
    CONDITION_FAILED,
    TRANSACTION_CONFLICT,
    Transaction,
    cause,
    get_or_none,
    update_unless,
)

KIND = "user"
ACTIVE_ADMINS = "active-admins"
# What an unknown username is read as: the first account (normally the bootstrap admin),
# whose item is then dropped. A login for a name nobody has thus reads a user-sized item,
# as one for a known name does, and takes as long.
STAND_IN_ID = 1


@register
class UserModel(StoredModel):
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
    # Drawn when the account is made; its tokens carry it. Absent on accounts made before it existed.
    token_key = UnicodeAttribute(null=True)

    by_kind = kind_id_index()


def username_key(username: str) -> str:
    return unique_key("user-username", username)


def email_key(email: str) -> str:
    return unique_key("user-email", email)


def _optional_int(value) -> int | None:
    return int(value) if value is not None else None


def _to_user(item: UserModel) -> User:
    return User(
        id=int(item.id), username=item.username, email=item.email, role=item.role,
        password_hash=item.password_hash, date_of_birth=parse_date(item.date_of_birth),
        first_name=item.first_name or "", last_name=item.last_name or "",
        is_active=bool(item.is_active), date_joined=item.date_joined,
        token_version=int(item.token_version or 0),
        patient_id=_optional_int(item.patient_id), doctor_id=_optional_int(item.doctor_id),
        token_key=item.token_key or "",
    )


def _to_model(user: User) -> UserModel:
    return UserModel(
        user.id, kind=KIND, username=user.username, email=user.email, role=user.role,
        password_hash=user.password_hash, date_of_birth=iso_date(user.date_of_birth),
        first_name=user.first_name, last_name=user.last_name, is_active=user.is_active,
        date_joined=user.date_joined, token_version=user.token_version,
        patient_id=user.patient_id, doctor_id=user.doctor_id, token_key=user.token_key or None,
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


def _unchanged_state(user: User):
    """The stored role and active state are still what the caller read."""
    return UserModel.id.exists() & (UserModel.role == user.role) & (UserModel.is_active == user.is_active)


def stage_new_user(tx: Transaction, user: User) -> None:
    """Add a new user and its username and email claims to a transaction."""
    stage_claim(tx, "username", username_key(user.username), user.id)
    stage_claim(tx, "email", email_key(user.email), user.id)
    tx.put("user", _to_model(user), UserModel.id.does_not_exist())
    _stage_admin_count(tx, 1 if _is_active_admin(user) else 0)


def get(user_id: int) -> User | None:
    """The user with this id, or None (strongly consistent)."""
    item = get_or_none(UserModel, user_id)
    return _to_user(item) if item else None


def get_by_username(username: str) -> User | None:
    """Look a user up by username, without regard to case.

    Two strongly consistent reads whether the username exists or not (its claim, then
    the user, or a stand-in user that is dropped), so the time it takes does not tell.
    """
    owner = owner_of(username_key(username))
    user = get(owner if owner is not None else STAND_IN_ID)
    return user if owner is not None else None


def ensure_token_key(user: User, key: str) -> str:
    """The account's token key: `key`, stored now if the account has none yet (made before keys
    existed), else the one it has. Two logins racing to store one agree on the stored one."""
    if user.token_key:
        return user.token_key
    condition = UserModel.id.exists() & UserModel.token_key.does_not_exist()
    for _ in range(3):
        if update_unless(UserModel(user.id), [UserModel.token_key.set(key)], condition):
            return key
        stored = get(user.id)
        if stored is None:
            break
        if stored.token_key:
            return stored.token_key
    raise ConditionFailed([ConditionFailed.CONFLICT])


def list_page(limit: int, cursor: str | None) -> Page:
    """A page of all users in id order (one Query on the kind index)."""
    return query_page(UserModel, UserModel.by_kind, "users", limit, cursor, _to_user, hash_key=KIND)


def save_changes(before: User, after: User) -> None:
    """Write an edited user, moving username/email claims when they change.

    The write is conditional on the stored role and active state being what the
    caller read, so a concurrent demotion or deactivation is never overwritten.
    A higher token_version than before ends every token the user holds, in the same write.
    """
    with Transaction() as tx:
        stage_move(tx, "username", username_key(before.username), username_key(after.username), after.id)
        stage_move(tx, "email", email_key(before.email), email_key(after.email), after.id)
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
        condition = _unchanged_state(before)
        if after.password_hash != before.password_hash:
            # Never over another password set meanwhile.
            actions.append(UserModel.password_hash.set(after.password_hash))
            condition &= UserModel.password_hash == before.password_hash
        if after.token_version != before.token_version:
            actions.append(UserModel.token_version.add(1))
            condition &= UserModel.token_version == before.token_version
        tx.update("user", UserModel(after.id), actions, condition)
        _stage_admin_count(tx, int(_is_active_admin(after)) - int(_is_active_admin(before)))


def bump_token_version(user_id: int) -> None:
    """Revoke every token the user holds (one atomic ADD; again if a transaction held the user)."""
    def attempt() -> None:
        try:
            UserModel(user_id).update(actions=[UserModel.token_version.add(1)], condition=UserModel.id.exists())
        except UpdateError as exc:
            if cause(exc) == TRANSACTION_CONFLICT:
                raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
            if cause(exc) != CONDITION_FAILED:  # deleted meanwhile: nothing left to revoke
                raise

    retry_on_conflict(attempt)


def stage_delete(tx: Transaction, user: User) -> None:
    """Add the removal of an account and its claims to a transaction."""
    tx.delete("user", UserModel(user.id), _unchanged_state(user))
    stage_release(tx, "username", username_key(user.username))
    stage_release(tx, "email", email_key(user.email))
    _stage_admin_count(tx, -1 if _is_active_admin(user) else 0)

