"""What the app asks of DynamoDB: every call PynamoDB dispatches, recorded for tests.

Each model has its own connection, so the calls are seen where they all pass,
at `Connection.dispatch`, rather than on one botocore client.
"""
from __future__ import annotations

import contextlib
import threading

from pynamodb.connection.base import Connection

_listeners: list = []
_lock = threading.Lock()
_original_dispatch = Connection.dispatch


def _dispatch(self, operation_name, operation_kwargs):
    for listener in list(_listeners):
        listener(operation_name, operation_kwargs)
    return _original_dispatch(self, operation_name, operation_kwargs)


Connection.dispatch = _dispatch


@contextlib.contextmanager
def listening(listener):
    """Call `listener(operation_name, kwargs)` for every DynamoDB call made inside the block."""
    with _lock:
        _listeners.append(listener)
    try:
        yield
    finally:
        with _lock:
            _listeners.remove(listener)


@contextlib.contextmanager
def recording():
    """A list that fills with the operation name of every DynamoDB call made inside the block."""
    calls: list[str] = []
    with listening(lambda name, _kwargs: calls.append(name)):
        yield calls
