"""Every call made to DynamoDB in this process, seen through botocore's public event system:
the benchmark counts them (bench/), and the tests can too.

botocore announces each call on its client's events before it builds the request
(`before-parameter-build.dynamodb.<Operation>`, with the parameters as given). PynamoDB's
connections and boto3's clients are botocore clients alike, and each takes its handlers from
the session that made it; every new botocore session registers those listed in
`botocore.handlers.BUILTIN_HANDLERS`. One handler is added to that list when this module is
imported (as moto's mock_aws adds its own), so it must be imported before the first client is
made: bench/harness.py imports it at the top.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator

import botocore.handlers

EVENT = "before-parameter-build.dynamodb"

Listener = Callable[[str, dict], None]
_listeners: list[Listener] = []
_lock = threading.Lock()


def _announced(params, model, **_) -> None:
    for listener in list(_listeners):
        listener(model.name, params)


if (EVENT, _announced) not in botocore.handlers.BUILTIN_HANDLERS:
    botocore.handlers.BUILTIN_HANDLERS.append((EVENT, _announced))


def add_listener(listener: Listener) -> None:
    """Call `listener(operation_name, params)` for every DynamoDB call from now on, from any thread."""
    with _lock:
        _listeners.append(listener)


def remove_listener(listener: Listener) -> None:
    with _lock:
        _listeners.remove(listener)


@contextlib.contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Call `listener(operation_name, params)` for every DynamoDB call made inside the block."""
    add_listener(listener)
    try:
        yield
    finally:
        remove_listener(listener)


@contextlib.contextmanager
def recording() -> Iterator[list[str]]:
    """A list that fills with the operation name of every DynamoDB call made inside the block."""
    calls: list[str] = []
    lock = threading.Lock()

    def record(name: str, _params: dict) -> None:
        with lock:
            calls.append(name)

    with listening(record):
        yield calls
