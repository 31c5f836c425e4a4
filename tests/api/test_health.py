"""GET /health/: 200 when DynamoDB and the secret answer, 503 naming what fails; no login, no data."""
from __future__ import annotations

import boto3

from chalicelib.storage.counters import CounterModel
from tests.support.dynamodb import recording


def test_healthy(api):
    with recording() as calls:
        response = api.get("/health/")
    assert response.status == 200, response
    assert response.body["status"] == "ok" and response.body["checks"] == {"dynamodb": "ok", "secret": "ok"}
    assert response.body["version"]
    assert calls == ["GetItem"]  # one cheap read


def test_storage_down_is_a_503_naming_dynamodb(api):
    boto3.client("dynamodb", region_name="us-east-1").delete_table(TableName=CounterModel.Meta.table_name)
    response = api.get("/health")
    assert response.status == 503, response
    assert response.body["Code"] == "ServiceUnavailableError"
    assert response.body["checks"] == {"dynamodb": "failing", "secret": "ok"}
    assert "dqs" not in response.body["Message"]  # no table names or hosts in the answer


def test_a_missing_secret_is_a_503_naming_the_secret(api, monkeypatch):
    monkeypatch.delenv("DQS_JWT_SECRET")
    monkeypatch.delenv("DQS_JWT_SECRET_PARAM", raising=False)
    response = api.get("/health/")
    assert response.status == 503 and response.body["checks"] == {"dynamodb": "ok", "secret": "failing"}
