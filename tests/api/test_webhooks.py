"""Webhooks through the API (chalice.test.Client on moto): admin only, the secret shown once, the
URL rule at registration, changes, the log; and what one delivery costs in DynamoDB and SQS calls."""
from __future__ import annotations

import pytest

from chalicelib.domain import webhooks
from chalicelib.domain.ports.webhooks import Delivery
from chalicelib.storage import delivery_queue
from chalicelib.storage import webhooks as stored_webhooks
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


def test_the_delivery_log_pages_latest_first_with_signed_cursors(api, people, loopback):
    admin = people.admin()
    hook_ids = [api.post("/webhooks", {"url": "http://127.0.0.1:9/in", "events": ["entry.created"]},
                         token=admin.token).body["id"] for _ in range(2)]
    for n in range(5):
        stored_webhooks.log(Delivery(hook_ids[0], f"evt_{n}", "entry.created", 500, "HTTP 500",
                                     f"2026-01-01T10:00:0{n}Z", 1))
    stored_webhooks.log(Delivery(hook_ids[1], "evt_other", "ping", 204, None, "2026-01-01T11:00:00Z", 1))
    path = f"/webhooks/{hook_ids[0]}/deliveries"
    seen, cursors = [], [None]
    while len(cursors) < 10:
        page = api.get(path + "?limit=2" + (f"&cursor={cursors[-1]}" if cursors[-1] else ""), token=admin.token)
        assert page.status == 200 and len(page.body["results"]) <= 2
        seen += [d["event_id"] for d in page.body["results"]]
        cursors.append(page.body["next"])
        if cursors[-1] is None:
            break
    assert seen == ["evt_4", "evt_3", "evt_2", "evt_1", "evt_0"] and len(cursors) == 4  # three pages
    whole = api.get(path, token=admin.token).body
    assert [d["event_id"] for d in whole["results"]] == seen and whole["next"] is None  # default 50
    # A cursor is signed for its own webhook's log: another's, or a made-up one, is a 400 on `cursor`.
    for bad in (cursors[1], "eyJ3ZWJob29rIjoxfQ.0000"):
        refused = api.get(f"/webhooks/{hook_ids[1]}/deliveries?cursor={bad}", token=admin.token)
        assert refused.status == 400 and "cursor" in refused.body["Fields"], bad
    for limit in ("0", "101", "x"):
        refused = api.get(f"{path}?limit={limit}", token=admin.token)
        assert refused.status == 400 and "limit" in refused.body["Fields"], limit


def test_a_webhook_gone_meanwhile_is_neither_saved_nor_deleted_again(api, people, loopback):
    admin = people.admin()
    hook_id = api.post("/webhooks", {"url": "http://127.0.0.1:9/in", "events": ["entry.created"]},
                       token=admin.token).body["id"]
    hook = stored_webhooks.get(hook_id)
    assert api.delete(f"/webhooks/{hook_id}", token=admin.token).status == 204
    assert stored_webhooks.save(hook) is False and stored_webhooks.get(hook_id) is None  # not written back
    assert stored_webhooks.delete(hook_id) is False
    assert api.delete(f"/webhooks/{hook_id}", token=admin.token).status == 404
