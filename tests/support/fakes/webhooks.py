"""Webhooks, their delivery log and the delivery queue, in memory."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from chalicelib.domain.entities import Page
from chalicelib.domain.ports.webhooks import Delivery, Webhook
from chalicelib.errors import ValidationFailed
from tests.support.fakes.memory import MemoryDb


class MemoryWebhooks:
    def __init__(self, db: MemoryDb):
        self.db = db
        self.rows: dict[int, Webhook] = db.table("webhooks")
        self.log_items: list[Delivery] = []

    def add(self, webhook: Webhook) -> None:
        with self.db.lock:
            self.rows[webhook.id] = replace(webhook)

    def get(self, webhook_id: int) -> Webhook | None:
        stored = self.rows.get(webhook_id)
        return replace(stored) if stored else None

    def list_page(self, limit: int, cursor: str | None) -> Page:
        return Page([replace(self.rows[k]) for k in sorted(self.rows)][:limit], None)

    def active(self) -> list[Webhook]:
        return [replace(w) for w in self.rows.values() if w.is_active]

    def save(self, webhook: Webhook) -> bool:
        with self.db.lock:
            if webhook.id not in self.rows:
                return False
            self.rows[webhook.id] = replace(webhook)
            return True

    def delete(self, webhook_id: int) -> bool:
        with self.db.lock:
            return self.rows.pop(webhook_id, None) is not None

    def log(self, delivery: Delivery) -> None:
        with self.db.lock:
            self.log_items.append(delivery)

    def deliveries_page(self, webhook_id: int, limit: int, cursor: str | None) -> Page:
        """Latest first; the cursor is an offset, as the other fakes' pages."""
        if cursor is not None and not cursor.isdigit():
            raise ValidationFailed.field("cursor", "Invalid or expired cursor.")
        items = [replace(d) for d in reversed(self.log_items) if d.webhook == webhook_id]
        start = int(cursor or 0)
        end = start + limit
        return Page(items[start:end], str(end) if end < len(items) else None)

    def appointment_changes(self, records: list[dict]) -> list:
        """Records as the fakes' tests write them: {"old": Appointment | None, "new": Appointment | None}."""
        return [(r.get("old"), r.get("new")) for r in records]


class MemoryDeliveryQueue:
    """Messages sent, with their delays, in order; a test hands them to webhooks.deliver()."""

    def __init__(self):
        self.sent: list[tuple[dict, int]] = []
        self.calls = 0  # send and send_many calls, as SQS calls
        self.refuse: Callable[[dict], bool] = lambda message: False  # a test's failing entries

    def send(self, message: dict, delay_seconds: int) -> None:
        self.calls += 1
        self.sent.append((message, delay_seconds))

    def send_many(self, messages: list[dict]) -> list[int]:
        """As SendMessageBatch: up to 10 a call; the refused ones are not queued."""
        self.calls += -(-len(messages) // 10)
        failed = [position for position, message in enumerate(messages) if self.refuse(message)]
        self.sent.extend((message, 0) for position, message in enumerate(messages) if position not in failed)
        return failed
