"""The storage package's plumbing: table binding, one shared connection,
transactions that say which condition failed, and signed list cursors.

Every PynamoDB model registers here. Table names, region and endpoint come from
the settings at first use (never at import), and all models share one botocore
client, so a cold start pays for one client, not one per table.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any, Callable, TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import TransactWriteError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from chalicelib.errors import ValidationFailed
from chalicelib.settings import Settings, get_settings, jwt_secret

MODELS: list[type[Model]] = []
_M = TypeVar("_M", bound=type[Model])

_lock = threading.Lock()
_bound_key: tuple | None = None
_connection: Connection | None = None


def register(model: _M) -> _M:
    """Class decorator: the model's table is bound and created with the others."""
    MODELS.append(model)
    return model


def kind_id_index() -> GlobalSecondaryIndex:
    """Every item of a table under one key (its `kind`) in id order: one Query per list page.

    A new index class per call: PynamoDB binds an index class to the model that holds it.
    """
    class KindIdIndex(GlobalSecondaryIndex):
        class Meta:
            index_name = "kind-id-index"
            projection = AllProjection()

        kind = UnicodeAttribute(hash_key=True)
        id = NumberAttribute(range_key=True)

    return KindIdIndex()


def bind(settings: Settings | None = None) -> Connection:
    """Point every model at the configured tables; cheap when nothing changed."""
    global _bound_key, _connection
    settings = settings or get_settings()
    key = (settings.table_prefix, settings.dynamodb_endpoint, settings.region)
    if key == _bound_key and _connection is not None:
        return _connection
    with _lock:
        if key == _bound_key and _connection is not None:
            return _connection
        shared = Connection(region=settings.region, host=settings.dynamodb_endpoint)
        for model in MODELS:
            meta = model.Meta
            meta.table_name = settings.table_name(meta.table_suffix)
            meta.region = settings.region
            meta.host = settings.dynamodb_endpoint
            model._connection = None
            table_connection = model._get_connection()
            shared.add_meta_table(table_connection.connection.get_meta_table(meta.table_name))
            table_connection.connection = shared
        _connection = shared
        _bound_key = key
        return shared


def client():
    """The botocore DynamoDB client every model uses (for hooks that count calls)."""
    return bind().client


def create_tables(settings: Settings | None = None) -> None:
    """Create every model's table if it is missing (local server and tests)."""
    bind(settings)
    for model in MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
            ttl = getattr(model.Meta, "ttl_attribute", None)
            if ttl:
                client().update_time_to_live(
                    TableName=model.Meta.table_name,
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl},
                )


# -- transactions ---------------------------------------------------------

class ConditionFailed(Exception):
    """A transaction was cancelled; `labels` names the conditions that failed."""

    def __init__(self, labels: list[str]):
        super().__init__(", ".join(labels) or "transaction cancelled")
        self.labels = labels


class Transaction:
    """A TransactWrite whose failed conditions are reported by label.

    PynamoDB sends checks, deletes, puts and updates in that order, so the
    labels are kept per kind and joined the same way.
    """

    def __init__(self):
        self._tx = TransactWrite(connection=bind())
        self._labels: dict[str, list[str]] = {"check": [], "delete": [], "put": [], "update": []}

    def check(self, label: str, model_cls, hash_key, condition, range_key=None):
        self._labels["check"].append(label)
        self._tx.condition_check(model_cls, hash_key, range_key=range_key, condition=condition)

    def delete(self, label: str, item: Model, condition=None):
        self._labels["delete"].append(label)
        self._tx.delete(item, condition=condition)

    def put(self, label: str, item: Model, condition=None):
        self._labels["put"].append(label)
        self._tx.save(item, condition=condition)

    def update(self, label: str, item: Model, actions, condition=None):
        self._labels["update"].append(label)
        self._tx.update(item, actions=actions, condition=condition)

    def commit(self) -> None:
        try:
            self._tx._commit()
        except TransactWriteError as exc:
            if exc.cause_response_code != "TransactionCanceledException":
                raise
            order = self._labels["check"] + self._labels["delete"] + self._labels["put"] + self._labels["update"]
            reasons = exc.cancellation_reasons or []
            failed = [label for label, reason in zip(order, reasons, strict=False)
                      if reason is not None and reason.code == "ConditionalCheckFailed"]
            if not failed and any(r is not None and r.code == "TransactionConflict" for r in reasons):
                failed = ["conflict"]
            if not failed:
                raise
            raise ConditionFailed(failed) from exc


def transaction_conflicted(exc: ConditionFailed) -> bool:
    return exc.labels == ["conflict"]


def retry_on_conflict(action: Callable[[], Any], attempts: int = 5) -> Any:
    """Run a transaction, again if another transaction on the same items won."""
    for attempt in range(attempts):
        try:
            return action()
        except ConditionFailed as exc:
            if not transaction_conflicted(exc) or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


# -- values ---------------------------------------------------------------

def iso_instant(value: datetime) -> str:
    """UTC instant as the API writes it: 2023-12-15T10:00:00Z."""
    return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_date(value: date | None) -> str | None:
    return value.isoformat() if value else None


def parse_date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


# -- pages ----------------------------------------------------------------

@dataclass
class Page:
    items: list
    next: str | None


def _sign(scope: str, payload: bytes) -> str:
    key = jwt_secret().encode()
    return hmac.new(key, scope.encode() + b"\x00" + payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(scope: str, last_key: dict | None) -> str | None:
    if not last_key:
        return None
    payload = json.dumps(last_key, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(payload).decode().rstrip("=") + "." + _sign(scope, payload)


def decode_cursor(scope: str, cursor: str | None) -> dict | None:
    """The start key a cursor stands for; a cursor made for another list is a 400."""
    if cursor is None:
        return None
    bad = ValidationFailed.field("cursor", "Invalid or expired cursor.")
    body, _, signature = cursor.partition(".")
    if not body or len(cursor) > 2000:
        raise bad
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    except (ValueError, TypeError):
        raise bad from None
    if not hmac.compare_digest(_sign(scope, payload), signature):
        raise bad
    return json.loads(payload)


def query_page(index: GlobalSecondaryIndex, scope: str, limit: int, cursor: str | None,
               convert: Callable[[Any], Any], *, hash_key, **conditions) -> Page:
    """One page of a Query on an index: exactly one DynamoDB call, whatever the table's size.

    A filter_condition applies to that one page only (PynamoDB's iterator would keep
    querying until `limit` items passed it), so a filtered page may hold fewer than
    `limit` items, even none, while `next` still leads on to the rest.
    """
    results = index.query(hash_key, limit=limit, page_size=limit,
                          last_evaluated_key=decode_cursor(scope, cursor), **conditions)
    raw = next(results.page_iter)
    model = index._model  # the model PynamoDB binds the index to
    items = [convert(model.from_raw_data(item)) for item in raw.get("Items", [])]
    return Page(items=items, next=encode_cursor(scope, results.page_iter.last_evaluated_key))
