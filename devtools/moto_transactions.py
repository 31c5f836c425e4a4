"""TransactWriteItems on the embedded DynamoDB (moto's server) as DynamoDB runs it.

What moto 5.2.5 does, and what this module changes (`install()`, once per process):

- **Rollback.** moto deep-copies every table a transaction names before it starts, and when the
  transaction is cancelled puts the copies in place of the live tables. That costs time in
  proportion to everything stored (about 0.13 ms per item: a join took 1-2 s at 5,000 entries),
  and a cancelled transaction leaves new table objects behind: a stream reader's shard, and
  anything else holding the old table, is orphaned (the waiting room's live feed stopped for
  good). Here the transaction keeps an undo log instead: before each write it records the
  item's previous state (for an Update, a copy of that one item, which moto changes in place);
  on cancellation the items are put back as they were, newest first. No table is copied or
  replaced; a transaction costs what it touches.
- **Streams.** moto adds each write's stream record as it applies it, so a cancelled
  transaction's records stayed in the (orphaned) shard. Here the records of a transaction in
  progress are held back: a committed transaction adds one record per item it changed (the
  item's image before the transaction and after it), in its order, and none for an item it
  left as it was (as DynamoDB Streams); a cancelled one adds none.
- **ClientRequestToken.** moto ignores it. DynamoDB answers a TransactWriteItems whose token it
  saw succeed in the last 10 minutes with success and applies nothing again, and answers the
  same token with different parameters with IdempotentParameterMismatchException. So does this:
  a client whose first try committed but whose answer was lost (a read timeout) gets the
  success it missed when botocore retries, not a cancellation by its own earlier write.

Everything else (validation, the order of checks, the cancellation reasons) is moto's code,
unchanged. The seam is moto's TransactWriteItems: DynamoDBBackend.transact_write_items (the
undo log), DynamoHandler.transact_write_items (the token), and StreamShard.add, which holds
back the records of a transaction in progress on this thread. Written for moto 5.2.5
(MOTO_VERSION): install() refuses another version, whose code may differ; re-read moto's
transact_write_items before moving the pin. As a change to moto itself, this is the body of
DynamoDBBackend.transact_write_items without its `copy.deepcopy` of tables, plus a token
cache on the backend.
"""
from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
from typing import Any

MOTO_VERSION = "5.2.5"
TOKEN_SECONDS = 600  # DynamoDB's idempotency window for ClientRequestToken

_installed = False
_install_lock = threading.Lock()
_holding = threading.local()  # .active: stream records are held back on this thread


class MotoVersionMismatch(RuntimeError):
    pass


def install() -> None:
    """Patch moto's TransactWriteItems in this process (idempotent)."""
    global _installed
    import moto

    if moto.__version__ != MOTO_VERSION:
        raise MotoVersionMismatch(f"devtools/moto_transactions.py was written for moto {MOTO_VERSION}, "
                                  f"not {moto.__version__}: re-read moto's transact_write_items first.")
    with _install_lock:
        if _installed:
            return
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.table import StreamShard
        from moto.dynamodb.responses import DynamoHandler

        original_add = StreamShard.add
        original_handler = DynamoHandler.transact_write_items

        def add(shard, old, new) -> None:
            if getattr(_holding, "active", False):
                return  # the transaction adds its records when it commits
            original_add(shard, old, new)

        def handler(self):
            return _with_token(self, original_handler)

        StreamShard.add = add
        DynamoDBBackend.transact_write_items = transact_write_items
        DynamoHandler.transact_write_items = handler
        _installed = True


def installed() -> bool:
    return _installed


# -- the undo log ------------------------------------------------------------------------------

class _Undo:
    """The previous state of each item a transaction wrote, in the order written."""

    def __init__(self):
        self.entries: list[tuple[Any, Any, Any, Any, bool]] = []  # table, hash, range, before, hash existed

    def record(self, table, hash_value, range_value, update: bool) -> None:
        if range_value is not None:
            existed = hash_value in table.items
            before = table.items[hash_value].get(range_value) if existed else None
        else:
            existed = True
            before = table.items.get(hash_value)
        if update and before is not None:
            before = copy.deepcopy(before)  # moto's update changes the item in place
        self.entries.append((table, hash_value, range_value, before, existed))

    def undo(self) -> None:
        for table, hash_value, range_value, before, existed in reversed(self.entries):
            if range_value is not None:
                bucket = table.items[hash_value]
                if before is None:
                    bucket.pop(range_value, None)
                else:
                    bucket[range_value] = before
                if not existed and not bucket:
                    del table.items[hash_value]
            elif before is None:
                table.items.pop(hash_value, None)
            else:
                table.items[hash_value] = before
        self.entries.clear()

    def emit_stream_records(self) -> None:
        """One record per item written: its image before the transaction and its image now."""
        for table, hash_value, range_value, before, _ in self.entries:
            if table.stream_shard is None:
                continue
            after = table.get_item(hash_value, range_value)
            if before is None and after is None:
                continue  # a Delete of an item that was not there
            if before is not None and after is not None and before.attrs == after.attrs:
                continue  # DynamoDB Streams writes no record for a write that changed nothing
            table.stream_shard.add(before, after)


