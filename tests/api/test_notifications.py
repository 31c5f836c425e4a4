""""Your turn" messages: asked for on join, sent from the entries' stream (real records read from moto's
DynamoDB Streams) to moto's SNS and SES, each at most once per entry even when a record comes twice."""
from __future__ import annotations

import boto3
import pytest
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends
from moto.sns.models import sns_backends

import app as handlers
from app import app
from chalicelib.domain import contacts, departments, queue, service_points
from chalicelib.domain.entities import Patient
from chalicelib.storage import ids, patients
from tests.api.test_waiting_room_live import Sent, Stream
from tests.support.dynamodb import listening
from tests.support.queue import add_patients, admin
from tests.support.queue import desk as desk_user

SENDER = "queue@clinic.test"


@pytest.fixture
def messaging(monkeypatch, dynamodb_server):
    monkeypatch.setenv("DQS_MESSAGING_ENDPOINT", dynamodb_server)
    monkeypatch.setenv("DQS_EMAIL_SENDER", SENDER)
    monkeypatch.setenv("DQS_NOTIFY_AHEAD", "2")
    monkeypatch.setenv("DQS_WEBSOCKET_URL", "wss://abc123.execute-api.us-east-1.amazonaws.com/api")
    monkeypatch.setattr(app.websocket_api, "send", Sent().send)
    monkeypatch.setattr(app.websocket_api, "session", object())
    boto3.client("ses", region_name="us-east-1", endpoint_url=dynamodb_server).verify_email_identity(
        EmailAddress=SENDER)
    return dynamodb_server


def sms() -> list[tuple[str, str]]:
    return list(sns_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sms_messages.values())


