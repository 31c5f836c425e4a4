"""devtools/overrides.fast_dynamodb_results: moto's answers to the item operations written with
json.dumps give botocore the same parsed answers as moto's own serializer, for every item
operation, every attribute type, and the keys an answer may or may not carry."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws
from moto.dynamodb.responses import DynamoHandler

from devtools import overrides

ITEM = {
    "id": {"S": "a"}, "n": {"N": "12.50"}, "t": {"BOOL": True}, "z": {"NULL": True},
    "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2"]},
    "l": {"L": [{"S": "é\u2028"}, {"N": "-1"}, {"M": {"deep": {"L": []}}}]}, "m": {"M": {"k": {"S": ""}}},
}
# Bytes, which JSON cannot hold as they are: answered by moto's serializer.
BINARY = {"id": {"S": "bin"}, "b": {"B": b"\x00\xffbytes"}, "bs": {"BS": [b"\x01", b"\x02"]}}
PLAIN = {"id": {"S": "b"}, "kind": {"S": "plain"}, "n": {"N": "3"}}


def _script(client) -> list:
    """Every item operation, answered with and without items, capacity and metrics."""
    answers = []

    def run(operation, **params):
        try:
            answer = getattr(client, operation)(**params)
        except client.exceptions.ClientError as error:
            answer = error.response
        answer.pop("ResponseMetadata", None)
        answers.append((operation, answer))

    capacity = {"ReturnConsumedCapacity": "TOTAL"}
    run("put_item", TableName="things", Item=ITEM, ReturnValues="ALL_OLD")
    run("put_item", TableName="things", Item=PLAIN, ReturnItemCollectionMetrics="SIZE", **capacity)
    run("put_item", TableName="things", Item=PLAIN, ReturnValues="ALL_OLD", **capacity)
    run("get_item", TableName="things", Key={"id": {"S": "a"}})
    run("get_item", TableName="things", Key={"id": {"S": "b"}}, ProjectionExpression="kind", **capacity)
    run("get_item", TableName="things", Key={"id": {"S": "none"}})
    run("put_item", TableName="things", Item=BINARY)
    run("get_item", TableName="things", Key={"id": {"S": "bin"}})
    run("update_item", TableName="things", Key={"id": {"S": "b"}}, UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}}, ReturnValues="ALL_NEW", **capacity)
    run("update_item", TableName="things", Key={"id": {"S": "b"}}, UpdateExpression="SET kind = :k",
        ExpressionAttributeValues={":k": {"S": "x"}}, ConditionExpression="attribute_not_exists(id)")
    run("query", TableName="things", KeyConditionExpression="id = :a",
        ExpressionAttributeValues={":a": {"S": "a"}}, **capacity)
    run("query", TableName="things", IndexName="by-kind", KeyConditionExpression="kind = :k",
        ExpressionAttributeValues={":k": {"S": "x"}}, Limit=1)
    run("scan", TableName="things", Limit=1)
    run("scan", TableName="things", Select="COUNT")
    run("batch_get_item", RequestItems={"things": {"Keys": [{"id": {"S": "a"}}, {"id": {"S": "b"}}]}})
    run("batch_write_item", RequestItems={"things": [{"PutRequest": {"Item": {"id": {"S": "c"}}}},
                                                     {"DeleteRequest": {"Key": {"id": {"S": "none"}}}}]})
    run("transact_get_items", TransactItems=[{"Get": {"TableName": "things", "Key": {"id": {"S": "a"}}}}])
    run("transact_write_items", TransactItems=[
        {"Put": {"TableName": "things", "Item": {"id": {"S": "d"}}, "ConditionExpression": "attribute_not_exists(id)"}},
        {"Update": {"TableName": "things", "Key": {"id": {"S": "c"}}, "UpdateExpression": "SET kind = :k",
                    "ExpressionAttributeValues": {":k": {"S": "y"}}}}])
    run("transact_write_items", TransactItems=[
        {"ConditionCheck": {"TableName": "things", "Key": {"id": {"S": "d"}},
                            "ConditionExpression": "attribute_not_exists(id)"}}])
    run("delete_item", TableName="things", Key={"id": {"S": "a"}}, ReturnValues="ALL_OLD", **capacity)
    run("delete_item", TableName="things", Key={"id": {"S": "none"}})
    return answers


def _answers() -> list:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="things", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"},
                                  {"AttributeName": "kind", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[{"IndexName": "by-kind", "Projection": {"ProjectionType": "ALL"},
                                     "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}]}])
        return _script(client)


def test_every_item_operation_parses_the_same_as_with_motos_serializer(monkeypatch):
    overrides.fast_dynamodb_results()  # the suite installs it (tests/conftest.py); here it must be in place
    fast = DynamoHandler.serialized
    assert hasattr(fast, "moto_serialized")
    used = []
    monkeypatch.setattr(DynamoHandler, "serialized", lambda self, result: used.append(1) or fast(self, result))
    with_fast = _answers()
    monkeypatch.setattr(DynamoHandler, "serialized", fast.moto_serialized)
    with_moto = _answers()
    assert len(with_fast) == len(with_moto) == 21 and used
    for (operation, mine), (_, theirs) in zip(with_fast, with_moto, strict=True):
        assert mine == theirs, operation
    # The script reaches each kind of answer it means to: items, none, capacity, a refused condition.
    answers = [answer for _, answer in with_moto]
    assert answers[0] == {} and answers[3]["Item"]["l"]["L"][0]["S"] == "é\u2028"
    assert "Item" not in answers[5] and "ConsumedCapacity" in answers[4]
    assert answers[7]["Item"]["b"]["B"] == b"\x00\xffbytes"
    assert answers[9]["Error"]["Code"] == "ConditionalCheckFailedException"
    assert answers[18]["Error"]["Code"] == "TransactionCanceledException"


@pytest.mark.parametrize("operation", sorted(overrides.ITEM_OPERATIONS))
def test_each_item_operation_is_one_dynamodb_knows(operation):
    from botocore.session import get_session

    assert operation in get_session().get_service_model("dynamodb").operation_names


def test_the_kept_method_names_are_the_handlers():
    from moto.core import responses

    overrides.fast_dynamodb_results()
    names = responses.method_names_from_class(DynamoHandler)
    assert {"get_item", "transact_write_items", "call_action"} <= set(names)
    assert responses.method_names_from_class(DynamoHandler) is names  # kept, not listed again