def transact_write_items(self, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's DynamoDBBackend.transact_write_items, with an undo log for its table copies."""
    from moto.dynamodb.exceptions import (
        ConditionalCheckFailed,
        MockValidationException,
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import get_filter_expression

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    undo = _Undo()
    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    _holding.active = True
    try:
        for item in transact_items:
            original_item: dict[str, Any] | None = None
            if len(list(item.keys())) > 1:
                raise TransactWriteSingleOpException
            try:
                op_type, op = next(iter(item.items()))
                if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                    raise ValueError("Unsupported transaction operation")
                table_name = op["TableName"]
                condition_expression = op.get("ConditionExpression")
                expression_attribute_names = op.get("ExpressionAttributeNames")
                expression_attribute_values = op.get("ExpressionAttributeValues")
                return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")
                if op_type == "Put":
                    attrs = op["Item"]
                    table = self.get_table(table_name)
                    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                    if table.range_key_attr is not None:
                        key[table.range_key_attr] = attrs[table.range_key_attr]
                else:
                    key = op["Key"]
                check_unicity(table_name, key)
                if op_type != "ConditionCheck":  # before moto's read, which may add an empty range bucket
                    table = self.get_table(table_name)
                    hash_value, range_value = self.get_keys_value(table, key)
                    undo.record(table, hash_value, range_value, update=op_type == "Update")
                current = self.get_item(table_name, key)
                if condition_expression is not None:
                    condition_op = get_filter_expression(
                        condition_expression, expression_attribute_names, expression_attribute_values)
                    if not condition_op.expr(current):
                        if return_values_on_condition_check_failure == "ALL_OLD" and current:
                            original_item = current.to_json()["Attributes"]
                        raise ConditionalCheckFailed(item=original_item)
                if op_type == "Put":
                    self.put_item(table_name, op["Item"], condition_expression=condition_expression,
                                  expression_attribute_names=expression_attribute_names,
                                  expression_attribute_values=expression_attribute_values)
                elif op_type == "Delete":
                    self.delete_item(table_name, key, condition_expression=condition_expression,
                                     expression_attribute_names=expression_attribute_names,
                                     expression_attribute_values=expression_attribute_values)
                elif op_type == "Update":
                    self.update_item(table_name, key, update_expression=op["UpdateExpression"],
                                     condition_expression=condition_expression,
                                     expression_attribute_names=expression_attribute_names,
                                     expression_attribute_values=expression_attribute_values)
                errors.append((None, None, None))
            except (MultipleTransactionsException, MockValidationException):
                raise  # undone below, as moto restores its copies
            except ConditionalCheckFailed as e:
                errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
            except Exception as e:  # noqa: BLE001 (moto reports any other failure as a reason)
                errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
    except BaseException:
        _holding.active = False
        undo.undo()
        raise
    _holding.active = False
    undo.emit_stream_records()


# -- ClientRequestToken ------------------------------------------------------------------------

def _mismatch():
    from moto.dynamodb.exceptions import ERROR_TYPE_PREFIX, DynamodbException

    return DynamodbException(ERROR_TYPE_PREFIX + "IdempotentParameterMismatchException",
                             "Request parameters do not match the parameters of an earlier request "
                             "with the same ClientRequestToken.")


def _fingerprint(body: dict) -> str:
    rest = {key: value for key, value in body.items() if key != "ClientRequestToken"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


_token_lock = threading.Lock()


def _with_token(handler, original):
    """TransactWriteItems with DynamoDB's idempotency for ClientRequestToken (see the module's notes)."""
    body = handler.body if isinstance(handler.body, dict) else {}
    token = body.get("ClientRequestToken")
    if not token:
        return original(handler)
    backend = handler.dynamodb_backend
    tokens: dict[str, tuple[str, float, Any]] = backend.__dict__.setdefault("_dqs_client_tokens", {})
    fingerprint = _fingerprint(body)
    now = time.monotonic()
    with _token_lock:
        for stale in [t for t, (_, expires, _) in tokens.items() if expires <= now]:
            del tokens[stale]
        seen = tokens.get(token)
    if seen is not None:
        if seen[0] != fingerprint:
            raise _mismatch()
        return seen[2]
    result = original(handler)  # a cancelled transaction raises: its token is not kept
    with _token_lock:
        tokens[token] = (fingerprint, now + TOKEN_SECONDS, result)
    return result
