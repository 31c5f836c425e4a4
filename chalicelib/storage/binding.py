"""Which tables the models use: bound once where a request or event enters.

Every PynamoDB model registers here. The route wrapper, the scheduled function,
the devtools and the test fixtures call `bind(settings)`; storage functions never
bind themselves, so an explicit binding is never undone behind its back.
Nothing is read from the environment at import.
"""
from __future__ import annotations

import threading
from typing import TypeVar

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from chalicelib.errors import ConfigurationError
from chalicelib.settings import Settings, get_settings

MODELS: list[type[Model]] = []
_M = TypeVar("_M", bound=type[Model])

_lock = threading.Lock()
_bound: Settings | None = None
_tx_connection: Connection | None = None
# Which endpoint each table name was first bound to: PynamoDB keeps a model's
# connection while its table name stays the same.
_endpoints: dict[str, tuple[str | None, str]] = {}


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

    Cheap when nothing changed. One table name serves one endpoint and region per
    process (PynamoDB keeps a table's connection for as long as its name stays).
    """
    global _bound, _tx_connection
    settings = settings or get_settings()
    if settings == _bound:
        return
    with _lock:
        if settings == _bound:
            return
        where = (settings.dynamodb_endpoint, settings.region)
        for model in MODELS:
            name = settings.table_name(model.Meta.table_suffix)
            if _endpoints.setdefault(name, where) != where:
                raise ConfigurationError(f"Table {name!r} is already bound to {_endpoints[name]}; "
                                         "use another table prefix for another endpoint.")
            meta = model.Meta
            meta.table_name = name
            meta.region = settings.region
            meta.host = settings.dynamodb_endpoint
            meta.connect_timeout_seconds = settings.dynamodb_connect_timeout
            meta.read_timeout_seconds = settings.dynamodb_read_timeout
            meta.max_retry_attempts = settings.dynamodb_retries
        _tx_connection = Connection(region=settings.region, host=settings.dynamodb_endpoint,
                                 connect_timeout_seconds=settings.dynamodb_connect_timeout,
                                 read_timeout_seconds=settings.dynamodb_read_timeout,
                                 max_retry_attempts=settings.dynamodb_retries)
        _bound = settings


def connection() -> Connection:
    """The connection transactions go through (after bind(settings))."""
    if _tx_connection is None:
        raise ConfigurationError("Storage is not bound: call storage.bind(settings) where the request enters.")
    return _tx_connection


def create_tables() -> None:
    """Create every bound model's table if it is missing, with its TTL (local server and tests)."""
    from chalicelib.storage.counters import forget_reserved_ids

    forget_reserved_ids()  # ids reserved from tables that may be gone
    for model in MODELS:
        if not model.exists():
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
