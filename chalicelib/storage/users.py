"""User accounts. The model stays here; callers get `User` dataclasses."""
from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.domain.entities import Doctor, Page, Patient, PatientLink, User, UserFilters
from chalicelib.domain.values import iso_date, optional_int, parse_date
from chalicelib.errors import ConditionFailed, retry_on_conflict
from chalicelib.storage import doctors, patients
from chalicelib.storage.binding import StoredModel, kind_id_index, register
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
from chalicelib.storage.uniques import (
    account_email_key,
    check_unheld,
    move_unique,
    owner_of,
    put_unique,
    release_unique,
    unique_key,
)

KIND = "user"
ACTIVE_ADMINS = "active-admins"
# What an unknown username is read as: the first account (normally the bootstrap admin),
# whose item is then dropped. A login for a name nobody has thus reads a user-sized item,
# as one for a known name does, and takes as long.
STAND_IN_ID = 1


class _UsersByUsername(GlobalSecondaryIndex):
    """Every account under one key (its `kind`) in lowercased-username order: the admin's prefix
    filter is one Query with begins_with."""

    class Meta:
        index_name = "kind-username-index"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    username_lower = UnicodeAttribute(range_key=True)


class _UsersByEmail(GlobalSecondaryIndex):
    """The same in lowercased-email order."""

    class Meta:
        index_name = "kind-email-index"
        projection = AllProjection()

    kind = UnicodeAttribute(hash_key=True)
    email_lower = UnicodeAttribute(range_key=True)


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
    # The username and email lowercased, for the admin's prefix filters (GET /users/?username=&email=).
    username_lower = UnicodeAttribute(null=True)
    email_lower = UnicodeAttribute(null=True)

    by_kind = kind_id_index()
    by_username = _UsersByUsername()
    by_email = _UsersByEmail()


def username_key(username: str) -> str:
    return unique_key("user-username", username)


def email_key(email: str) -> str:
    return account_email_key(email)


def _to_user(item: UserModel) -> User:
    return User(
        id=int(item.id), username=item.username, email=item.email, role=item.role,
        password_hash=item.password_hash, date_of_birth=parse_date(item.date_of_birth),
        first_name=item.first_name or "", last_name=item.last_name or "",
        is_active=bool(item.is_active), date_joined=item.date_joined,
        token_version=int(item.token_version or 0),
        patient_id=optional_int(item.patient_id), doctor_id=optional_int(item.doctor_id),
        token_key=item.token_key or "",
    )


def _lowered(user: User) -> dict[str, str]:
    """What the admin's prefix filters find an account by (its indexes' sort keys): the username and
    email lowercased."""
    return {"username_lower": user.username.lower(), "email_lower": user.email.lower()}


def _to_model(user: User) -> UserModel:
    return UserModel(
        user.id, kind=KIND, username=user.username, email=user.email, role=user.role,
        password_hash=user.password_hash, date_of_birth=iso_date(user.date_of_birth),
        first_name=user.first_name, last_name=user.last_name, is_active=user.is_active,
        date_joined=user.date_joined, token_version=user.token_version,
        patient_id=user.patient_id, doctor_id=user.doctor_id, token_key=user.token_key or None,
        **_lowered(user),
    )


def _is_active_admin(user: User) -> bool:
    return user.role == "admin" and user.is_active


def _count_admins(tx: Transaction, delta: int) -> None:
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


def _put_new(tx: Transaction, user: User) -> None:
    """Put a new user, its username and its email in a transaction."""
    put_unique(tx, "username", username_key(user.username), user.id)
    put_unique(tx, "email", email_key(user.email), user.id)
    tx.put("user", _to_model(user), UserModel.id.does_not_exist())
    _count_admins(tx, 1 if _is_active_admin(user) else 0)


def register(user: User, *, patient: Patient | None = None, doctor: Doctor | None = None,
             link: PatientLink | None = None) -> None:
    """Write a new account with its username and email and the record its role needs, in one
    transaction: a new patient record, a new doctor record (in an existing, active department),
    or the link to a record made at the desk (its link code is used up).

    Raises ConditionFailed labelled "username", "email", "patient-email", "link-code",
    "department" or "patient-link" (the record was linked, or its code changed or expired).
    """
    with Transaction() as tx:
        _put_new(tx, user)
        if patient is not None:
            patients.put_new(tx, patient)
        if doctor is not None:
            doctors.put_new(tx, doctor)
        if link is not None:
            patients.link_user(tx, link, user.id)


def _set_lowered(user: User) -> list:
    """The update actions that write _lowered(user)."""
    return [getattr(UserModel, name).set(value) for name, value in _lowered(user).items()]


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


