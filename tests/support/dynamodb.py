"""What is asked of DynamoDB, for tests: every call a botocore client makes to it, the app's
(PynamoDB's connections) and the tests' own (boto3's clients) alike, from any thread.

The calls are seen through botocore's public event system (devtools/calls.py, which bench uses
too): its handler joins every botocore session made after it is imported, so tests/conftest.py
imports this module before any client exists.
"""
from __future__ import annotations

from devtools.calls import add_listener, listening, recording, remove_listener

__all__ = ["add_listener", "listening", "recording", "remove_listener"]
