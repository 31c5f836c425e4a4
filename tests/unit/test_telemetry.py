"""One JSON line per invocation, with its counts as CloudWatch Embedded Metric Format."""
from __future__ import annotations

import json

import pytest

from chalicelib import telemetry
from tests.support.queue_world import world_fixture  # noqa: F401 (the `world` fixture)


@pytest.fixture
def lines(monkeypatch):
    written: list[dict] = []
    monkeypatch.setattr(telemetry._lines, "info", lambda text: written.append(json.loads(text)))
    return written


def test_a_line_per_invocation_with_its_counts_as_metrics(lines):
    with telemetry.invocation("queue_changes", "req-1") as line:
        telemetry.count("MessagesSent", 2)
        telemetry.count("MessagesFailed")
        telemetry.count("NotAMetric")
        line["queues"] = 3
    [line] = lines
    assert line["function"] == "queue_changes" and line["request_id"] == "req-1" and line["outcome"] == "ok"
    assert line["duration_ms"] >= 0 and line["queues"] == 3
    assert line["MessagesSent"] == 2 and line["MessagesFailed"] == 1 and line["NotAMetric"] == 1
    [directive] = line["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == telemetry.NAMESPACE and directive["Dimensions"] == [["function"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"MessagesSent", "MessagesFailed"}
    assert isinstance(line["_aws"]["Timestamp"], int)


def test_a_failed_invocation_is_logged_with_the_exception_class_only(lines):
    with pytest.raises(KeyError), telemetry.invocation("queue_reset", None):
        raise KeyError("+15550001111")
    [line] = lines
    assert line["outcome"] == "error" and line["error"] == "KeyError" and line["Errors"] == 1
    assert "+15550001111" not in json.dumps(line)


def test_counts_belong_to_their_own_invocation(lines):
    telemetry.count("Joins")  # outside any invocation: nowhere
    with telemetry.invocation("api", "a"):
        telemetry.count("Joins")
        with telemetry.invocation("inner", "b"):
            telemetry.count("Calls")
        telemetry.count("Joins")
    inner, outer = lines
    assert inner.get("Calls") == 1 and "Joins" not in inner
    assert outer.get("Joins") == 2 and "Calls" not in outer
    with telemetry.invocation("quiet", None):
        pass
    assert "_aws" not in lines[-1]


def test_logged_handlers_put_plain_results_in_their_line(lines):
    @telemetry.logged("queue_reset")
    def handler(event):
        return {"expired": 4, "details": [1, 2], "note": None}

    class Context:
        aws_request_id = "lambda-req"

    class Event:
        context = Context()

    assert handler(Event()) == {"expired": 4, "details": [1, 2], "note": None}
    [line] = lines
    assert line["request_id"] == "lambda-req" and line["expired"] == 4 and "details" not in line


def test_joins_and_calls_are_counted_in_the_invocation_that_made_them(world, lines):
    from chalicelib.domain.queue import JoinRequest, call_next, join
    from tests.support.queue_world import CARDIOLOGY, STAFF

    with telemetry.invocation("api", "join"):
        join(STAFF, JoinRequest(patient_id=1, department=CARDIOLOGY))
    with telemetry.invocation("api", "call"):
        call_next(STAFF, CARDIOLOGY)
    joined, called = lines
    assert joined["Joins"] == 1 and "Calls" not in joined
    assert called["Calls"] == 1 and "Joins" not in called
