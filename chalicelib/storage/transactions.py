"""Transactions that say which condition failed, and retries when another one won.

A transaction is a context manager: it commits when the block ends without an
exception. Each write is labelled, so a cancelled transaction is reported as
`ConditionFailed(labels)` naming the conditions that failed ("username",
"queue-active", ...), which the domain turns into a clear answer.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from pynamodb.exceptions import (
    DeleteError,
    PutError,
    PynamoDBException,
    TransactGetError,
    TransactWriteError,
    UpdateError,
)
from pynamodb.models import Model
from pynamodb.transactions import TransactGet, TransactWrite

from chalicelib.errors import ConditionFailed
from chalicelib.storage.binding import connection

_M = TypeVar("_M", bound=Model)

# What DynamoDB answers a plain write that meets another transaction on the same item
# (botocore does not retry it); and what a cancelled transaction's reasons say then.
TRANSACTION_CONFLICT = "TransactionConflictException"
CONDITION_FAILED = "ConditionalCheckFailedException"


def get_or_none(model: type[_M], hash_key, range_key=None) -> _M | None:
    """The item with this key (a strongly consistent read), or None."""
    try:
        return model.get(hash_key, range_key, consistent_read=True)
    except model.DoesNotExist:
        return None


def read_items(keys: list[tuple]) -> list[Model | None]:
    """Several items of any tables in one strongly consistent TransactGetItems call (None where missing).

    Each key is (model, hash key) or (model, hash key, range key). A transaction writing one of
    them at that instant cancels the read: that is a ConditionFailed conflict, to be read again.
    """
    try:
        with TransactGet(connection=connection()) as read:
            futures = [read.get(model, *key) for model, *key in keys]
    except TransactGetError as error:
        if cause(error) == "TransactionCanceledException":
            raise ConditionFailed([ConditionFailed.CONFLICT]) from error
        raise
    items: list[Model | None] = []
    for (model, *_), future in zip(keys, futures, strict=True):
        try:
            items.append(future.get())
        except model.DoesNotExist:
            items.append(None)
    return items


def cause(exc: PynamoDBException) -> str | None:
    """DynamoDB's error code behind a PynamoDB exception; None where DynamoDB gave no answer (a
    timeout, a dropped connection), whose exception carries no response."""
    try:
        return exc.cause_response_code
    except AttributeError:
        return None


def written(write: Callable[[], object]) -> bool:
    """One conditional write (PutItem, UpdateItem or DeleteItem); False when its condition failed
    or a transaction held the item.

    Either way the item is not as the caller expected: they read again or move on.
    """
    try:
        write()
    except (PutError, UpdateError, DeleteError) as exc:
        if cause(exc) in (CONDITION_FAILED, TRANSACTION_CONFLICT):
            return False
        raise
    return True


def update_unless(item: Model, actions: list, condition) -> bool:
    """A conditional UpdateItem; False when the condition failed or a transaction held the item."""
    return written(lambda: item.update(actions=actions, condition=condition))



class Transaction:
    """A labelled TransactWrite, used as `with Transaction() as tx: tx.put(...)`.

    PynamoDB sends checks, deletes, puts and updates in that order, so the labels
    are kept per kind and joined the same way to name what failed. Every
    transaction carries a client request token, so botocore's retry of one whose
    answer was lost is not refused by its own earlier success.
    """

    def __init__(self):
        self._tx = TransactWrite(connection=connection(), client_request_token=str(uuid.uuid4()))
        self._labels: dict[str, list[str]] = {"check": [], "delete": [], "put": [], "update": []}

    def check(self, label: str, model_cls: type[Model], hash_key, condition, range_key=None) -> None:
        self._labels["check"].append(label)
        self._tx.condition_check(model_cls, hash_key, range_key=range_key, condition=condition)

    def require_exists(self, label: str, model_cls: type[Model], hash_key) -> None:
        """Fail the transaction (with `label`) unless the item exists."""
        key = next(attribute for attribute in model_cls.get_attributes().values() if attribute.is_hash_key)
        self.check(label, model_cls, hash_key, key.exists())

    def delete(self, label: str, item: Model, condition=None) -> None:
        self._labels["delete"].append(label)
        self._tx.delete(item, condition=condition)

    def put(self, label: str, item: Model, condition=None) -> None:
        self._labels["put"].append(label)
        self._tx.save(item, condition=condition)

    def update(self, label: str, item: Model, actions, condition=None) -> None:
        self._labels["update"].append(label)
        self._tx.update(item, actions=actions, condition=condition)

    def __enter__(self) -> Transaction:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            return
        try:
            self._tx.__exit__(None, None, None)
        except TransactWriteError as error:
            raise self._failure(error) from error

    def _failure(self, error: TransactWriteError) -> Exception:
        if cause(error) == TRANSACTION_CONFLICT:
            return ConditionFailed([ConditionFailed.CONFLICT])
        if cause(error) != "TransactionCanceledException":
            return error
        order = self._labels["check"] + self._labels["delete"] + self._labels["put"] + self._labels["update"]
        reasons = error.cancellation_reasons or []
        failed = [label for label, reason in zip(order, reasons, strict=False)
                  if reason is not None and reason.code == "ConditionalCheckFailed"]
        if not failed and any(r is not None and r.code == "TransactionConflict" for r in reasons):
            failed = [ConditionFailed.CONFLICT]
        return ConditionFailed(failed) if failed else error
