"""The health check's rules, on the in-memory stores."""
from __future__ import annotations

import pytest

from chalicelib.domain import health
from chalicelib.errors import Unavailable


def test_healthy_when_storage_answers_and_the_secret_is_there(fakes):
    assert health.check("1.2") == {"status": "ok", "version": "1.2", "checks": {"dynamodb": "ok", "secret": "ok"}}
    assert fakes.probe.pings == 1


def test_storage_that_does_not_answer_is_named(fakes, caplog):
    fakes.probe.failure = ConnectionError("dqs-dev-counters at 10.0.0.1")
    with pytest.raises(Unavailable) as raised:
        health.check("1.2")
    assert raised.value.extra["checks"] == {"dynamodb": "failing", "secret": "ok"}
    assert "dynamodb" in raised.value.message
    assert "ConnectionError" in caplog.text and "10.0.0.1" not in caplog.text


def test_a_missing_secret_is_named(fakes, monkeypatch):
    monkeypatch.delenv("DQS_JWT_SECRET", raising=False)
    monkeypatch.delenv("DQS_JWT_SECRET_PARAM", raising=False)
    with pytest.raises(Unavailable) as raised:
        health.check("1.2")
    assert raised.value.extra["checks"] == {"dynamodb": "ok", "secret": "failing"}
