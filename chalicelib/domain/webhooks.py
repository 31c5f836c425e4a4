"""Webhooks: signed deliveries of the queue's and the appointments' events to a clinic's other systems.

Events come from the entries' and appointments' streams (events_from_records); each becomes one
message per subscribed webhook on a durable queue (SQS when deployed, an in-process queue under
`make run`), and each message is one delivery attempt (deliver): a POST with a 10 s timeout,
signed `DQS-Signature: t=<unix>,v1=<hex HMAC-SHA256("<t>.<body>")>`, carrying `DQS-Event-Id`.
A failed attempt is queued again with a growing delay, for 24 hours, then logged as given up.
The API never waits on a receiver.

Secrets: the signature needs the raw secret, so it cannot be hashed. It is sealed with a key
derived for this purpose only (chalicelib.keys): a random 16-byte nonce, the secret XORed with
an HMAC-SHA256 keystream of (key, nonce, counter), then an HMAC-SHA256 tag over nonce and
ciphertext with a second derived key (encrypt-then-MAC). A table dump without DQS_JWT_SECRET
reveals no secret, and a tampered one fails to open.

URLs (check_url): https only, and the host must not resolve to a private, loopback, link-local,
unspecified, multicast or reserved address (169.254.169.254 and fd00:ec2::254 included), checked
at registration and again at every delivery (DNS may change: rebinding). Locally
(DQS_WEBHOOKS_ALLOW_LOOPBACK=1) http or https to 127.0.0.1, ::1 or localhost is allowed.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import secrets
import socket
import ssl
import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from chalicelib import keys, telemetry
from chalicelib.domain import clock
from chalicelib.domain.entities import Page, queue_department
from chalicelib.domain.ports.webhooks import Delivery, Webhook
from chalicelib.domain.stores import stores
from chalicelib.domain.values import iso_instant
from chalicelib.errors import NotFound, ValidationFailed
from chalicelib.settings import get_settings

EVENTS = ("entry.created", "entry.called", "entry.recalled", "entry.served", "entry.no_show", "entry.canceled",
          "entry.transferred", "entry.expired", "queue.closed", "queue.opened",
          "appointment.created", "appointment.changed", "appointment.checked_in")
PING = "ping"
TIMEOUT_SECONDS = 10
# Delays before tries 2, 3, ...: 9 tries over about 24 hours (1 min ... 9 h).
RETRY_DELAYS = (60, 300, 900, 3600, 7200, 14400, 28800, 32400)
MAX_SQS_DELAY = 900  # SQS's DelaySeconds limit: a longer wait is queued again until due
MAX_URL = 2000
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_METADATA = (ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"))
Resolver = Callable[[str], list[str]]


def allow_loopback() -> bool:
    """`make run` sets DQS_WEBHOOKS_ALLOW_LOOPBACK=1 (devtools); a deployed stage never does (settings)."""
    return get_settings().webhooks_allow_loopback


def retry_delays() -> tuple[int, ...]:
    """The delays between tries; DQS_WEBHOOK_RETRY_SECONDS (tests) makes them all that many seconds."""
    fixed = get_settings().webhook_retry_seconds
    return tuple(fixed for _ in RETRY_DELAYS) if fixed else RETRY_DELAYS


# -- the URL rule ---------------------------------------------------------------------------
def resolve(host: str) -> list[str]:
    """Every address a host name resolves to."""
    return sorted({info[4][0] for info in socket.getaddrinfo(host, None)})


def _forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (ip in _METADATA or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
            or ip.is_reserved or ip.is_unspecified or not ip.is_global)


def check_url(url: str, resolver: Resolver | None = None, loopback_ok: bool | None = None) -> str:
    """The URL if a delivery may go there; a 400 on `url` otherwise."""
    return _checked(url, resolver, loopback_ok)[0]


def _checked(url: str, resolver: Resolver | None = None, loopback_ok: bool | None = None) -> tuple[str, str]:
    """The URL and the one address a delivery connects to (the checked one: no second lookup
    between the check and the connection, which DNS rebinding could answer differently)."""
    loopback_ok = allow_loopback() if loopback_ok is None else loopback_ok
    def refuse(message: str) -> ValidationFailed:
        return ValidationFailed.field("url", message)
    if len(url) > MAX_URL:
        raise refuse(f"Ensure this field has no more than {MAX_URL} characters.")
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise refuse("Enter a valid URL.") from None
    if parts.username or parts.password or not host:
        raise refuse("Enter a valid URL, without credentials.")
    if loopback_ok and host in _LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return url, host
    if parts.scheme != "https":
        raise refuse("The URL must be https.")
    try:
        addresses = [host] if _is_address(host) else (resolver or resolve)(host)
    except (OSError, UnicodeError):
        raise refuse("The URL's host does not resolve.") from None
    if not addresses or any(_forbidden(a) for a in addresses):
        raise refuse("The URL's host must be a public address (not private, loopback, link-local or metadata).")
    return url, addresses[0]


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


# -- secrets ---------------------------------------------------------------------------------
def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    blocks = (hmac.new(key, nonce + i.to_bytes(4, "big"), hashlib.sha256).digest() for i in range(length // 32 + 1))
    return b"".join(blocks)[:length]


def _keys(root: bytes | None = None) -> tuple[bytes, bytes]:
    root = keys.derived_key(keys.WEBHOOK_SECRETS) if root is None else root
    return (hmac.new(root, b"encrypt", hashlib.sha256).digest(),
            hmac.new(root, b"authenticate", hashlib.sha256).digest())


def seal(secret: str) -> str:
    encrypt, authenticate = _keys()
    nonce = secrets.token_bytes(16)
    plain = secret.encode()
    cipher = bytes(a ^ b for a, b in zip(plain, _keystream(encrypt, nonce, len(plain)), strict=True))
    tag = hmac.new(authenticate, nonce + cipher, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(nonce + cipher + tag).decode()


def unseal(sealed: str) -> str:
    """The secret, sealed under the current key or, after a rotation, the previous one."""
    raw = base64.urlsafe_b64decode(sealed.encode())
    nonce, cipher, tag = raw[:16], raw[16:-32], raw[-32:]
    for root in keys.verification_keys(keys.WEBHOOK_SECRETS).values():
        encrypt, authenticate = _keys(root)
        if hmac.compare_digest(tag, hmac.new(authenticate, nonce + cipher, hashlib.sha256).digest()):
            return bytes(a ^ b for a, b in zip(cipher, _keystream(encrypt, nonce, len(cipher)), strict=True)).decode()
    raise ValueError("A sealed webhook secret failed its check.")


def signature(secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


# -- registrations (admin; the route checks the role) -----------------------------------------
def _events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if unknown or not events:
        raise ValidationFailed.field("events", f"Choose events among: {', '.join(EVENTS)}.")
    return sorted(set(events), key=EVENTS.index)


def register(url: str, events: list[str], description: str = "") -> tuple[Webhook, str]:
    """A new webhook and its secret (the only time it is shown)."""
    url, events = check_url(url), _events(events)
    secret = "whsec_" + secrets.token_urlsafe(32)
    webhook = Webhook(id=stores().ids.reserved_id("webhook"), url=url, events=events, description=description,
                      is_active=True, created_at=iso_instant(clock.now()), sealed_secret=seal(secret))
    stores().webhooks.add(webhook)
    return webhook, secret


def list_page(limit: int, cursor: str | None):
    return stores().webhooks.list_page(limit, cursor)


def get(webhook_id: int) -> Webhook:
    webhook = stores().webhooks.get(webhook_id)
    if webhook is None:
        raise NotFound(f"No webhook with id {webhook_id}.")
    return webhook


def change(webhook_id: int, changes: dict) -> Webhook:
    webhook = get(webhook_id)
    if "url" in changes:
        changes["url"] = check_url(changes["url"])
    if "events" in changes:
        changes["events"] = _events(changes["events"])
    changed = replace(webhook, **changes)
    if not stores().webhooks.save(changed):
        raise NotFound(f"No webhook with id {webhook_id}.")
    return changed


def remove(webhook_id: int) -> None:
    if not stores().webhooks.delete(webhook_id):
        raise NotFound(f"No webhook with id {webhook_id}.")


def deliveries(webhook_id: int, limit: int, cursor: str | None = None) -> Page:
    """A page of the webhook's delivery attempts, latest first."""
    get(webhook_id)
    return stores().webhooks.deliveries_page(webhook_id, limit, cursor)


