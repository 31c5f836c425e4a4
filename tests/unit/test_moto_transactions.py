"""The embedded DynamoDB's transactions (devtools/moto_transactions.py): an undo log instead of
table copies, stream records only for committed transactions, ClientRequestToken honoured."""
from __future__ import annotations

import os

import boto3
import moto
import pytest
from botocore.exceptions import ClientError
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from devtools import moto_transactions

REGION = "us-east-1"


def test_the_patch_is_for_the_moto_this_project_pins():
    assert moto.__version__ == moto_transactions.MOTO_VERSION


@pytest.fixture
def tables(moto_endpoint, monkeypatch):
    """On the embedded DynamoDB (moto's server in this process, as `make run` has it): two tables
    (one with a range key), the first with a stream; no table may be deep-copied."""
    import urllib.request

    moto_transactions.install()

    def refuse(table, memo):
        raise AssertionError("a transaction copied a whole table")

    monkeypatch.setattr(Table, "__deepcopy__", refuse, raising=False)
    urllib.request.urlopen(urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST", headers={
        "X-Dqs-Engine-Key": os.environ["AWS_ACCESS_KEY_ID"]})).read()
    client = boto3.client("dynamodb", region_name=REGION, endpoint_url=moto_endpoint)
    client.create_table(TableName="things", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    client.create_table(TableName="pairs", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                   {"AttributeName": "sk", "KeyType": "RANGE"}],
                        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                              {"AttributeName": "sk", "AttributeType": "S"}])
    for n in range(3):
        client.put_item(TableName="things", Item={"id": {"S": f"t{n}"}, "count": {"N": "0"}})
    client.put_item(TableName="pairs", Item={"pk": {"S": "p"}, "sk": {"S": "1"}, "v": {"S": "one"}})
    yield client


def _backend():
    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def _everything(client) -> dict:
    return {name: sorted(map(str, client.scan(TableName=name)["Items"])) for name in ("things", "pairs")}


def _stream_reader(client):
    streams = boto3.client("dynamodbstreams", region_name=REGION, endpoint_url=client.meta.endpoint_url)
    arn = client.describe_table(TableName="things")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]

    def read() -> list[dict]:
        nonlocal iterator
        answer = streams.get_records(ShardIterator=iterator)
        iterator = answer["NextShardIterator"]
        return answer["Records"]
    return read


def _writes(last_condition: str) -> list[dict]:
    """An update, a put, a delete (each table) and a last condition check on t2."""
    return [
        {"Update": {"TableName": "things", "Key": {"id": {"S": "t0"}}, "UpdateExpression": "ADD #c :one",
                    "ExpressionAttributeNames": {"#c": "count"}, "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        {"Put": {"TableName": "things", "Item": {"id": {"S": "new"}, "count": {"N": "7"}},
                 "ConditionExpression": "attribute_not_exists(id)"}},
        {"Delete": {"TableName": "things", "Key": {"id": {"S": "t1"}}}},
        {"Put": {"TableName": "pairs", "Item": {"pk": {"S": "p"}, "sk": {"S": "2"}, "v": {"S": "two"}}}},
        {"Delete": {"TableName": "pairs", "Key": {"pk": {"S": "p"}, "sk": {"S": "1"}}}},
        {"Update": {"TableName": "pairs", "Key": {"pk": {"S": "q"}, "sk": {"S": "1"}},
                    "UpdateExpression": "SET v = :v", "ExpressionAttributeValues": {":v": {"S": "made"}}}},
        {"ConditionCheck": {"TableName": "things", "Key": {"id": {"S": "t2"}}, "ConditionExpression": last_condition}},
    ]


def test_a_cancelled_transaction_leaves_every_table_and_its_stream_in_place(tables):
    client = tables
    backend = _backend()
    objects = dict(backend.tables)
    shard = backend.tables["things"].stream_shard
    records_before = len(shard.items)
    before = _everything(client)
    read = _stream_reader(client)

    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=_writes("attribute_not_exists(id)"))  # t2 exists: fails

    error = cancelled.value.response
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [r["Code"] for r in error["CancellationReasons"]] == ["None"] * 6 + ["ConditionalCheckFailed"]
    assert backend.tables == objects and all(backend.tables[name] is table for name, table in objects.items())
    assert backend.tables["things"].stream_shard is shard
    assert len(shard.items) == records_before and read() == []
    assert _everything(client) == before
    assert dict(backend.tables["pairs"].items).keys() == {next(iter(backend.tables["pairs"].items))}  # no "q" left

    # The same reader, on the same shard, sees the next committed transaction.
    client.transact_write_items(TransactItems=_writes("attribute_exists(id)"))
    records = read()
    assert [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"]) for r in records] == [
        ("MODIFY", "t0"), ("INSERT", "new"), ("REMOVE", "t1")]
    assert records[0]["dynamodb"]["OldImage"]["count"] == {"N": "0"}
    assert records[0]["dynamodb"]["NewImage"]["count"] == {"N": "1"}
    assert "OldImage" not in records[1]["dynamodb"] and records[1]["dynamodb"]["NewImage"]["count"] == {"N": "7"}
    assert records[2]["dynamodb"]["OldImage"]["id"] == {"S": "t1"} and "NewImage" not in records[2]["dynamodb"]
    assert backend.tables["things"] is objects["things"]
    things = {item["id"]["S"]: item["count"]["N"] for item in client.scan(TableName="things")["Items"]}
    assert things == {"t0": "1", "t2": "0", "new": "7"}
    pairs = {item["sk"]["S"] + item["pk"]["S"]: item["v"]["S"] for item in client.scan(TableName="pairs")["Items"]}
    assert pairs == {"2p": "two", "1q": "made"}


