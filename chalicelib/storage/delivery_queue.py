"""The webhooks' durable delivery queue: SQS when deployed (DQS_WEBHOOK_QUEUE_URL, one message
per delivery, DelaySeconds up to 900; a stream batch's new deliveries go in SendMessageBatch calls
of up to 10). `make run` and the tests install a local queue instead (devtools/webhooks.py) with
`use_local()`: the same messages, handled by the same code."""
from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable

from chalicelib.errors import ConfigurationError
from chalicelib.settings import get_settings

log = logging.getLogger("dqs.webhooks")
BATCH_ENTRIES = 10  # SendMessageBatch's limit
BATCH_BYTES = 256 * 1024  # and its payload's, all entries together

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
    _sqs().send_message(QueueUrl=_queue_url(), MessageBody=json.dumps(message), DelaySeconds=delay)


def send_many(messages: list[dict]) -> list[int]:
    """Queue these messages now, in as few SendMessageBatch calls as SQS allows; the positions of
    those SQS did not take (an entry it refused, or every entry of a call that failed)."""
    if _local is not None:
        for message in messages:
            _local(message, 0)
        return []
    if not messages:
        return []
    from botocore.exceptions import BotoCoreError, ClientError

    url, failed = _queue_url(), []
    for chunk in _chunks([json.dumps(message) for message in messages]):
        try:
            answer = _sqs().send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(position), "MessageBody": body} for position, body in chunk])
        except (BotoCoreError, ClientError) as exc:
            log.warning("SendMessageBatch of %d deliveries failed (%s)", len(chunk), type(exc).__name__)
            failed.extend(position for position, _ in chunk)
            continue
        for entry in answer.get("Failed", []):  # its code only: the body is the clinic's data
            log.warning("SQS refused a delivery (%s)", entry.get("Code"))
            failed.append(int(entry["Id"]))
    return sorted(failed)


def _chunks(bodies: list[str]) -> list[list[tuple[int, str]]]:
    """(position, body) in groups within SendMessageBatch's limits of count and size."""
    chunks: list[list[tuple[int, str]]] = [[]]
    size = 0
    for position, body in enumerate(bodies):
        length = len(body.encode())
        if chunks[-1] and (len(chunks[-1]) == BATCH_ENTRIES or size + length > BATCH_BYTES):
            chunks.append([])
            size = 0
        chunks[-1].append((position, body))
        size += length
    return chunks


def _queue_url() -> str:
    url = get_settings().webhook_queue_url
    if not url:
        raise ConfigurationError("DQS_WEBHOOK_QUEUE_URL is not set: no queue for webhook deliveries.")
    return url


def _sqs():
    global _client
    with _lock:
        if _client is None:
            import boto3

            _client = boto3.client("sqs")
        return _client