# -- events and deliveries ----------------------------------------------------------------
def event(event_type: str, data: dict, event_id: str | None = None) -> dict:
    return {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type,
            "created_at": iso_instant(clock.now()), "data": data}


def ping(webhook_id: int) -> dict:
    """Queue a `ping` event for one webhook now (delivered like any other)."""
    webhook = get(webhook_id)
    sent = event(PING, {"webhook": webhook.id})
    stores().delivery_queue.send({"webhook": webhook.id, "event": sent, "try": 1, "due": 0}, 0)
    return sent


def fan_out(events: list[dict]) -> tuple[int, list[int]]:
    """One queued message per (active webhook, event it subscribed to), sent together (SQS:
    SendMessageBatch, 10 a call): how many were queued, and the positions of the events some of
    whose messages were not (their stream records are to be read again; a receiver may then get an
    event twice, with the same DQS-Event-Id, never not at all)."""
    hooks = stores().webhooks.active() if events else []
    messages, of_event = [], []
    for position, sent in enumerate(events):
        for webhook in hooks:
            if sent["type"] in webhook.events:
                messages.append({"webhook": webhook.id, "event": sent, "try": 1, "due": 0})
                of_event.append(position)
    refused = stores().delivery_queue.send_many(messages) if messages else []
    return len(messages) - len(refused), sorted({of_event[position] for position in refused})


