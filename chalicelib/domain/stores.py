"""The storage the domain uses, declared by the domain.

Each aggregate's store is a Protocol in `chalicelib.domain.ports`. `chalicelib.storage`
implements them on DynamoDB, and `tests.support.fakes` in memory. Where a request or event
enters, `storage.bind(settings)` installs the DynamoDB stores with `use()`; a domain test
installs the fakes instead. Domain code reaches a store through `stores()`:

    entry = stores().queue_entries.get(entry_id)

so no domain module imports the storage package.
"""
from __future__ import annotations

from dataclasses import dataclass

from chalicelib.domain.ports.appointments import Appointments
from chalicelib.domain.ports.attempts import Attempts
from chalicelib.domain.ports.clinical import Clinical
from chalicelib.domain.ports.departments import Departments
from chalicelib.domain.ports.doctors import Doctors
from chalicelib.domain.ports.health import Probe
from chalicelib.domain.ports.idempotency import IdempotencyKeys
from chalicelib.domain.ports.ids import Ids
from chalicelib.domain.ports.password_resets import PasswordResets
from chalicelib.domain.ports.patients import Patients
from chalicelib.domain.ports.queue import Board, Connections, QueueDays, QueueEntries, QueueLookups, ServicePoints
from chalicelib.domain.ports.users import Users
from chalicelib.domain.ports.webhooks import DeliveryQueue, Webhooks
from chalicelib.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class Stores:
    """One implementation of every store the domain uses."""

    ids: Ids
    probe: Probe
    # accounts and records
    users: Users
    attempts: Attempts
    patients: Patients
    doctors: Doctors
    departments: Departments
    appointments: Appointments
    # the queue
    queue_entries: QueueEntries
    queue_days: QueueDays
    board: Board
    connections: Connections
    service_points: ServicePoints
    queue_lookups: QueueLookups
    # clinical records
    clinical: Clinical
    # password reset codes
    password_resets: PasswordResets
    # integrations
    idempotency_keys: IdempotencyKeys
    webhooks: Webhooks
    delivery_queue: DeliveryQueue


_current: Stores | None = None


def use(implementation: Stores) -> None:
    """Install the stores the domain uses from now on (process-wide)."""
    global _current
    _current = implementation


def stores() -> Stores:
    """The installed stores; a ConfigurationError where nothing bound them."""
    if _current is None:
        raise ConfigurationError("No stores are installed: call storage.bind(settings) where the request enters.")
    return _current
