"""In-memory fakes of the domain's stores (chalicelib.domain.ports), for domain tests
that run in milliseconds without moto.

Each fake keeps the rules the DynamoDB implementation enforces with conditions (a
conditional write that loses raises `errors.ConditionFailed` with the same labels), so
the domain sees the same answers from either (tests/api/test_store_contract.py runs the
same scenarios on both).
"""
from __future__ import annotations

from chalicelib.domain.stores import Stores
from tests.support.fakes.appointments import MemoryAppointments
from tests.support.fakes.attempts import MemoryAttempts
from tests.support.fakes.clinical import MemoryClinical
from tests.support.fakes.departments import MemoryDepartments
from tests.support.fakes.doctors import MemoryDoctors
from tests.support.fakes.health import MemoryProbe
from tests.support.fakes.idempotency import MemoryIdempotencyKeys
from tests.support.fakes.ids import MemoryIds
from tests.support.fakes.memory import MemoryDb
from tests.support.fakes.password_resets import MemoryPasswordResets
from tests.support.fakes.patients import MemoryPatients
from tests.support.fakes.queue import memory_queue_stores
from tests.support.fakes.users import MemoryUsers
from tests.support.fakes.webhooks import MemoryDeliveryQueue, MemoryWebhooks


def memory_stores() -> Stores:
    """A fresh, empty set of in-memory stores."""
    db = MemoryDb()
    return Stores(
        ids=MemoryIds(), probe=MemoryProbe(),
        # accounts and records
        users=MemoryUsers(db), attempts=MemoryAttempts(db), patients=MemoryPatients(db), doctors=MemoryDoctors(db),
        departments=MemoryDepartments(db), appointments=MemoryAppointments(db),
        # the queue
        **memory_queue_stores(db),
        # clinical records
        clinical=MemoryClinical(),
        # password reset codes
        password_resets=MemoryPasswordResets(db),
        # integrations
        idempotency_keys=MemoryIdempotencyKeys(db), webhooks=MemoryWebhooks(db), delivery_queue=MemoryDeliveryQueue(),
    )