def deliver(message: dict, post: Callable[[str, bytes, dict], int] | None = None) -> str:
    """One attempt at one queued delivery: "delivered", "retry", "failed", "waiting" (queued again
    until due) or "dropped" (the webhook is gone or inactive)."""
    now = time.time()
    if message.get("due", 0) > now + 1:  # a delay longer than SQS allows: wait on in the queue
        stores().delivery_queue.send(message, int(min(MAX_SQS_DELAY, message["due"] - now)))
        return "waiting"
    webhook = stores().webhooks.get(message["webhook"])
    if webhook is None or not webhook.is_active:
        return "dropped"
    sent, attempt = message["event"], int(message["try"])
    status_code, error = None, None
    try:
        # Again now (the name may resolve elsewhere than at registration), and connect to that address.
        _, address = _checked(webhook.url)
        body = json.dumps(sent, separators=(",", ":")).encode()
        timestamp = int(now)
        headers = {"Content-Type": "application/json", "User-Agent": "DQS-Webhooks/1",
                   "DQS-Event-Id": sent["id"],
                   "DQS-Signature": signature(unseal(webhook.sealed_secret), timestamp, body)}
        status_code = post(webhook.url, body, headers) if post else _post(webhook.url, address, body, headers)
        if not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    except ValidationFailed as exc:
        error = exc.message
    except (OSError, ValueError) as exc:
        error = type(exc).__name__  # no receiver text in the log: it may echo anything
    stores().webhooks.log(Delivery(webhook.id, sent["id"], sent["type"], status_code, error,
                                   iso_instant(clock.now()), attempt))
    if error is None:
        telemetry.count("WebhooksDelivered")
        return "delivered"
    delays = retry_delays()
    if attempt > len(delays):
        telemetry.count("WebhooksFailed")  # the alarm's metric (devtools/package/webhooks.py)
        return "failed"
    delay = delays[attempt - 1]
    stores().delivery_queue.send({**message, "try": attempt + 1, "due": now + delay}, min(delay, MAX_SQS_DELAY))
    return "retry"


