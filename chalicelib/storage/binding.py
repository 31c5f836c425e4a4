"""Which tables the models use: bound once where a request or event enters.

Every PynamoDB model registers here. The route wrapper, the scheduled function,
the devtools and the test fixtures call `bind(settings)`; storage functions never
bind themselves, so an explicit binding is never undone behind its back.
Nothing is read from the environment at import.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection, TableConnection
from pynamodb.exceptions import TableError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings, get_settings

MODELS: list[type[Model]] = []
_M = TypeVar("_M", bound=type[Model])

_lock = threading.Lock()
_bound: Settings | None = None
# Called after create_tables(): state a module keeps about the tables (ids reserved from them) is stale.
_on_new_tables: list[Callable[[], None]] = []
_connection: Connection | None = None
_connection_made_with: dict | None = None


class StoredModel(Model):
    """The base of every model: all of them go through the one connection `bind` made.

    PynamoDB gives each model's table a connection of its own: its own botocore session
    and client, which loads the DynamoDB API description again (some 50-100 ms of a cold
    start for each table first used) and opens HTTP connections of its own. Here every
    table, and every transaction, shares one client and its pool of connections.
    """

    @classmethod
    def _get_connection(cls) -> TableConnection:
        table = super()._get_connection()
        shared = connection()
        if table.connection is not shared:
            with _lock:
                try:
                    shared.get_meta_table(table.table_name)
                except TableError:
                    shared.add_meta_table(table.get_meta_table())
                table.connection = shared
        return table


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


def bind(settings: Settings | None = None) -> None:
    """Point every model at the tables `settings` name (default: the environment's now).

    Cheap when nothing changed.
    """
    global _bound, _connection, _connection_made_with
    settings = settings or get_settings()
    if settings == _bound:
        return
    with _lock:
        if settings == _bound:
            return
        for model in MODELS:
            meta = model.Meta
            meta.table_name = settings.table_name(meta.table_suffix)
            meta.region = settings.region
            meta.host = settings.dynamodb_endpoint
        made_with = {"region": settings.region, "host": settings.dynamodb_endpoint,
                     "connect_timeout_seconds": settings.dynamodb_connect_timeout,
                     "read_timeout_seconds": settings.dynamodb_read_timeout,
                     "max_retry_attempts": settings.dynamodb_retries,
                     "max_pool_connections": settings.dynamodb_pool_connections}
        if made_with != _connection_made_with:  # other settings (table names, limits) keep the client
            _connection = Connection(**made_with)
            _connection_made_with = made_with
        _bound = settings


def connection() -> Connection:
    """The connection every model and transaction goes through (after bind(settings))."""
    if _connection is None:
        raise ConfigurationError("Storage is not bound: call storage.bind(settings) where the request enters.")
    return _connection


def on_new_tables(hook: Callable[[], None]) -> Callable[[], None]:
    """Register `hook` to run whenever create_tables() runs (the tables may be new: forget what was
    read from the old ones). A registry, so this module imports no other storage module."""
    _on_new_tables.append(hook)
    return hook


def tables_replaced() -> None:
    """Forget what was read from the tables: they were just made anew (create_tables(), or tests)."""
    for hook in _on_new_tables:
        hook()


def create_tables() -> None:
    """Create every bound model's table if it is missing, with its TTL (local server and tests)."""
    tables_replaced()
    for model in MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
