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
    attempts,
    binding,
    clinical,
    connections,
    counters,
    delivery_queue,
    departments,
    doctors,
    health,
    idempotency,
    ids,
    password_resets,
    patients,
    queue_days,
    queue_entries,
    queue_lookups,
    service_points,
    uniques,
    users,
    waiting_room,
    webhooks,
)
from chalicelib.storage.binding import MODELS, create_tables  # noqa: F401


def dynamodb_stores() -> Stores:
    """The domain's stores, on DynamoDB."""
    return Stores(
        ids=ids, probe=health,
        # accounts and records
        users=users, attempts=attempts, patients=patients, doctors=doctors, departments=departments,
        appointments=appointments,
        # the queue
        queue_entries=queue_entries, queue_days=queue_days, board=waiting_room, connections=connections,
        service_points=service_points, queue_lookups=queue_lookups,
        # clinical records
        clinical=clinical,
        # password reset codes
        password_resets=password_resets,
        # integrations
        idempotency_keys=idempotency, webhooks=webhooks, delivery_queue=delivery_queue,
    )


def bind(settings: Settings | None = None) -> None:
    """Point every model at the tables `settings` name (default: the environment's now),
    and make these the stores the domain uses. Cheap when nothing changed."""
    binding.bind(settings)
    use(_STORES)


_STORES = dynamodb_stores()