class _PinnedHTTP(http.client.HTTPConnection):
    """A connection to a checked address, whatever the host name resolves to by now."""

    def __init__(self, host: str, address: str, **kw):
        super().__init__(host, **kw)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """As _PinnedHTTP, over TLS verified against the URL's host name (SNI and certificate)."""

    def __init__(self, host: str, address: str, **kw):
        super().__init__(host, context=ssl.create_default_context(), **kw)
        self.address = address

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def _post(url: str, address: str, body: bytes, headers: dict) -> int:
    """POST to the checked address; a redirect is an answer like any other (never followed)."""
    parts = urlsplit(url)
    kind = _PinnedHTTPS if parts.scheme == "https" else _PinnedHTTP
    connection = kind(parts.hostname, address.strip("[]"), port=parts.port, timeout=TIMEOUT_SECONDS)
    try:
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(1024)
        return response.status
    finally:
        connection.close()


# -- events from the streams ----------------------------------------------------------------
def entry_events(records: list[dict], present: Callable[[Any], dict]) -> list[tuple[dict, dict]]:
    """(record, event) for each of the entries' stream records that makes a webhook event; `present`
    shows an entry as the API shows it to staff. The event id comes from the record's, so a re-read
    batch makes the same events. (A closing's expired entries are `entry.expired` events here; the
    closing itself is `queue.closed`, from the queue days' records: queue_day_events.)"""
    events = []
    changes = stores().queue_entries.changes(records)
    for record, (before, after) in zip(records, changes, strict=True):
        kind = _entry_event_type(before, after)
        if kind:
            events.append((record, event(kind, present(after), f"evt_{record.get('eventID', uuid.uuid4().hex)}")))
    return events


def _entry_event_type(before, after) -> str | None:
    if after is None:
        return None
    if before is None:
        return "entry.created"
    if after.status != before.status:
        name = f"entry.{after.status}"
        return name if name in EVENTS else None
    if after.recalls > before.recalls:
        return "entry.recalled"
    return None


def appointment_events(records: list[dict], present: Callable[[Any], dict]) -> list[tuple[dict, dict]]:
    """(record, event) for the appointments' stream records that make one (created, changed, checked_in)."""
    events = []
    for record, (before, after) in zip(records, stores().webhooks.appointment_changes(records), strict=True):
        if after is None:
            continue
        if before is None:
            kind = "appointment.created"
        elif after.checked_in_entry is not None and before.checked_in_entry is None:
            kind = "appointment.checked_in"
        elif after != before:
            kind = "appointment.changed"
        else:
            continue
        events.append((record, event(kind, present(after), f"evt_{record.get('eventID', uuid.uuid4().hex)}")))
    return events


def queue_day_events(records: list[dict]) -> list[tuple[dict, dict]]:
    """(record, event) for the queue days' records that close or reopen a day's queue (the counters
    table's stream: other counters' records make none). `data` is {"department", "queue_date",
    "closed_at"}: the queue (null: the general one), its day, and when it was closed (null once open).
    The nightly reset closes no queue (it expires what an ended day left: `entry.expired`)."""
    events = []
    for record, change in zip(records, stores().queue_days.changes(records), strict=True):
        if change is None or bool(change.closed_before) == bool(change.closed_after):
            continue
        kind = "queue.closed" if change.closed_after else "queue.opened"
        data = {"department": queue_department(change.queue), "queue_date": change.day.isoformat(),
                "closed_at": change.closed_after}
        events.append((record, event(kind, data, f"evt_{record.get('eventID', uuid.uuid4().hex)}")))
    return events
