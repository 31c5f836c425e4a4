"""The embedded DynamoDB keeps no copy of what it no longer holds (devtools/moto_memory.py)."""
from __future__ import annotations

from moto import mock_aws
from moto.dynamodb.models import Item, Table

from chalicelib import storage
from devtools.moto_memory import forget_dynamodb_objects
from tests.support.queue import add_patients, desk


def test_transactions_leave_no_copies_of_the_tables_behind():
    forget_dynamodb_objects()
    forget_dynamodb_objects()  # again: nothing changes
    for _ in range(2):  # a reset (mock_aws starting) gives moto's models no list again
        with mock_aws():
            storage.bind()
            storage.create_tables()
            desk()
            add_patients(20)  # one transaction each, which deep-copies the tables it writes
            assert Item.instances_tracked == [] and Table.instances_tracked == []