def save_changes(before: User, after: User, exclusive: bool = False) -> None:
    """Write an edited user, moving username/email claims when they change; when `exclusive` (its
    owner's own edit), a new email must also be on no patient record but the account's own
    (ConditionFailed labelled "patient-email").

    The write is conditional on the stored role and active state being what the
    caller read, so a concurrent demotion or deactivation is never overwritten.
    A higher token_version than before ends every token the user holds, in the same write.
    """
    with Transaction() as tx:
        move_unique(tx, "username", username_key(before.username), username_key(after.username), after.id)
        move_unique(tx, "email", email_key(before.email), email_key(after.email), after.id)
        if exclusive and email_key(before.email) != email_key(after.email):
            check_unheld(tx, "patient-email", patients.email_key(after.email), after.patient_id)
        actions = [
            UserModel.username.set(after.username),
            UserModel.email.set(after.email),
            *_set_lowered(after),
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
        _count_admins(tx, int(_is_active_admin(after)) - int(_is_active_admin(before)))


def revoke_tokens(user_id: int) -> None:
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


def delete(user: User) -> None:
    """Remove an account, its username and email, and the links its patient and doctor records have
    to it (the records stay), if its role and active state are still as read.

    Raises ConditionFailed labelled "user" (changed or gone meanwhile) or "last-admin".
    """
    linked_patient = user.patient_id is not None and patients.get(user.patient_id) is not None
    linked_doctor = user.doctor_id is not None and doctors.get(user.doctor_id) is not None
    with Transaction() as tx:
        tx.delete("user", UserModel(user.id), _unchanged_state(user))
        release_unique(tx, "username", username_key(user.username))
        release_unique(tx, "email", email_key(user.email))
        _count_admins(tx, -1 if _is_active_admin(user) else 0)
        if linked_patient:
            patients.unlink_user(tx, user.patient_id)
        if linked_doctor:
            doctors.unlink_user(tx, user.doctor_id)



def filtered_page(filters: UserFilters, limit: int, cursor: str | None) -> Page:
    """A page of the accounts meeting the admin's filters, from ONE Query: `username` (else `email`) is a
    prefix, without regard to case, of the lowercased value's index; the rest filter the page read (so a
    page may hold fewer than `limit` while `next` leads on)."""
    conditions = []
    if filters.role is not None:
        conditions.append(UserModel.role == filters.role)
    if filters.is_active is not None:
        conditions.append(UserModel.is_active == filters.is_active)
    if filters.username is not None and filters.email is not None:
        conditions.append(UserModel.email_lower.startswith(filters.email.lower()))
    filter_condition = None
    for condition in conditions:
        filter_condition = condition if filter_condition is None else filter_condition & condition
    if filters.username is not None:
        index, range_condition = UserModel.by_username, UserModel.username_lower.startswith(filters.username.lower())
    elif filters.email is not None:
        index, range_condition = UserModel.by_email, UserModel.email_lower.startswith(filters.email.lower())
    else:
        index, range_condition = UserModel.by_kind, None
    scope = "users:" + ":".join(str(part) for part in filters)
    return query_page(UserModel, index, scope, limit, cursor, _to_user, hash_key=KIND,
                      range_key_condition=range_condition, filter_condition=filter_condition)


def index_batch(after_id: int | None, limit: int) -> tuple[int, int, int | None]:
    """One batch of the prefix indexes' backfill, for accounts written before they existed.

    Reads up to `limit` accounts after `after_id` in id order (one Query of the kind index); an account
    lacking the lowercased values _lowered gives (the rule the writes use) is written them, in one
    UpdateItem conditional on its username and email being as read (an edit in between writes them
    itself). Accounts already indexed are only read, so running it again writes nothing.
    Returns (accounts read, accounts given their index values, the last id read or None when none was left).
    """
    condition = UserModel.id > after_id if after_id is not None else None
    items = list(UserModel.by_kind.query(KIND, condition, limit=limit))
    indexed = 0
    for item in items:
        user = _to_user(item)
        if all(getattr(item, name) == value for name, value in _lowered(user).items()):
            continue
        as_read = UserModel.id.exists() & (UserModel.username == user.username) & (UserModel.email == user.email)
        if retry_on_conflict(lambda user=user, as_read=as_read: _update_or_conflict(user, as_read)):
            indexed += 1
    return len(items), indexed, int(items[-1].id) if items else None


def _update_or_conflict(user: User, as_read) -> bool:
    """Write an account's lowercased values if it is as read: True if written, False if it changed
    (its edit wrote them); ConditionFailed(CONFLICT) when a transaction held it (to be retried)."""
    try:
        UserModel(user.id).update(actions=_set_lowered(user), condition=as_read)
    except UpdateError as exc:
        if cause(exc) == TRANSACTION_CONFLICT:
            raise ConditionFailed([ConditionFailed.CONFLICT]) from exc
        if cause(exc) == CONDITION_FAILED:
            return False
        raise
    return True
