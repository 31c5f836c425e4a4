"""What each invocation did, for an operator: one JSON log line per invocation of every
function, with its business counts as CloudWatch Embedded Metric Format (EMF), so
CloudWatch turns them into metrics with no agent, no API call and no dependency.

A line holds ids, names of operations, outcomes, durations and counts: never a body,
a name, a phone number, an email address, a message's text or a token.

    with invocation("queue_reset", request_id) as line:
        line["expired"] = 3
    count("MessagesSent")   # anywhere during an invocation: summed into its line

Lines go to stdout through the `dqs.invocations` logger at INFO, whatever the root
logger's level (Lambda's is WARNING), so they are never dropped.
"""
from __future__ import annotations

import functools
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

NAMESPACE = "DigitalQueueSystem"
# The counts published as metrics; anything else counted stays in the line only.
METRICS = ("WebhooksDelivered", "WebhooksFailed",
           "Joins", "Calls", "MessagesSent", "MessagesFailed", "SmsSent", "EmailsSent", "RemindersSent",
           "Errors", "Pushes", "PushesFailed", "RecordsFailed")

logger = logging.getLogger("dqs")
_lines = logging.getLogger("dqs.invocations")
if not _lines.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _lines.addHandler(_handler)
    _lines.propagate = False
# The app's own loggers speak at INFO on Lambda too (its root logger stays at WARNING).
logger.setLevel(logging.INFO)
_lines.setLevel(logging.INFO)

_current = threading.local()


def count(metric: str, value: int = 1) -> None:
    """Add to a count of the invocation running on this thread (nothing outside one)."""
    counts = getattr(_current, "counts", None)
    if counts is not None:
        counts[metric] = counts.get(metric, 0) + value


def emf(function: str, counts: dict[str, int], timestamp_ms: int) -> dict[str, Any]:
    """The EMF part of a line: the counts that are metrics, by function."""
    metrics = {name: value for name, value in counts.items() if name in METRICS}
    if not metrics:
        return {}
    return {
        "_aws": {"Timestamp": timestamp_ms, "CloudWatchMetrics": [{
            "Namespace": NAMESPACE, "Dimensions": [["function"]],
            "Metrics": [{"Name": name, "Unit": "Count"} for name in metrics],
        }]},
        **metrics,
    }


@contextmanager
def invocation(function: str, request_id: str | None) -> Iterator[dict[str, Any]]:
    """Time one invocation and write its line when it ends, whether it returned or raised.

    The caller may add plain fields (ids, numbers, outcomes) to the dict it gets; `outcome`
    is "ok" unless the caller set another, or "error" with the exception's class name.
    """
    line: dict[str, Any] = {"function": function, "request_id": request_id}
    outer = getattr(_current, "counts", None)
    _current.counts = counts = {}
    started = time.perf_counter()
    try:
        yield line
        line.setdefault("outcome", "ok")
    except BaseException as exc:
        line["outcome"] = "error"
        line["error"] = type(exc).__name__
        count("Errors")
        raise
    finally:
        _current.counts = outer
        line["duration_ms"] = round((time.perf_counter() - started) * 1000, 2)
        line.update(counts)
        line.update(emf(function, counts, int(time.time() * 1000)))
        _lines.info(json.dumps(line, default=str))


def request_id_of(event) -> str | None:
    """The Lambda request id of a Chalice event (None where there is no Lambda context)."""
    context = getattr(event, "context", None)
    return getattr(context, "aws_request_id", None) if context is not None else None


def logged(function: str) -> Callable[[Callable], Callable]:
    """A Lambda handler writing one invocation line; the plain values of a dict it returns
    (counts, ids) go into the line too."""
    def wrap(handler: Callable) -> Callable:
        @functools.wraps(handler)
        def run(event, *args):
            with invocation(function, request_id_of(event)) as line:
                result = handler(event, *args)
                if isinstance(result, dict):
                    line.update({key: value for key, value in result.items()
                                 if value is None or isinstance(value, int | float | str)})
                return result
        return run
    return wrap
