"""DynamoDB storage through PynamoDB. Models stay inside this package; the rest of
the code gets the domain's dataclasses from the functions of each module.

Each module implements one of the domain's store protocols (chalicelib.domain.ports)
with plain functions, so the module itself is the store. Importing the package registers
every model; `bind(settings)` points them at their tables and installs these stores as
the ones the domain uses, where a request or event enters.
"""
from __future__ import annotations

from chalicelib.domain.stores import Stores, use
from chalicelib.settings import Settings
from chalicelib.storage import (  # noqa: F401 (registers the models)
    appointments,
    binding,
    claims,
    connections,
    counters,
    departments,
    doctors,
    health,
    ids,
    patients,
    queue_entries,
    service_points,
    users,
)
from chalicelib.storage.binding import MODELS, create_tables  # noqa: F401


def dynamodb_stores() -> Stores:
    """The domain's stores, on DynamoDB."""
    return Stores(ids=ids, probe=health)


def bind(settings: Settings | None = None) -> None:
    """Point every model at the tables `settings` name (default: the environment's now),
    and make these the stores the domain uses. Cheap when nothing changed."""
    binding.bind(settings)
    use(_STORES)


_STORES = dynamodb_stores()
