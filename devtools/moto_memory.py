"""Keep moto's DynamoDB from holding on to every item and stream iterator it ever made.

moto records every object of its models in a list per class (`instances_tracked`), for its
dashboard, which nothing here uses. Every write makes new items, and every transaction of
moto's own deep-copies each table it touches (its way to roll back; `make run` replaces that
with an undo log, devtools/moto_transactions.py): all of those copies stay in the list, so
memory grows with the square of the writes. A simulated clinic day of 300 patients
went past 20 GB on moto's in-process mock; `make run` would do the same over a day of use.
Its DynamoDB Streams keeps every shard iterator it hands out, one per GetRecords: `make run`'s
stream feed asks a few times a second, some 2 KB each.
"""
from __future__ import annotations


class _KeepNothing(list):
    """A list that appends nothing."""

    def append(self, item) -> None:
        pass


SERVICES = ("dynamodb", "dynamodbstreams")


def forget_dynamodb_objects() -> None:
    """From now on, in this process, moto's DynamoDB (and Streams) models keep no list of their objects.

    They also leave the registry that a reset (`mock_aws` starting, `/moto-api/reset`) would
    give them fresh lists from; a reset still empties the tables. Calling it again does nothing.
    """
    import moto.dynamodbstreams.models  # noqa: F401 (defines the models, which register in model_data)
    from moto.core.model_instances import model_data

    for service in SERVICES:
        for model in model_data.pop(service, {}).values():
            model.instances_tracked = _KeepNothing()


def forget_shard_iterator(iterator: str) -> None:
    """Drop a shard iterator that GetRecords has answered (its answer names the next one) from
    moto's DynamoDB Streams in this process, if it serves from here."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    for regions in list(dynamodbstreams_backends.values()):
        for backend in list(regions.values()):
            backend.shard_iterators.pop(iterator, None)
