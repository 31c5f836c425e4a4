"""The webhooks' durable delivery queue: SQS when deployed (DQS_WEBHOOK_QUEUE_URL, one message
per delivery, DelaySeconds up to 900). `make run` and the tests install a local queue instead
(devtools/webhooks.py) with `use_local()`: the same messages, handled by the same code."""
from __future__ import annotations

import json
import threading
from collections.abc import Callable

from chalicelib.errors import ConfigurationError
from chalicelib.settings import get_settings

_local: Callable[[dict, int], None] | None = None
_client = None
_lock = threading.Lock()


def use_local(sink: Callable[[dict, int], None] | None) -> None:
    """Send deliveries to `sink(message, delay_seconds)` instead of SQS (None: SQS again)."""
    global _local
    _local = sink


def send(message: dict, delay_seconds: int) -> None:
    delay = max(0, min(900, int(delay_seconds)))
    if _local is not None:
        _local(message, delay)
        return
    url = get_settings().webhook_queue_url
    if not url:
        raise ConfigurationError("DQS_WEBHOOK_QUEUE_URL is not set: no queue for webhook deliveries.")
    _sqs().send_message(QueueUrl=url, MessageBody=json.dumps(message), DelaySeconds=delay)


def _sqs():
    global _client
    with _lock:
        if _client is None:
            import boto3

            _client = boto3.client("sqs")
        return _client
