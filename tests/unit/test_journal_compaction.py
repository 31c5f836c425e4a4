"""The local data journal is compacted by its records against the live items, not only by its bytes
(devtools/journal.py): a restart replays at most a tenth of the items' count in requests."""
from __future__ import annotations

import boto3

from devtools import journal as journal_module

REGION = "eu-west-2"  # tables of its own, apart from the other tests' moto server in this process
TABLE = "journal-things"


def _fresh_backend() -> None:
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].reset()  # as a new process would have it


def test_many_small_writes_to_few_items_are_compacted_and_a_restart_replays_few(tmp_path, monkeypatch):
    from devtools.local_server import start_embedded_dynamodb

    monkeypatch.setattr(journal_module, "COMPACT_MIN_RECORDS", 20)
    # Only this test's region: the process's other tests keep tables of their own in moto's us-east-1.
    monkeypatch.setattr(journal_module, "DEFAULT_REGIONS", (REGION,))
    _fresh_backend()
    server, endpoint = start_embedded_dynamodb(tmp_path, access_key="local")
    try:
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="local",
                              aws_secret_access_key="local")
        client.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        for _ in range(70):  # 70 small transactions on 2 items: a few hundred bytes each, far below any size limit
            client.transact_write_items(TransactItems=[
                {"Update": {"TableName": TABLE, "Key": {"id": {"S": key}}, "UpdateExpression": "ADD hits :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}} for key in ("a", "b")])
        assert server.journal.compactions >= 1 + 3  # the start's, then one every 21 records
        assert server.journal.appended <= 20
        lines = (tmp_path / journal_module.JOURNAL_FILE).read_bytes().count(b"\n")
        assert lines <= 20 + 3  # CreateTable and the items' chunk, then at most 20 appended
    finally:
        server.stop()
    _fresh_backend()
    server, endpoint = start_embedded_dynamodb(tmp_path, access_key="local")
    try:
        assert server.restored.records <= 23 and server.restored.items == 2 and server.restored.failed == 0
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=endpoint, aws_access_key_id="local",
                              aws_secret_access_key="local")
        hits = {item["id"]["S"]: item["hits"]["N"] for item in client.scan(TableName=TABLE)["Items"]}
        assert hits == {"a": "70", "b": "70"}
    finally:
        server.stop()
        _fresh_backend()
