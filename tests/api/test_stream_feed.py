"""make run's stream feed heals itself: a shard replaced under it (what moto does to the tables a
cancelled transaction touched), an iterator lost; and it
backs off while idle. Real threads, moto's server over HTTP, bounded in time."""
from __future__ import annotations

import copy
import threading
import time

import boto3
import pytest
from moto.dynamodb.models import dynamodb_backends

from chalicelib.storage.queue_entries import QueueEntryModel
from devtools import stream_feed
from devtools.stream_feed import StreamFeed
from tests.support.queue import add_patients
from tests.support.queue import desk as desk_user


class Batches:
    def __init__(self):
        self.records: list[dict] = []
        self.arrived = threading.Condition()

    def __call__(self, records: list[dict]) -> None:
        with self.arrived:
            self.records.extend(records)
            self.arrived.notify_all()

    def wait_for(self, entry_id: int, seconds: float) -> float:
        """Seconds until a record of the entry arrived; fails after `seconds`."""
        started = time.monotonic()
        with self.arrived:
            while not any(int(record["dynamodb"]["Keys"]["id"]["N"]) == entry_id for record in self.records):
                left = seconds - (time.monotonic() - started)
                assert left > 0, f"no record of entry {entry_id} within {seconds} s"
                self.arrived.wait(left)
        return time.monotonic() - started


@pytest.fixture
def feed(dynamodb_server):
    batches = Batches()
    running = StreamFeed(dynamodb_server, "us-east-1", batches, QueueEntryModel).start()
    running.batches = batches
    yield running
    running.stop()


def join() -> int:
    from chalicelib.domain import queue

    [patient] = add_patients(1)
    return queue.join(desk_user(), queue.JoinRequest(patient_id=patient)).id


def entries_table():
    [backend] = [regions["us-east-1"] for regions in dynamodb_backends.values() if "us-east-1" in regions]
    return backend, QueueEntryModel.Meta.table_name


def test_a_shard_replaced_under_the_feed(feed):
    feed.batches.wait_for(join(), 3)
    backend, name = entries_table()
    backend.tables[name] = copy.deepcopy(backend.tables[name])  # a cancelled transaction's rollback, in moto
    assert feed.batches.wait_for(join(), 3) < 3


def test_a_cancelled_transaction_on_the_entries_table(feed, dynamodb_server):
    first = join()
    feed.batches.wait_for(first, 3)
    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=dynamodb_server)
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=[{"ConditionCheck": {
            "TableName": QueueEntryModel.Meta.table_name, "Key": {"id": {"N": str(first)}},
            "ConditionExpression": "attribute_not_exists(id)"}}])
    assert feed.batches.wait_for(join(), 3) < 3


def test_a_lost_iterator_is_taken_again_after_the_last_record(dynamodb_server, monkeypatch):
    from botocore.exceptions import ClientError

    batches = Batches()
    feed = StreamFeed(dynamodb_server, "us-east-1", batches, QueueEntryModel)
    first = join()
    feed.poll_once()
    batches.wait_for(first, 0.1)
    second = join()
    real = feed.streams.get_records
    expired = ClientError({"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}}, "GetRecords")
    monkeypatch.setattr(feed.streams, "get_records", lambda **kwargs: (_ for _ in ()).throw(expired))
    assert feed.poll_once() == 0
    monkeypatch.setattr(feed.streams, "get_records", real)
    assert feed.poll_once() == 1  # the second join's record, once: nothing lost, nothing twice
    batches.wait_for(second, 0.1)
    assert [int(r["dynamodb"]["Keys"]["id"]["N"]) for r in batches.records] == [first, second]


def test_the_feed_backs_off_while_idle(dynamodb_server, monkeypatch):
    reads = []
    feed = StreamFeed(dynamodb_server, "us-east-1", Batches(), QueueEntryModel)
    real = feed.streams.get_records
    monkeypatch.setattr(feed.streams, "get_records", lambda **kwargs: reads.append(1) or real(**kwargs))
    feed.start()
    try:
        time.sleep(4)
    finally:
        feed.stop()
    assert feed.delay == stream_feed.IDLE_SECONDS
    assert len(reads) <= 12  # about 9 a second before it backed off
