"""What is asked of DynamoDB: every call a botocore client makes to it, seen by tests.

botocore announces each call on its clients' event system before it builds the
request (`before-parameter-build.dynamodb.<Operation>`, with the call's parameters
as given). PynamoDB's connections and boto3's clients alike are botocore clients,
and each of them takes its event handlers from the session that made it; every
new botocore session registers the handlers listed in `botocore.handlers.BUILTIN_HANDLERS`.
One handler is added to that list (as moto's `mock_aws` adds its own), when this
module is imported: first thing in tests/conftest.py, before any client exists.

A listener gets every call, the app's and the tests' own; a call made
under moto's mock_aws and one sent to moto's server over HTTP are seen alike.
"""
from __future__ import annotations

import contextlib
import threading

import botocore.handlers

EVENT = "before-parameter-build.dynamodb"

_listeners: list = []
_lock = threading.Lock()


def _announced(params, model, **_):
    for listener in list(_listeners):
        listener(model.name, params)


if (EVENT, _announced) not in botocore.handlers.BUILTIN_HANDLERS:
    botocore.handlers.BUILTIN_HANDLERS.append((EVENT, _announced))


def add_listener(listener) -> None:
    """Call `listener(operation_name, params)` for every DynamoDB call from now on."""
    with _lock:
        _listeners.append(listener)


def remove_listener(listener) -> None:
    with _lock:
        _listeners.remove(listener)


@contextlib.contextmanager
def listening(listener):
    """Call `listener(operation_name, params)` for every DynamoDB call made inside the block."""
    add_listener(listener)
    try:
        yield
    finally:
        remove_listener(listener)


@contextlib.contextmanager
def recording():
    """A list that fills with the operation name of every DynamoDB call made inside the block."""
    calls: list[str] = []
    with listening(lambda name, _params: calls.append(name)):
        yield calls
