"""Webhooks through the API (chalice.test.Client on moto): admin only, the secret shown once, the
URL rule at registration, changes, the log; and what one delivery costs in DynamoDB and SQS calls."""
from __future__ import annotations

import pytest

from chalicelib.domain import webhooks
from chalicelib.storage import delivery_queue
from tests.support.dynamodb import recording as dynamodb_calls


@pytest.fixture
def queued(monkeypatch):
    """The delivery queue, as a list of (message, delay) sent to it."""
    sent: list = []
    delivery_queue.use_local(lambda message, delay: sent.append((message, delay)))
    yield sent
    delivery_queue.use_local(None)


@pytest.fixture
def loopback(monkeypatch):
    monkeypatch.setenv("DQS_WEBHOOKS_ALLOW_LOOPBACK", "1")


def test_only_an_admin_manages_webhooks_and_the_secret_is_shown_once(api, people, as_role, loopback):
    admin = people.admin()
    body = {"url": "http://127.0.0.1:9/in", "events": ["entry.created", "entry.called"], "description": "HIS"}
    for role in ("patient", "doctor", "staff"):
        assert api.post("/webhooks", body, token=as_role(role).token).status == 403
    assert api.post("/webhooks", body).status == 401
    created = api.post("/webhooks", body, token=admin.token)
    assert created.status == 201 and created.body["secret"].startswith("whsec_")
    hook_id = created.body["id"]
    shown = api.get(f"/webhooks/{hook_id}", token=admin.token).body
    listed = api.get("/webhooks", token=admin.token).body["results"]
    assert "secret" not in shown and all("secret" not in h for h in listed)
    assert created.body["secret"] not in str(shown) + str(listed)
    changed = api.patch(f"/webhooks/{hook_id}", {"events": ["entry.served"], "is_active": False}, token=admin.token)
    assert changed.status == 200 and changed.body["events"] == ["entry.served"] and not changed.body["is_active"]
    assert api.delete(f"/webhooks/{hook_id}", token=admin.token).status == 204
    assert api.get(f"/webhooks/{hook_id}", token=admin.token).status == 404


@pytest.mark.parametrize("url", ["http://hooks.example.com/in", "https://10.0.0.1/in", "https://169.254.169.254/",
                                 "https://[::1]/", "https://[fd00:ec2::254]/", "http://192.168.0.2/"])
def test_the_url_rule_applies_at_registration_and_on_change(api, people, url):
    admin = people.admin()
    refused = api.post("/webhooks", {"url": url, "events": ["entry.created"]}, token=admin.token)
    assert refused.status == 400 and "url" in refused.body["Fields"]


def test_bad_events_are_400_naming_the_field(api, people, loopback):
    admin = people.admin()
    for events in ([], ["entry.exploded"], "entry.created", [{"x": 1}]):
        refused = api.post("/webhooks", {"url": "http://127.0.0.1:9/", "events": events}, token=admin.token)
        assert refused.status == 400 and "events" in refused.body["Fields"], events


def test_a_ping_is_queued_and_one_delivery_costs_two_dynamodb_calls(api, people, loopback, queued):
    admin = people.admin()
    hook = api.post("/webhooks", {"url": "http://127.0.0.1:9/in", "events": ["entry.created"]},
                    token=admin.token).body
    pinged = api.post(f"/webhooks/{hook['id']}/ping", token=admin.token)
    assert pinged.status == 200 and pinged.body["type"] == "ping"
    [(message, delay)] = queued
    assert delay == 0 and message["event"]["id"] == pinged.body["id"]
    with dynamodb_calls() as delivered:
        assert webhooks.deliver(message, lambda url, body, headers: 204) == "delivered"
    assert delivered == ["GetItem", "PutItem"] and len(queued) == 1  # no SQS send on success
    with dynamodb_calls() as failed:
        assert webhooks.deliver({**message, "try": 2}, lambda url, body, headers: 500) == "retry"
    assert failed == ["GetItem", "PutItem"] and len(queued) == 2  # one SQS SendMessage for the retry
    log = api.get(f"/webhooks/{hook['id']}/deliveries", token=admin.token).body["results"]
    assert [(d["type"], d["status_code"], d["error"], d["try"]) for d in log] == [
        ("ping", 500, "HTTP 500", 2), ("ping", 204, None, 1)]
