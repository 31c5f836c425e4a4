"""Webhooks (admin only): register, list, change, remove, the delivery log, and a ping."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import page_json, parse_id, route
from chalicelib.domain import webhooks
from chalicelib.domain.permissions import ADMIN
from chalicelib.domain.ports.webhooks import Delivery, Webhook
from chalicelib.schema import Bool, Choice, FieldError, Int, List, Schema, Str
from chalicelib.telemetry import count

bp = Blueprint(__name__)
TAG = "webhooks"


class EventList(List):
    """A non-empty list of the events a webhook may receive."""

    def __init__(self, **kw):
        super().__init__(Choice(webhooks.EVENTS), **kw)

    def convert(self, value):
        if (not isinstance(value, list) or not value or len(value) > len(webhooks.EVENTS)
                or not all(isinstance(v, str) and v in webhooks.EVENTS for v in value)):
            raise FieldError(f"Give a list of events among: {', '.join(webhooks.EVENTS)}.")
        return value

    def extra_schema(self) -> dict:
        return {**super().extra_schema(), "minItems": 1, "maxItems": len(webhooks.EVENTS)}


_URL = Str(max_length=webhooks.MAX_URL, description="https, to a public address (locally also http to 127.0.0.1, "
                                                    "::1 or localhost).")
WEBHOOK_CREATE = Schema("WebhookCreate", {
    "url": Str(max_length=webhooks.MAX_URL, required=True, description=_URL.description),
    "events": EventList(required=True, description="The events to receive."),
    "description": Str(max_length=500, min_length=0),
})
WEBHOOK_UPDATE = Schema("WebhookUpdate", {"url": _URL, "events": EventList(), "is_active": Bool()})
_WEBHOOK_FIELDS = {
    "id": Int(), "url": Str(max_length=webhooks.MAX_URL), "events": List(Choice(webhooks.EVENTS)),
    "description": Str(max_length=500, min_length=0), "is_active": Bool(), "created_at": Str(max_length=40),
}
WEBHOOK = Schema("Webhook", _WEBHOOK_FIELDS)
NEW_WEBHOOK = Schema("NewWebhook", {**_WEBHOOK_FIELDS, "secret": Str(
    max_length=100, description="The signing secret: shown this once, never again.")})
DELIVERY = Schema("WebhookDelivery", {
    "event_id": Str(max_length=100), "type": Str(max_length=40),
    "status_code": Int(nullable=True, minimum=100, maximum=599), "error": Str(max_length=500, nullable=True),
    "at": Str(max_length=40), "try": Int(),
})
PING = Schema("WebhookPing", {"id": Str(max_length=100), "type": Str(max_length=10),
                              "created_at": Str(max_length=40)})


def webhook_json(webhook: Webhook) -> dict:
    return {"id": webhook.id, "url": webhook.url, "events": webhook.events, "description": webhook.description,
            "is_active": webhook.is_active, "created_at": webhook.created_at}


def delivery_json(delivery: Delivery) -> dict:
    return {"event_id": delivery.event_id, "type": delivery.type, "status_code": delivery.status_code,
            "error": delivery.error, "at": delivery.at, "try": delivery.try_number}


@route(bp, "/webhooks", "POST", summary="Register a webhook; the answer shows its signing secret, once",
       tag=TAG, roles=(ADMIN,), status=201, body=WEBHOOK_CREATE, response=NEW_WEBHOOK)
def create(ctx):
    body = ctx.body()
    webhook, secret = webhooks.register(body["url"], body["events"], body.get("description") or "")
    return {**webhook_json(webhook), "secret": secret}


@route(bp, "/webhooks", "GET", summary="The webhooks, in id order (never their secrets)", tag=TAG,
       roles=(ADMIN,), many=True, response=WEBHOOK)
def list_webhooks(ctx):
    limit, cursor, _ = ctx.page()
    return page_json(webhooks.list_page(limit, cursor), webhook_json)


@route(bp, "/webhooks/{webhook_id}", "GET", summary="One webhook (never its secret)", tag=TAG, roles=(ADMIN,),
       response=WEBHOOK)
def get_webhook(ctx, webhook_id):
    return webhook_json(webhooks.get(parse_id(webhook_id, "webhook")))


@route(bp, "/webhooks/{webhook_id}", "PATCH", summary="Change a webhook's url, events or is_active", tag=TAG,
       roles=(ADMIN,), body=WEBHOOK_UPDATE, response=WEBHOOK)
def change_webhook(ctx, webhook_id):
    webhook_id = parse_id(webhook_id, "webhook")
    return webhook_json(webhooks.change(webhook_id, ctx.body()))


@route(bp, "/webhooks/{webhook_id}", "DELETE", summary="Remove a webhook", tag=TAG, roles=(ADMIN,), status=204)
def delete_webhook(ctx, webhook_id):
    webhooks.remove(parse_id(webhook_id, "webhook"))


@route(bp, "/webhooks/{webhook_id}/deliveries", "GET", summary="A webhook's delivery attempts, latest first",
       tag=TAG, roles=(ADMIN,), many=True, response=DELIVERY)
def list_deliveries(ctx, webhook_id):
    webhook_id = parse_id(webhook_id, "webhook")
    limit, cursor, _ = ctx.page()
    return page_json(webhooks.deliveries(webhook_id, limit, cursor), delivery_json)


@route(bp, "/webhooks/{webhook_id}/ping", "POST", summary="Send a webhook a `ping` event now", tag=TAG,
       roles=(ADMIN,), response=PING)
def ping(ctx, webhook_id):
    sent = webhooks.ping(parse_id(webhook_id, "webhook"))
    return {"id": sent["id"], "type": sent["type"], "created_at": sent["created_at"]}


# -- the functions that feed and deliver webhooks (app.py) ------------------------------------
# Placeholders as live.ENTRIES_STREAM's: `make package` puts the stack's own ARN and queue in.
APPOINTMENTS_STREAM = ("arn:aws:dynamodb:us-east-1:000000000000:table/dqs-appointments/stream/"
                       "set-by-make-package")
COUNTERS_STREAM = ("arn:aws:dynamodb:us-east-1:000000000000:table/dqs-counters/stream/"
                   "set-by-make-package")
DELIVERY_QUEUE = "arn:aws:sqs:us-east-1:000000000000:dqs-webhook-deliveries-set-by-make-package"


def entry_events(records: list[dict]) -> dict:
    """The entries' stream: queue one delivery per subscribed webhook and event."""
    from chalicelib.api.http import bind_storage
    from chalicelib.api.queues import entry_json

    bind_storage()
    return _queued(webhooks.entry_events(records, entry_json))


