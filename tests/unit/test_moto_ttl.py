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


def _fresh_backend() -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables.clear()


def test_expired_items_are_deleted_with_a_ttl_stream_record_and_stay_deleted(tmp_path):
    from devtools.local_server import start_embedded_dynamodb

    _fresh_backend()
    server, endpoint = start_embedded_dynamodb(tmp_path)
    try:
        client, streams = _clients(endpoint)
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
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
    server, endpoint = start_embedded_dynamodb(tmp_path)
    try:
        client, _ = _clients(endpoint)
        assert server.restored.expired == 1
        assert {item["id"]["S"] for item in client.scan(TableName=TABLE)["Items"]} == {"later", "text", "ancient",
                                                                                         "never"}
    finally:
        server.stop()
        _fresh_backend()


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
