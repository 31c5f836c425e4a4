"""Time to Live on the embedded DynamoDB (devtools/moto_ttl.py, swept by devtools/journal.py)."""
from __future__ import annotations

import datetime
import time

import boto3

from devtools import journal as journal_module
from devtools.moto_ttl import TTL_IDENTITY

REGION = "eu-west-3"  # tables of its own, apart from the other tests' moto server in this process
TABLE = "ttl-things"


def _clients(endpoint: str):
    options = {"region_name": REGION, "endpoint_url": endpoint, "aws_access_key_id": "local",
               "aws_secret_access_key": "local"}
    return boto3.client("dynamodb", **options), boto3.client("dynamodbstreams", **options)


def _create_streamed_table(client) -> None:
    client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})


def _fresh_backend() -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].reset()  # as a new process would have it


def test_expired_items_are_deleted_with_a_ttl_stream_record_and_stay_deleted(tmp_path):
    from devtools.local_server import start_embedded_dynamodb

    _fresh_backend()
    server, endpoint = start_embedded_dynamodb(tmp_path, access_key="local")
    try:
        client, streams = _clients(endpoint)
        _create_streamed_table(client)
        client.update_time_to_live(TableName=TABLE, TimeToLiveSpecification={"Enabled": True,
                                                                             "AttributeName": "expires_at"})
        now = int(time.time())
        items = {"expired": {"N": str(now - 10)}, "later": {"N": str(now + 3600)},
                 "text": {"S": str(now - 10)}, "ancient": {"N": str(now - 6 * 365 * 24 * 3600)}}
        for name, expires in items.items():
            client.put_item(TableName=TABLE, Item={"id": {"S": name}, "expires_at": expires})
        client.put_item(TableName=TABLE, Item={"id": {"S": "never"}})
        arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                              ShardIteratorType="LATEST")["ShardIterator"]

        def ids() -> set[str]:
            return {item["id"]["S"] for item in client.scan(TableName=TABLE)["Items"]}

        assert ids() == {"expired", "later", "text", "ancient", "never"}  # within the minute: still there
        server.journal.sweeper.last -= 61  # a minute later: the next request sweeps first
        assert ids() == {"later", "text", "ancient", "never"}

        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [("REMOVE", "expired")]
        assert records[0]["userIdentity"] == TTL_IDENTITY
        assert records[0]["dynamodb"]["OldImage"]["expires_at"] == items["expired"]

        journaled = [journal_module.decode(line) for line in (tmp_path / "dynamodb.journal").open("rb")]
        assert {"op": "DeleteItem", "region": REGION,
                "body": {"TableName": TABLE, "Key": {"id": {"S": "expired"}}}} in journaled
        # An item that expires while the server is stopped is deleted at the next start.
        client.put_item(TableName=TABLE, Item={"id": {"S": "soon"}, "expires_at": {"N": str(now + 1)}})
    finally:
        server.stop()

    time.sleep(max(0.0, now + 1.1 - time.time()))
    _fresh_backend()
    server, endpoint = start_embedded_dynamodb(tmp_path, access_key="local")
    try:
        client, _ = _clients(endpoint)
        assert server.restored.expired == 1
        assert {item["id"]["S"] for item in client.scan(TableName=TABLE)["Items"]} == {"later", "text", "ancient",
                                                                                         "never"}
    finally:
        server.stop()
        _fresh_backend()


def test_stream_records_older_than_a_day_are_dropped_and_the_others_keep_their_numbers(tmp_path):
    from devtools.local_server import start_embedded_dynamodb
    from devtools.moto_ttl import STREAM_RETENTION_SECONDS, trim_streams

    _fresh_backend()
    server, endpoint = start_embedded_dynamodb(tmp_path, access_key="local")
    try:
        client, streams = _clients(endpoint)
        _create_streamed_table(client)
        for n in range(5):
            client.put_item(TableName=TABLE, Item={"id": {"S": f"i{n}"}})
        arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        first = streams.get_shard_iterator(StreamArn=arn, ShardId=shard,
                                           ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        numbers = [r["dynamodb"]["SequenceNumber"] for r in streams.get_records(ShardIterator=first)["Records"]]
        latest = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]

        assert trim_streams(time.time() + 60, regions={REGION}) == 0  # a minute on: all kept
        # Three more records; the five first made more than a day ago go.
        for n in range(5, 8):
            client.put_item(TableName=TABLE, Item={"id": {"S": f"i{n}"}})
        _shift_stream_records(TABLE, 5, -(STREAM_RETENTION_SECONDS + 120))
        assert trim_streams(time.time(), regions={REGION}) == 5
        described = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        assert described["SequenceNumberRange"]["StartingSequenceNumber"] == str(int(numbers[0]) + 5)
        kept = streams.get_records(ShardIterator=streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"])["Records"]
        assert [r["dynamodb"]["Keys"]["id"]["S"] for r in kept] == ["i5", "i6", "i7"]
        assert [int(r["dynamodb"]["SequenceNumber"]) for r in kept] == [int(numbers[-1]) + 1 + n for n in range(3)]
        # A reader that was at the end goes on reading where it was, and on.
        answer = streams.get_records(ShardIterator=latest)
        assert [r["dynamodb"]["Keys"]["id"]["S"] for r in answer["Records"]] == ["i5", "i6", "i7"]
        client.put_item(TableName=TABLE, Item={"id": {"S": "i8"}})
        answer = streams.get_records(ShardIterator=answer["NextShardIterator"])
        assert [r["dynamodb"]["Keys"]["id"]["S"] for r in answer["Records"]] == ["i8"]
    finally:
        server.stop()
        _fresh_backend()


def _shift_stream_records(table_name: str, count: int, seconds: float) -> None:
    """Make the first `count` stream records of a table look `seconds` older (or newer)."""
    from datetime import timedelta

    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    shard = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[table_name].stream_shard
    for record in shard.items[:count]:
        record.record["dynamodb"]["ApproximateCreationDateTime"] += timedelta(seconds=seconds)


def test_the_stream_consumers_take_a_ttl_removal_in_their_stride(aws):
    """A TTL deletion in the entries table's stream (an old day's entry) changes no board and sends nothing."""
    from chalicelib.domain import notifications, waiting_room
    from chalicelib.storage.queue_entries import QueueEntryModel
    from tests.support.queue import seed_entries

    entry = seed_entries(1, "served", day=datetime.date(2024, 1, 2))[0]
    image = QueueEntryModel.get(entry.id).serialize()
    for identity in (TTL_IDENTITY, {"type": "Service", "principalId": "dynamodb.amazonaws.com"}):  # API, Lambda
        record = {"eventName": "REMOVE", "eventSource": "aws:dynamodb", "userIdentity": dict(identity),
                  "dynamodb": {"Keys": {"id": image["id"]}, "OldImage": image,
                               "StreamViewType": "NEW_AND_OLD_IMAGES"}}
        assert waiting_room.changed_queues([record]) == {}
        assert notifications.send_due([record]) == []
