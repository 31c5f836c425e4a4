"""Webhooks in the domain: the URL rule (no SSRF), sealed secrets, signatures, and deliveries with
retries, on the in-memory stores and queue."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from chalicelib.domain import webhooks
from chalicelib.errors import ValidationFailed


def resolver(*addresses):
    return lambda host: list(addresses)


@pytest.mark.parametrize("url", [
    "https://10.0.0.5/hook", "https://172.16.3.4/", "https://192.168.1.1/", "https://127.0.0.1/",
    "https://[::1]/", "https://169.254.169.254/latest/meta-data/", "https://169.254.10.1/",
    "https://[fd00:ec2::254]/", "https://[fe80::1]/", "https://[fc00::7]/", "https://[::ffff:10.0.0.1]/",
    "https://[::ffff:169.254.169.254]/", "https://0.0.0.0/", "https://100.64.0.1/", "https://224.0.0.1/",
])
def test_private_loopback_link_local_and_metadata_addresses_are_refused(url):
    with pytest.raises(ValidationFailed) as refused:
        webhooks.check_url(url, resolver(), loopback_ok=False)
    assert "url" in refused.value.fields


@pytest.mark.parametrize("addresses", [("10.1.2.3",), ("127.0.0.1",), ("169.254.169.254",), ("fd00:ec2::254",),
                                       ("::1",), ("93.184.216.34", "192.168.0.10"), ("fe80::abcd",)])
def test_a_host_name_resolving_to_any_such_address_is_refused(addresses):
    with pytest.raises(ValidationFailed):
        webhooks.check_url("https://hooks.example.com/in", resolver(*addresses), loopback_ok=False)


def test_public_https_passes_and_http_or_credentials_do_not():
    assert webhooks.check_url("https://hooks.example.com/in", resolver("93.184.216.34", "2606:2800:220:1::"),
                              loopback_ok=False)
    for url in ("http://hooks.example.com/in", "ftp://hooks.example.com/", "https://u:p@hooks.example.com/",
                "https:///nohost", "https://hooks.example.com:99999/"):
        with pytest.raises(ValidationFailed):
            webhooks.check_url(url, resolver("93.184.216.34"), loopback_ok=False)


def test_loopback_over_http_only_where_allowed():
    for url in ("http://127.0.0.1:9000/x", "http://[::1]:9000/x", "http://localhost:9000/x"):
        assert webhooks.check_url(url, resolver("127.0.0.1"), loopback_ok=True) == url
        with pytest.raises(ValidationFailed):
            webhooks.check_url(url, resolver("127.0.0.1"), loopback_ok=False)
    with pytest.raises(ValidationFailed):  # loopback allowed means loopback only, not the LAN
        webhooks.check_url("http://10.0.0.1/", resolver(), loopback_ok=True)


def test_a_sealed_secret_opens_only_unchanged():
    sealed = webhooks.seal("whsec_abc")
    assert "whsec_abc" not in sealed and webhooks.seal("whsec_abc") != sealed  # a fresh nonce each time
    assert webhooks.unseal(sealed) == "whsec_abc"
    raw = bytearray(__import__("base64").urlsafe_b64decode(sealed))
    raw[17] ^= 1
    with pytest.raises(ValueError):
        webhooks.unseal(__import__("base64").urlsafe_b64encode(bytes(raw)).decode())


def test_a_failing_receiver_is_retried_with_growing_delays_then_given_up(fakes, monkeypatch):
    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")
    webhook, secret = webhooks.register("http://127.0.0.1:9/in", ["entry.created"])
    assert webhooks.fan_out([webhooks.event("entry.created", {"id": 1}), webhooks.event("entry.served", {})]) == (1, [])
    queue = fakes.delivery_queue
    seen = []

    def post(url, body, headers):
        t, v1 = (part.split("=", 1)[1] for part in headers["DQS-Signature"].split(","))
        assert v1 == hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        seen.append(headers["DQS-Event-Id"])
        assert json.loads(body)["id"] == headers["DQS-Event-Id"]
        return 500

    outcomes, delays = [], []
    while queue.sent:
        message, delay = queue.sent.pop(0)
        delays.append(delay)
        message["due"] = 0  # the queue held it as long as asked
        outcomes.append(webhooks.deliver(message, post))
    assert outcomes == ["retry"] * len(webhooks.RETRY_DELAYS) + ["failed"]
    assert len(outcomes) >= 8 and len(set(seen)) == 1
    assert delays == [0, *[min(d, 900) for d in webhooks.RETRY_DELAYS]]
    assert sum(webhooks.RETRY_DELAYS) >= 24 * 3600
    log = webhooks.deliveries(webhook.id, 50).items
    assert [d.try_number for d in log] == list(range(len(outcomes), 0, -1))
    assert all(d.error == "HTTP 500" and d.status_code == 500 for d in log)


def test_a_long_delay_waits_on_in_the_queue(fakes):
    message = {"webhook": 1, "event": webhooks.event("ping", {}), "try": 5, "due": __import__("time").time() + 7200}
    assert webhooks.deliver(message) == "waiting"
    [(again, delay)] = fakes.delivery_queue.sent
    assert again == message and delay == 900


def test_a_name_that_resolves_privately_by_delivery_time_gets_nothing(fakes, monkeypatch):
    monkeypatch.setattr(webhooks, "resolve", lambda host: ["93.184.216.34"])
    webhook, _ = webhooks.register("https://hooks.example.com/in", ["entry.created"])
    monkeypatch.setattr(webhooks, "resolve", lambda host: ["169.254.169.254"])  # rebound
    webhooks.fan_out([webhooks.event("entry.created", {"id": 1})])
    [(message, _)] = fakes.delivery_queue.sent
    posted = []
    monkeypatch.setattr(webhooks, "_post", lambda *args: posted.append(args) or 200)
    assert webhooks.deliver(message) == "retry" and posted == []
    [attempt] = webhooks.deliveries(webhook.id, 10).items
    assert attempt.status_code is None and "public address" in attempt.error
    # Resolved publicly again: the POST goes to the address that was checked, not to a new lookup.
    monkeypatch.setattr(webhooks, "resolve", lambda host: ["93.184.216.34"])
    assert webhooks.deliver({**message, "try": 2, "due": 0}) == "delivered"
    assert posted[0][1] == "93.184.216.34"


def _webhook_settings(**values):
    from chalicelib.settings import _ENV_KEYS, _load

    return _load(tuple(values.get(key) for key in _ENV_KEYS))


def test_the_webhook_settings_are_read_through_settings_and_checked():
    from chalicelib.errors import ConfigurationError

    plain = _webhook_settings()
    assert (plain.webhooks_allow_loopback, plain.webhook_retry_seconds, plain.webhook_queue_url) == (False, None, None)
    local = _webhook_settings(DQS_WEBHOOKS_ALLOW_LOOPBACK="1", DQS_WEBHOOK_RETRY_SECONDS="2",
                              DQS_WEBHOOK_QUEUE_URL="https://sqs.eu-west-1.amazonaws.com/1/q")
    assert (local.webhooks_allow_loopback, local.webhook_retry_seconds, local.webhook_queue_url) == (
        True, 2, "https://sqs.eu-west-1.amazonaws.com/1/q")
    for key, value in (("DQS_WEBHOOKS_ALLOW_LOOPBACK", "yes"), ("DQS_WEBHOOK_RETRY_SECONDS", "soon"),
                       ("DQS_WEBHOOK_RETRY_SECONDS", "0")):
        with pytest.raises(ConfigurationError, match=key):
            _webhook_settings(**{key: value})
    with pytest.raises(ConfigurationError, match="DQS_WEBHOOKS_ALLOW_LOOPBACK"):  # never deployed
        _webhook_settings(DQS_WEBHOOKS_ALLOW_LOOPBACK="1", AWS_LAMBDA_FUNCTION_NAME="webhook_deliveries",
                          DQS_TABLE_PREFIX="dqs-", AWS_REGION="eu-west-1")


def test_the_domain_follows_the_environment_as_it_is_now(monkeypatch):
    monkeypatch.delenv("DQS_WEBHOOK_RETRY_SECONDS", raising=False)
    monkeypatch.delenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", raising=False)
    assert webhooks.retry_delays() == webhooks.RETRY_DELAYS and not webhooks.allow_loopback()
    monkeypatch.setenv("DQS_WEBHOOK_RETRY_SECONDS", "3")
    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")
    assert webhooks.retry_delays() == (3,) * len(webhooks.RETRY_DELAYS) and webhooks.allow_loopback()
    assert webhooks.check_url("http://127.0.0.1:9/in") == "http://127.0.0.1:9/in"


def test_a_batch_of_events_is_queued_ten_a_call_and_only_refused_events_are_reported(fakes, monkeypatch):
    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")
    for events in (["entry.created"], ["entry.created", "entry.called"], ["entry.served"]):
        webhooks.register("http://127.0.0.1:9/in", events)
    queue = fakes.delivery_queue
    created = [webhooks.event("entry.created", {"id": n}) for n in range(6)]
    called = webhooks.event("entry.called", {"id": 9})
    queued, failed = webhooks.fan_out([*created, called])
    assert (queued, failed) == (13, []) and queue.calls == 2  # 6 x 2 + 1 messages: SendMessageBatch x 2
    assert {m["event"]["id"] for m, _ in queue.sent} == {e["id"] for e in [*created, called]}
    queue.sent.clear()
    # The queue refuses one message (of one webhook) for event 2 and every message of event 6.
    queue.refuse = lambda m: (m["event"] is created[2] and m["webhook"] == 1) or m["event"] is called
    queued, failed = webhooks.fan_out([*created, called])
    assert (queued, failed) == (11, [2, 6]) and len(queue.sent) == 11
    assert webhooks.fan_out([]) == (0, [])


def test_sqs_batches_keep_within_ten_entries_and_256_kib():
    from chalicelib.storage import delivery_queue

    chunks = delivery_queue._chunks(["a" * 200_000, "b" * 100_000, "c", *["d"] * 12])
    assert [[position for position, _ in chunk] for chunk in chunks] == [[0], list(range(1, 11)), [11, 12, 13, 14]]


def test_a_queue_day_closing_or_reopening_is_an_event_and_nothing_else_is(fakes):
    from datetime import date

    from chalicelib.domain.ports.queue import DayChange

    day, at = date(2026, 3, 4), "2026-03-04T15:00:00Z"
    records = [{"eventID": "a", "day": DayChange("department-7", day, None, at)},  # closed
               {"eventID": "b", "day": None},  # another counter
               {"eventID": "c", "day": DayChange("general", day, at, None)},  # reopened
               {"eventID": "d", "day": DayChange("general", day, at, at)},  # closed again: no change
               {"eventID": "e", "day": DayChange("general", day, None, None)}]  # a token
    events = webhooks.queue_day_events(records)
    assert [record["eventID"] for record, _ in events] == ["a", "c"]
    assert [(e["id"], e["type"], e["data"]) for _, e in events] == [
        ("evt_a", "queue.closed", {"department": 7, "queue_date": "2026-03-04", "closed_at": at}),
        ("evt_c", "queue.opened", {"department": None, "queue_date": "2026-03-04", "closed_at": None})]


def test_make_runs_counters_feed_passes_only_a_queue_days_closing_or_reopening():
    """The local feed filters the counters' records as the deployed mapping does (its FilterCriteria)."""
    from devtools.webhooks import queue_day_changes
    from tests.support.streams import counter_record as record

    day, closed, value = "token#general#2026-01-01", {"closed": {"S": "2026-01-01T10:00:00Z"}}, {"value": {"N": "3"}}
    closing = record("MODIFY", day, value, {**value, **closed})
    reopening = record("MODIFY", day, {**value, **closed}, value)
    others = [record("MODIFY", day, value, {"value": {"N": "4"}}), record("MODIFY", "id#patient", value, value),
              record("REMOVE", day, {**value, **closed}, None)]
    called = []
    queue_day_changes([others[0], closing, *others[1:], reopening], lambda event, context: called.append(event))
    assert called == [{"Records": [closing, reopening]}]
    queue_day_changes(others, lambda event, context: called.append(event))
    assert len(called) == 1  # nothing to pass: no invocation