def test_an_update_that_fails_halfway_is_undone(tables):
    client = tables
    before = _everything(client)
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": "things", "Key": {"id": {"S": "t0"}}, "UpdateExpression": "SET a = :a",
                        "ExpressionAttributeValues": {":a": {"S": "x"}}}},
            {"Update": {"TableName": "things", "Key": {"id": {"S": "t1"}},  # ADD to a string: refused
                        "UpdateExpression": "SET #c = :s ADD other :one",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":s": {"S": "text"}, ":one": {"S": "1"}}}},
        ])
    assert cancelled.value.response["Error"]["Code"] in ("TransactionCanceledException", "ValidationException")
    assert _everything(client) == before


def test_a_retried_transaction_with_its_token_is_answered_as_the_first_was(tables):
    client = tables
    read = _stream_reader(client)
    add_one = [{"Update": {"TableName": "things", "Key": {"id": {"S": "t0"}}, "UpdateExpression": "ADD #c :one",
                           "ConditionExpression": "#c < :limit", "ExpressionAttributeNames": {"#c": "count"},
                           "ExpressionAttributeValues": {":one": {"N": "1"}, ":limit": {"N": "1"}}}}]

    client.transact_write_items(TransactItems=add_one, ClientRequestToken="token-1")
    # A retry whose first answer was lost: success, and nothing applied again (the condition
    # would now fail if it were evaluated again).
    client.transact_write_items(TransactItems=add_one, ClientRequestToken="token-1")
    count = client.get_item(TableName="things", Key={"id": {"S": "t0"}})["Item"]["count"]
    assert count == {"N": "1"}
    assert len(read()) == 1

    # A committed write that changes nothing streams nothing, as DynamoDB Streams.
    client.transact_write_items(TransactItems=[
        {"Update": {"TableName": "things", "Key": {"id": {"S": "t0"}}, "UpdateExpression": "SET #c = :same",
                    "ExpressionAttributeNames": {"#c": "count"}, "ExpressionAttributeValues": {":same": {"N": "1"}}}},
        {"Update": {"TableName": "things", "Key": {"id": {"S": "t1"}}, "UpdateExpression": "SET #c = :two",
                    "ExpressionAttributeNames": {"#c": "count"}, "ExpressionAttributeValues": {":two": {"N": "2"}}}}])
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in read()] == ["t1"]

    with pytest.raises(ClientError) as mismatch:
        client.transact_write_items(TransactItems=_writes("attribute_exists(id)"), ClientRequestToken="token-1")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"

    # Another token is another transaction: evaluated, and cancelled by its condition.
    with pytest.raises(ClientError) as cancelled:
        client.transact_write_items(TransactItems=add_one, ClientRequestToken="token-2")
    assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
    # A cancelled transaction's token is not kept: once the condition holds, its retry applies.
    client.update_item(TableName="things", Key={"id": {"S": "t0"}}, UpdateExpression="SET #c = :zero",
                       ExpressionAttributeNames={"#c": "count"}, ExpressionAttributeValues={":zero": {"N": "0"}})
    client.transact_write_items(TransactItems=add_one, ClientRequestToken="token-2")
    assert client.get_item(TableName="things", Key={"id": {"S": "t0"}})["Item"]["count"] == {"N": "1"}


def test_the_token_is_forgotten_after_ten_minutes(tables, monkeypatch):
    client = tables
    add_one = [{"Update": {"TableName": "things", "Key": {"id": {"S": "t0"}}, "UpdateExpression": "ADD #c :one",
                           "ExpressionAttributeNames": {"#c": "count"},
                           "ExpressionAttributeValues": {":one": {"N": "1"}}}}]
    client.transact_write_items(TransactItems=add_one, ClientRequestToken="token-3")
    later = moto_transactions.time.monotonic() + moto_transactions.TOKEN_SECONDS + 1
    monkeypatch.setattr(moto_transactions.time, "monotonic", lambda: later)
    client.transact_write_items(TransactItems=add_one, ClientRequestToken="token-3")
    assert client.get_item(TableName="things", Key={"id": {"S": "t0"}})["Item"]["count"] == {"N": "2"}
