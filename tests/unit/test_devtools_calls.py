"""devtools/calls.py: every DynamoDB call, from boto3's clients and PynamoDB's connections alike,
from any thread, seen through botocore's event system while a listener is attached, and only then."""
from __future__ import annotations

import threading

import boto3
from moto import mock_aws
from pynamodb.connection import Connection

from devtools.calls import listening, recording


def test_calls_are_recorded_inside_the_block_only():
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
        pynamodb = Connection(region="us-east-1")
        with recording() as calls:
            client.put_item(TableName="t", Item={"k": {"S": "a"}})
            pynamodb.list_tables()
            worker = threading.Thread(target=lambda: client.get_item(TableName="t", Key={"k": {"S": "a"}}))
            worker.start()
            worker.join()
        client.delete_item(TableName="t", Key={"k": {"S": "a"}})
    assert calls == ["PutItem", "ListTables", "GetItem"]


def test_a_listener_gets_each_calls_parameters():
    seen = []
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        with listening(lambda name, params: seen.append((name, params))):
            client.list_tables(Limit=5)
    assert seen == [("ListTables", {"Limit": 5})]
