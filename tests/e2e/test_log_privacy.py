"""No log line holds a name, a phone number, an email address, a message's text, a password
or a token: a clinic's day over HTTP (accounts, walk-ins, joins with messages, the desk, the
stream that sends "your turn" messages), with every log line and everything written to the
process's stdout and stderr captured and searched."""
from __future__ import annotations

import logging

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.sns.models import sns_backends

import app as handlers
from app import app
from tests.api.test_waiting_room_live import Sent, Stream

SENDER = "queue@clinic.test"
PHONE = "+15550104242"
EMAIL = "ada.lovelace@example.org"
NAMES = ("Ada Lovelace", "Lovelace", "Grace Brewster", "Brewster")


@pytest.fixture
def everything_logged(caplog):
    """Every log record at INFO or above, the invocation lines included (their logger does not
    propagate: it writes to stdout itself)."""
    # Every logger at INFO: stricter than Lambda, whose root logger drops what is below WARNING. (The
    # libraries' DEBUG output echoes whole requests; it is for a developer at a keyboard, never on.)
    caplog.set_level(logging.INFO)
    lines = logging.getLogger("dqs.invocations")
    lines.addHandler(caplog.handler)
    yield caplog
    lines.removeHandler(caplog.handler)


def test_a_clinic_day_logs_no_personal_data(live_server, monkeypatch, dynamodb_server, capsys, everything_logged):
    monkeypatch.setenv("DQS_MESSAGING_ENDPOINT", dynamodb_server)
    monkeypatch.setenv("DQS_EMAIL_SENDER", SENDER)
    monkeypatch.setenv("DQS_NOTIFY_AHEAD", "5")
    monkeypatch.setenv("DQS_WEBSOCKET_URL", "wss://abc123.execute-api.us-east-1.amazonaws.com/api")
    monkeypatch.setattr(app.websocket_api, "send", Sent().send)
    monkeypatch.setattr(app.websocket_api, "session", object())
    boto3.client("ses", region_name="us-east-1", endpoint_url=dynamodb_server).verify_email_identity(
        EmailAddress=SENDER)
    stream = Stream(dynamodb_server)
    server = live_server
    admin = server.login("admin", "admin-password-1")
    staff_password = "desk-password-77"
    assert server.call("POST", "/register", {"username": "desk7", "email": "desk7@clinic.test",
                                             "password": staff_password, "role": "staff",
                                             "first_name": "Grace", "last_name": "Brewster"},
                       token=admin).status == 201
    staff = server.login("desk7", staff_password)
    patient_password = "ada-secret-pass-1"
    registered = server.call("POST", "/register", {"username": "ada", "email": EMAIL, "password": patient_password,
                                                   "first_name": "Ada", "last_name": "Lovelace",
                                                   "date_of_birth": "1990-12-10"})
    assert registered.status == 201, registered
    ada = server.login("ada", patient_password)
    walk_in = server.call("POST", "/patients", {"name": "Grace Brewster", "phone": PHONE}, token=staff).body
    own_id = registered.body["patient_id"]
    # The email Ada gave herself gets messages once verified; the desk confirming it counts (issue 23).
    assert server.call("PATCH", f"/patients/{own_id}", {"email": EMAIL}, token=staff).status == 200
    for who, body in ((ada, {"notify": "email"}), (staff, {"patient_id": walk_in["id"], "notify": "sms"})):
        joined = server.call("POST", "/queues/join_queue", body, token=who)
        assert joined.status == 201, joined
    server.call("POST", "/auth/login", {"username": "ada", "password": "wrong-password-1"})
    server.call("PATCH", f"/patients/{own_id}", {"name": "Ada Lovelace"}, token=ada)
    called = server.call("POST", "/queues/call_next", {}, token=staff).body
    server.call("POST", f"/queues/{called['id']}/mark_served", token=staff)
    server.call("POST", "/queues/call_next", {}, token=staff)
    result = handlers.queue_changes({"Records": stream.records()}, None)
    assert result == {"batchItemFailures": []}
    # The email to Ada and the SMS to the walk-in went out (both contacts were set at the desk: verified).
    texts = [message for _, message in sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values()]
    assert texts and all(text for text in texts)

    out, err = capsys.readouterr()
    logged = "\n".join([out, err, everything_logged.text])
    # The request and stream lines were captured, so the search below means something.
    assert '"function": "api"' in logged and '"function": "queue_changes"' in logged
    secrets = [PHONE, PHONE[1:], EMAIL, patient_password, staff_password, ada, staff, *NAMES, *texts]
    found = [secret for secret in secrets if secret in logged]
    assert found == []