def appointment_events(records: list[dict]) -> dict:
    """The appointments' stream: queue one delivery per subscribed webhook and event."""
    from chalicelib.api.appointments import appointment_json
    from chalicelib.api.http import bind_storage

    bind_storage()
    return _queued(webhooks.appointment_events(records, appointment_json))


def queue_day_events(records: list[dict]) -> dict:
    """The counters table's stream (the queue days' closed flag): queue.closed and queue.opened."""
    from chalicelib.api.http import bind_storage

    bind_storage()
    return _queued(webhooks.queue_day_events(records))


def _queued(events: list[tuple[dict, dict]]) -> dict:
    """Queue the batch's deliveries; the records some of whose deliveries the queue did not take are
    the batch's item failures (ReportBatchItemFailures: Lambda reads the stream again from the first
    of them, so nothing is lost; an event already queued may be sent twice, with its same id)."""
    queued, failed = webhooks.fan_out([sent for _, sent in events])
    numbers = list(dict.fromkeys(str((events[position][0].get("dynamodb") or {}).get("SequenceNumber", ""))
                                 for position in failed))
    count("WebhookEvents", len(events))
    count("WebhooksQueued", queued)
    count("RecordsFailed", len(numbers))
    return {"batchItemFailures": [{"itemIdentifier": number} for number in numbers]}


def deliver(bodies: list[str]) -> dict:
    """The delivery queue's messages (one per batch when deployed): one attempt each."""
    import json

    from chalicelib.api.http import bind_storage

    bind_storage()
    outcomes: dict[str, int] = {}
    for body in bodies:
        outcome = webhooks.deliver(json.loads(body))
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes
