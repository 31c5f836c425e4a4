"""The `uniques` table: values that one owner at most may hold (a username, an email, a
doctor's time slot, a patient's place in today's queue), one item (a "unique") per value.

A unique is put in the same transaction as its owner, with a does-not-exist condition,
so two racing writers cannot both win. (Module, model and table share the one name;
the prose elsewhere may call a held unique a claim.)
"""
from __future__ import annotations

from datetime import datetime

from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.storage.binding import StoredModel, register
from chalicelib.storage.transactions import Transaction, get_or_none, read_items


@register
class UniqueModel(StoredModel):
    class Meta:
        table_suffix = "uniques"
        ttl_attribute = "expires_at"

    key = UnicodeAttribute(hash_key=True)
    owner = NumberAttribute()
    expires_at = TTLAttribute(null=True)


def unique_key(namespace: str, value: str) -> str:
    """A claim's key: the value without regard to case, within its namespace."""
    return f"{namespace}#{value.lower()}"


def put_unique(tx: Transaction, label: str, key: str, owner: int, expires_at: datetime | None = None) -> None:
    """Take a claim in a transaction; the transaction fails with `label` if someone holds it."""
    tx.put(label, UniqueModel(key, owner=owner, expires_at=expires_at), UniqueModel.key.does_not_exist())


def release_unique(tx: Transaction, label: str, key: str, owner: int | None = None) -> None:
    """Give a claim up in a transaction (only if `owner` holds it, when given; gone already is fine)."""
    condition = None if owner is None else (UniqueModel.owner == owner) | UniqueModel.key.does_not_exist()
    tx.delete(label, UniqueModel(key), condition)


def account_email_key(email: str) -> str:
    """The claim on an account's email (storage.users takes it; a patient record's own edit checks it)."""
    return unique_key("user-email", email)


def check_unheld(tx: Transaction, label: str, key: str, owner: int | None) -> None:
    """Fail the transaction (with `label`) if anybody but `owner` (None: anybody) holds the claim."""
    condition = UniqueModel.key.does_not_exist()
    if owner is not None:
        condition = condition | (UniqueModel.owner == owner)
    tx.check(label, UniqueModel, key, condition)


def move_unique(tx: Transaction, label: str, old_key: str | None, new_key: str | None, owner: int) -> None:
    """Move an owner's claim from one value to another (either may be None: take or release)."""
    if old_key == new_key:
        return
    if new_key:
        put_unique(tx, label, new_key, owner)
    if old_key:
        release_unique(tx, f"old-{label}", old_key, owner)


def take_over_unique(tx: Transaction, label: str, key: str, owner: int, previous: int | None) -> None:
    """Take a claim nobody holds (`previous` None), or one `previous` held when it was read and
    that the caller judged lapsed; the transaction fails with `label` if it changed meanwhile."""
    condition = UniqueModel.key.does_not_exist() if previous is None else UniqueModel.owner == previous
    tx.put(label, UniqueModel(key, owner=owner), condition)


def holders(keys: list[str]) -> dict[str, int]:
    """Who holds each of these claims (one strongly consistent read of them all); unheld keys are left out."""
    items = read_items([(UniqueModel, key) for key in keys])
    return {key: int(item.owner) for key, item in zip(keys, items, strict=True) if item is not None}


def owner_of(key: str) -> int | None:
    """Who holds a claim (a strongly consistent read), or None."""
    item = get_or_none(UniqueModel, key)
    return int(item.owner) if item else None