def emails() -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def handled(records: list[dict]) -> int:
    """Run the stream handler on the records (no record may fail): how many messages it sent, from its
    invocation line's MessagesSent."""
    import json
    import logging

    lines: list[dict] = []

    class Lines(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(json.loads(record.getMessage()))

    handler = Lines()
    logging.getLogger("dqs.invocations").addHandler(handler)
    try:
        assert handlers.queue_changes({"Records": records}, None) == {"batchItemFailures": []}
    finally:
        logging.getLogger("dqs.invocations").removeHandler(handler)
    [line] = lines
    return line.get("MessagesSent", 0)


def patient(name: str, phone: str | None = None, email: str | None = None) -> Patient:
    made = Patient(id=ids.next_id("patient"), name=name, email=email, phone=phone, date_of_birth=None,
                   user_id=None, created_at="2024-01-01T00:00:00Z")
    patients.add(made)
    contacts.staff_set(admin(), made, ("phone", "email"))  # as the desk sets them: verified
    return made


@pytest.mark.parametrize("screen", [False, True], ids=["no screen", "a screen watching"])
def test_messages_when_near_and_when_called_each_once(messaging, screen):
    """The same messages whether a screen watches the queue or not: with one, the entries to tell are
    found in the head its board read (whole), with no Query of the notify index."""
    cardiology = departments.ensure_department("Cardiology")
    room = service_points.create_service_point(admin(), service_points.NewServicePoint("Room 4", "room", cardiology))
    if screen:
        from tests.api.test_waiting_room_live import ws_event

        handlers.websocket_connect(ws_event("$connect", "screen"), None)
        handlers.websocket_message(ws_event("$default", "screen", '{"action": "subscribe", "department": %d}'
                                            % cardiology), None)
    indexes: list[str] = []  # the indexes the stream handler's Queries read

    def messages_sent(records: list[dict]) -> int:
        with listening(lambda name, params: indexes.append(params.get("IndexName", ""))):
            return handled(records)
    stream = Stream(messaging)
    quiet = add_patients(1)[0]
    queue.join(desk_user(), queue.JoinRequest(patient_id=quiet, department=cardiology))
    ada = patient("Ada Byron", phone="+15550001111")
    grace = patient("Grace Hopper", email="grace@example.com")
    alan = patient("Alan Turing", phone="+15550002222")
    entries = [queue.join(desk_user(), queue.JoinRequest(patient_id=p.id, department=cardiology,
                                                         notify="email" if p.email else "sms"))
               for p in (ada, grace, alan)]
    records = stream.records()
    result = messages_sent(records)
    # Ada (1 ahead) and Grace (2 ahead) are near; Alan (3 ahead) is not yet.
    assert result == 2
    assert sms() == [("+15550001111", "Number 2 (Cardiology): 1 person ahead of you. Please be ready.")]
    [mail] = emails()
    assert mail.destinations["ToAddresses"] == ["grace@example.com"] and mail.source == SENDER
    assert "Number 3 (Cardiology): 2 people ahead of you." in mail.body and "Grace" not in mail.body

    # The same records again (the stream delivers a batch twice): nothing more.
    assert messages_sent(records) == 0
    assert len(sms()) == 1 and len(emails()) == 1

    # The first call brings Alan near; the second calls Ada to Room 4.
    queue.call_next(desk_user(), cardiology)
    queue.call_next(desk_user(), cardiology, room.id)
    records = stream.records()
    assert messages_sent(records) == 2
    assert messages_sent(records) == 0
    assert sorted(sms()[1:]) == [("+15550001111", "Number 2 (Cardiology): it is your turn, please go to Room 4."),
                                 ("+15550002222", "Number 4 (Cardiology): 1 person ahead of you. Please be ready.")]
    # A recall sends nothing new; the records that only mark a message as sent send nothing either.
    queue.recall(desk_user(), entries[0].id)
    assert messages_sent(stream.records()) == 0
    assert len(sms()) == 3 and len(emails()) == 1
    assert ("notify-rank-index" in indexes) is not screen and ("waiting-head-index" in indexes) is screen


def test_the_desks_request_sends_nothing(messaging):
    ada = patient("Ada Byron", phone="+15550001111")
    queue.join(desk_user(), queue.JoinRequest(patient_id=ada.id, notify="sms"))
    queue.call_next(desk_user())
    assert sms() == []


def test_join_asks_for_messages_the_record_can_take(api, as_role):
    staff = as_role("staff")
    walk_in = api.post("/patients", {"name": "No Contact"}, token=staff.token).body
    for notify, field in (("sms", "phone number"), ("email", "email address")):
        response = api.post("/queues/join_queue", {"patient_id": walk_in["id"], "notify": notify}, token=staff.token)
        assert response.status == 400 and field in response.body["Fields"]["notify"], response
    assert api.post("/queues/join_queue", {"patient_id": walk_in["id"], "notify": "fax"},
                    token=staff.token).status == 400
    with_phone = api.post("/patients", {"name": "Has Phone", "phone": "+15550003333"}, token=staff.token).body
    assert api.post("/queues/join_queue", {"patient_id": with_phone["id"], "notify": "sms"},
                    token=staff.token).status == 201


# -- verified contacts and caps (issue 23) ----------------------------------------------------

@pytest.fixture
def codes(monkeypatch):
    """The codes sent, captured: (contact, text)."""
    from chalicelib import messaging as sender

    sent: list[tuple[str, str]] = []
    monkeypatch.setattr(sender, "send_sms", lambda phone, text: sent.append((phone, text)))
    monkeypatch.setattr(sender, "send_email", lambda address, subject, text: sent.append((address, text)))
    return sent


def _code(text: str) -> str:
    import re

    return re.search(r"\b(\d{6})\b", text).group(1)


def test_a_contact_the_patient_sets_gets_no_message_until_verified(api, people, codes):
    p = people.make("patient")
    record = p.record["patient_id"]
    assert api.patch(f"/patients/{record}", {"phone": "+15550009999"}, token=p.token).status == 200
    join = {"notify": "sms"}
    r = api.post("/queues/join_queue", join, token=p.token)
    assert r.status == 400 and "not verified" in r.body["Fields"]["notify"], r
    # Its own email, given at registration, is not verified either.
    r = api.post("/queues/join_queue", {"notify": "email"}, token=p.token)
    assert r.status == 400 and "not verified" in r.body["Fields"]["notify"], r
    sent = api.post(f"/patients/{record}/verify_contact", {"channel": "sms"}, token=p.token)
    assert sent.status == 200 and sent.body == {"channel": "sms", "verified": False, "code_sent": True}
    [(phone, text)] = codes
    assert phone == "+15550009999"
    wrong = str((int(_code(text)) + 1) % 10**6).zfill(6)
    r = api.post(f"/patients/{record}/verify_contact", {"channel": "sms", "code": wrong}, token=p.token)
    assert r.status == 400 and "code" in r.body["Fields"], r
    r = api.post(f"/patients/{record}/verify_contact", {"channel": "sms", "code": _code(text)}, token=p.token)
    assert r.status == 200 and r.body["verified"] is True, r
    # Used once.
    r = api.post(f"/patients/{record}/verify_contact", {"channel": "sms", "code": _code(text)}, token=p.token)
    assert r.status == 400
    assert api.post("/queues/join_queue", join, token=p.token).status == 201
    # Another patient cannot verify this record's contacts.
    other = people.make("patient")
    assert api.post(f"/patients/{record}/verify_contact", {"channel": "sms"}, token=other.token).status == 403


def test_codes_sent_are_throttled(api, people, codes):
    p = people.make("patient")
    record = p.record["patient_id"]
    api.patch(f"/patients/{record}", {"phone": "+15550009998"}, token=p.token)
    for _ in range(contacts.CODES_PER_HOUR):
        assert api.post(f"/patients/{record}/verify_contact", {"channel": "sms"}, token=p.token).status == 200
    r = api.post(f"/patients/{record}/verify_contact", {"channel": "sms"}, token=p.token)
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0
    assert len(codes) == contacts.CODES_PER_HOUR


def test_wrong_codes_are_throttled(api, people, codes):
    p = people.make("patient")
    record = p.record["patient_id"]
    api.patch(f"/patients/{record}", {"phone": "+15550009997"}, token=p.token)
    api.post(f"/patients/{record}/verify_contact", {"channel": "sms"}, token=p.token)
    right = _code(codes[0][1])
    wrong = str((int(right) + 1) % 10**6).zfill(6)
    for _ in range(contacts.CODE_TRIES_PER_WINDOW):
        assert api.post(f"/patients/{record}/verify_contact", {"channel": "sms", "code": wrong},
                        token=p.token).status == 400
    r = api.post(f"/patients/{record}/verify_contact", {"channel": "sms", "code": right}, token=p.token)
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0


def test_past_a_days_cap_notify_gets_429(api, as_role, monkeypatch):
    from datetime import UTC, datetime

    monkeypatch.setenv("DQS_MESSAGES_PER_PATIENT_DAY", "2")
    monkeypatch.setenv("DQS_SMS_PER_DAY", "3")
    staff = as_role("staff")
    first = api.post("/patients", {"name": "Has Phone", "phone": "+15550003333"}, token=staff.token).body
    second = api.post("/patients", {"name": "Has Too", "phone": "+15550003334"}, token=staff.token).body
    now = datetime.now(UTC)
    for _ in range(2):
        contacts.take_message(first["id"], "sms", now)
    r = api.post("/queues/join_queue", {"patient_id": first["id"], "notify": "sms"}, token=staff.token)
    assert r.status == 429 and int(r.headers["Retry-After"]) > 0, r
    # The clinic's SMS for the day: 2 taken above, one more, then the cap.
    assert api.post("/queues/join_queue", {"patient_id": second["id"], "notify": "sms"},
                    token=staff.token).status == 201
    contacts.take_message(second["id"], "sms", now)
    third = api.post("/patients", {"name": "Third", "phone": "+15550003335"}, token=staff.token).body
    r = api.post("/queues/join_queue", {"patient_id": third["id"], "notify": "sms"}, token=staff.token)
    assert r.status == 429, r
