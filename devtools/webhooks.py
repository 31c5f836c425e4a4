"""`make run`'s webhooks, through the deployed code: the entries', appointments' and counters' (the
queue days') streams read as devtools/stream_feed.py reads the entries', handed to the app's own
stream functions (app.webhook_entry_events, app.webhook_appointment_events,
app.webhook_queue_events); and the delivery queue as an in-process queue with delays, whose messages
go to the app's SQS function (app.webhook_deliveries) on worker threads, one message at a time each,
so a slow receiver holds one worker, never the API.
"""
from __future__ import annotations

import heapq
import itertools
import json
import logging
import os
import threading
import time

from devtools.stream_feed import StreamFeed

log = logging.getLogger("dqs.webhooks")
WORKERS = 4
REDELIVER_SECONDS = 30  # as SQS's visibility timeout: a message whose handling failed comes back


class LocalDeliveryQueue:
    """A queue of (due, message) with worker threads calling the delivery function."""

    def __init__(self, workers: int = WORKERS):
        self._heap: list[tuple[float, int, dict]] = []
        self._seq = itertools.count()
        self._ready = threading.Condition()
        self._stop = False
        self.workers = workers

    def send(self, message: dict, delay_seconds: int) -> None:
        with self._ready:
            heapq.heappush(self._heap, (time.monotonic() + delay_seconds, next(self._seq), message))
            self._ready.notify()

    def _next(self) -> dict | None:
        with self._ready:
            while not self._stop:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    return heapq.heappop(self._heap)[2]
                wait = self._heap[0][0] - time.monotonic() if self._heap else 1.0
                self._ready.wait(max(0.01, min(wait, 1.0)))
            return None

    def _work(self) -> None:
        import app

        while (message := self._next()) is not None:
            try:
                app.webhook_deliveries({"Records": [{"body": json.dumps(message), "receiptHandle": "local"}]}, None)
            except Exception:
                log.exception("a webhook delivery failed; it comes back in %s s", REDELIVER_SECONDS)
                self.send(message, REDELIVER_SECONDS)

    def start(self) -> LocalDeliveryQueue:
        from chalicelib.storage import delivery_queue

        delivery_queue.use_local(self.send)
        for n in range(self.workers):
            threading.Thread(target=self._work, name=f"webhook-delivery-{n}", daemon=True).start()
        return self

    def stop(self) -> None:
        from chalicelib.storage import delivery_queue

        delivery_queue.use_local(None)
        with self._ready:
            self._stop = True
            self._ready.notify_all()


def queue_day_changes(records: list[dict], function) -> None:
    """Call `function` as Lambda would, with the records the counters' mapping lets through (if any)."""
    from devtools.event_filter import passes
    from devtools.package.webhooks import QUEUE_DAY_FILTERS

    kept = [record for record in records if passes(QUEUE_DAY_FILTERS, record)]
    if kept:
        function({"Records": kept}, None)


class LocalWebhooks:
    """The delivery queue and both stream feeds, started and stopped together."""

    def __init__(self, endpoint: str, region: str, workers: int = WORKERS):
        import app
        from chalicelib.storage.appointments import AppointmentModel
        from chalicelib.storage.counters import CounterModel
        from chalicelib.storage.queue_entries import QueueEntryModel

        self.queue = LocalDeliveryQueue(workers)
        self.feeds = [
            StreamFeed(endpoint, region, lambda records: app.webhook_entry_events({"Records": records}, None),
                       model=QueueEntryModel),
            StreamFeed(endpoint, region, lambda records: app.webhook_appointment_events({"Records": records}, None),
                       model=AppointmentModel),
            # The queue days (queue.closed, queue.opened) among the other counters: only a day's closing
            # or reopening reaches the function, through the deployed mapping's own filter.
            StreamFeed(endpoint, region, lambda records: queue_day_changes(records, app.webhook_queue_events),
                       model=CounterModel),
        ]

    def start(self) -> LocalWebhooks:
        self.queue.start()
        for feed in self.feeds:
            feed.start()
        return self

    def stop(self) -> None:
        for feed in self.feeds:
            feed.stop()
        self.queue.stop()


def start_local_webhooks() -> list[str]:
    """For local_server: loopback receivers allowed, then the feeds and the delivery workers."""
    from chalicelib.settings import get_settings

    os.environ["DQS_WEBHOOKS_ALLOW_LOOPBACK"] = "1"
    settings = get_settings()
    LocalWebhooks(settings.dynamodb_endpoint, settings.region).start()
    return ["Webhooks: delivered from this process (http to 127.0.0.1, ::1 or localhost allowed)."]
