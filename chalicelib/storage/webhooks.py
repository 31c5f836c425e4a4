"""Webhooks and their delivery log. The `webhooks` table holds the registrations (listed by the
kind index); `webhook-deliveries` one item per attempt, under its webhook, newest last in key
order (to the nanosecond), kept 30 days (TTL)."""
from __future__ import annotations

import time
from datetime import timedelta

from pynamodb.attributes import BooleanAttribute, ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute

from chalicelib.domain.entities import Page
from chalicelib.domain.ports.webhooks import Delivery, Webhook
from chalicelib.domain.values import optional_int, parse_instant
from chalicelib.storage.appointments import changes as appointment_changes  # noqa: F401 (the store's)
from chalicelib.storage.binding import StoredModel, kind_id_index, register
from chalicelib.storage.cursors import query_page
from chalicelib.storage.transactions import get_or_none, written

KIND = "webhook"
KEEP_LOG = timedelta(days=30)


@register
class WebhookModel(StoredModel):
    class Meta:
        table_suffix = "webhooks"

    id = NumberAttribute(hash_key=True)
    kind = UnicodeAttribute(default=KIND)
    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    description = UnicodeAttribute(default="")
    is_active = BooleanAttribute(default=True)
    created_at = UnicodeAttribute()
    sealed_secret = UnicodeAttribute()

    by_kind = kind_id_index()


@register
class WebhookDeliveryModel(StoredModel):
    class Meta:
        table_suffix = "webhook-deliveries"
        ttl_attribute = "expires_at"

    webhook = NumberAttribute(hash_key=True)
    # "<at>#<ns, 20 digits>#<event id>#<try, 4 digits>": time order, within `at`'s second by the
    # nanosecond it was logged (older items, "<at>#<event id>#<try>", sort last in their second).
    key = UnicodeAttribute(range_key=True)
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    status_code = NumberAttribute(null=True)
    error = UnicodeAttribute(null=True)
    at = UnicodeAttribute()
    try_number = NumberAttribute()
    expires_at = TTLAttribute(null=True)


def _webhook(item: WebhookModel) -> Webhook:
    return Webhook(id=int(item.id), url=item.url, events=list(item.events or []), description=item.description or "",
                   is_active=bool(item.is_active), created_at=item.created_at, sealed_secret=item.sealed_secret)


def _model(webhook: Webhook) -> WebhookModel:
    return WebhookModel(webhook.id, kind=KIND, url=webhook.url, events=webhook.events,
                        description=webhook.description, is_active=webhook.is_active,
                        created_at=webhook.created_at, sealed_secret=webhook.sealed_secret)


def add(webhook: Webhook) -> None:
    _model(webhook).save(condition=WebhookModel.id.does_not_exist())


def get(webhook_id: int) -> Webhook | None:
    item = get_or_none(WebhookModel, webhook_id)
    return _webhook(item) if item else None


def list_page(limit: int, cursor: str | None) -> Page:
    return query_page(WebhookModel, WebhookModel.by_kind, "webhooks", limit, cursor, _webhook, hash_key=KIND)


def active() -> list[Webhook]:
    return [_webhook(item) for item in WebhookModel.by_kind.query(KIND) if item.is_active]


def save(webhook: Webhook) -> bool:
    """False when it is gone (a conditional PutItem)."""
    return written(lambda: _model(webhook).save(condition=WebhookModel.id.exists()))


def delete(webhook_id: int) -> bool:
    """False when it was not there (a conditional DeleteItem)."""
    return written(lambda: WebhookModel(webhook_id).delete(condition=WebhookModel.id.exists()))


def log(delivery: Delivery) -> None:
    key = f"{delivery.at}#{time.time_ns():020d}#{delivery.event_id}#{delivery.try_number:04d}"
    WebhookDeliveryModel(delivery.webhook, key,
                         event_id=delivery.event_id, type=delivery.type, status_code=delivery.status_code,
                         error=delivery.error, at=delivery.at, try_number=delivery.try_number,
                         expires_at=parse_instant(delivery.at) + KEEP_LOG).save()


def _delivery(item: WebhookDeliveryModel) -> Delivery:
    return Delivery(int(item.webhook), item.event_id, item.type, optional_int(item.status_code), item.error,
                    item.at, int(item.try_number))


def deliveries_page(webhook_id: int, limit: int, cursor: str | None) -> Page:
    """A page of the webhook's attempts, latest first: one Query."""
    return query_page(WebhookDeliveryModel, WebhookDeliveryModel, f"webhook-deliveries:{webhook_id}", limit, cursor,
                      _delivery, hash_key=webhook_id, scan_index_forward=False)

