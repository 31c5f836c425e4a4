"""Webhooks: the registrations, their delivery log, and the durable queue deliveries go through."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chalicelib.domain.entities import Appointment, Page


@dataclass
class Webhook:
    """A receiver an admin registered: where, for which events, and its signing secret sealed."""
    id: int
    url: str
    events: list[str]
    description: str
    is_active: bool
    created_at: str
    sealed_secret: str  # chalicelib.domain.webhooks.seal(); never shown


@dataclass
class Delivery:
    """One attempt to deliver one event to one webhook."""
    webhook: int
    event_id: str
    type: str
    status_code: int | None
    error: str | None
    at: str
    try_number: int


class Webhooks(Protocol):
    def add(self, webhook: Webhook) -> None:
        """Store a new webhook."""

    def get(self, webhook_id: int) -> Webhook | None:
        """The webhook, or None (strongly consistent)."""

    def list_page(self, limit: int, cursor: str | None) -> Page:
        """Webhooks in id order."""

    def active(self) -> list[Webhook]:
        """Every active webhook (a clinic registers a handful)."""

    def save(self, webhook: Webhook) -> bool:
        """Write a changed webhook if it still exists; False when it is gone."""

    def delete(self, webhook_id: int) -> bool:
        """Remove it; False when it was not there."""

    def log(self, delivery: Delivery) -> None:
        """Record one attempt (kept 30 days)."""

    def deliveries_page(self, webhook_id: int, limit: int, cursor: str | None) -> Page:
        """A page of its attempts, latest first."""

    def appointment_changes(self, records: list[dict]) -> list[tuple[Appointment | None, Appointment | None]]:
        """The (before, after) appointments of the appointments table's stream records."""


class DeliveryQueue(Protocol):
    def send(self, message: dict, delay_seconds: int) -> None:
        """Put one delivery on the durable queue, to be handled no sooner than `delay_seconds` (0-900)."""

    def send_many(self, messages: list[dict]) -> list[int]:
        """Put these deliveries on the queue now, in as few calls as it takes; the positions (in
        `messages`) of those it did not take."""
