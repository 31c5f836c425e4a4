"""Appointment reminders: the default way, the hourly pass (each once, by index, nothing clinical),
staff's send now, no_show, and the list's from/to/status/reminded filters."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import messaging
from chalicelib.domain import clock, reminders
from chalicelib.settings import get_settings
from tests.support.dynamodb import recording as dynamodb_calls

# The hour now (tokens issued at this instant are valid for the test's real time).
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _at(hours: float) -> str:
    return (NOW + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def outbox(monkeypatch):
    sent: list[tuple[str, str, str]] = []
    monkeypatch.setattr(messaging, "send_email", lambda address, subject, text: sent.append(("email", address, text)))
    monkeypatch.setattr(messaging, "send_sms", lambda phone, text: sent.append(("sms", phone, text)))
    monkeypatch.setattr(clock, "now", lambda: NOW)
    monkeypatch.delenv("DQS_REMINDER_HOURS", raising=False)
    return sent


@pytest.fixture
def clinic(api, people, outbox):
    admin, staff = people.admin().token, people.make("staff").token
    department = api.post("/departments/", {"name": "Cardiology"}, token=admin).body["id"]
    doctor = api.post("/doctors/", {"name": "Dr. Gregory House", "specialty": "Diagnostics",
                                    "department": department}, token=admin).body["id"]
    patients = {}
    for name, email, phone in [("Emma Mail", "emma@clinic.test", "555-0100"), ("Sam Phone", None, "+1 555 0101"),
                               ("Nina None", None, None)]:
        patients[name] = api.post("/patients/", {"name": name, "email": email, "phone": phone},
                                  token=staff).body["id"]
    return staff, doctor, patients


def _book(api, staff, doctor, patient, hours):
    r = api.post("/appointments/", {"patient": patient, "doctor": doctor, "date": _at(hours)}, token=staff)
    assert r.status == 201, r
    return r.body


def test_the_default_way_follows_the_patient_record(api, clinic):
    staff, doctor, patients = clinic
    ways = [_book(api, staff, doctor, patients[name], 30 + i) for i, name in enumerate(patients)]
    assert [(a["remind"], a["reminded_at"]) for a in ways] == [("email", None), ("sms", None), (None, None)]


def test_the_hourly_pass_sends_each_due_reminder_once_and_nothing_clinical(api, clinic, outbox):
    staff, doctor, patients = clinic
    soon = _book(api, staff, doctor, patients["Emma Mail"], 5)
    by_sms = _book(api, staff, doctor, patients["Sam Phone"], 23)
    later = _book(api, staff, doctor, patients["Emma Mail"], 30)  # outside the 24 hours
    _book(api, staff, doctor, patients["Nina None"], 6)  # no way to remind
    canceled = _book(api, staff, doctor, patients["Sam Phone"], 7)
    assert api.patch(f"/appointments/{canceled['id']}/", {"status": "canceled"}, token=staff).status == 200
    assert reminders.send_due() == 2
    assert sorted((kind, to) for kind, to, _ in outbox) == [("email", "emma@clinic.test"), ("sms", "+1 555 0101")]
    text = dict((to, text) for _, to, text in outbox)["emma@clinic.test"]
    local = datetime.fromisoformat(soon["date"].replace("Z", "+00:00")).astimezone(get_settings().clinic_timezone)
    assert "Dr. Gregory House" in text and f"{local:%A %d %B %Y} at {local:%H:%M}" in text and "Emma" not in text
    assert reminders.send_due() == 0 and len(outbox) == 2  # never twice
    for appointment in (soon, by_sms):
        assert api.get(f"/appointments/{appointment['id']}/", token=staff).body["reminded_at"] == _at(0)
    assert api.get(f"/appointments/{later['id']}/", token=staff).body["reminded_at"] is None
    assert reminders.send_due(NOW + timedelta(hours=7)) == 1  # an hour later in the window, `later` is due


def test_the_window_follows_DQS_REMINDER_HOURS(api, clinic, outbox, monkeypatch):
    staff, doctor, patients = clinic
    _book(api, staff, doctor, patients["Emma Mail"], 5)
    monkeypatch.setenv("DQS_REMINDER_HOURS", "2")
    assert reminders.send_due() == 0
    monkeypatch.setenv("DQS_REMINDER_HOURS", "6")
    assert reminders.send_due() == 1


def test_finding_due_reminders_is_one_query_of_the_index_whatever_the_appointments(api, clinic, outbox):
    staff, doctor, patients = clinic
    for i in range(6):
        _book(api, staff, doctor, patients["Nina None"], 100 + i)  # not due, not in the index
    with dynamodb_calls() as calls:
        assert reminders.send_due() == 0
    assert calls == ["Query"]


def test_send_reminder_now_and_its_409s(api, as_role, clinic, outbox):
    staff, doctor, patients = clinic
    appointment = _book(api, staff, doctor, patients["Emma Mail"], 48)
    for role, status in [("anonymous", 401), ("patient", 403), ("doctor", 403)]:
        person = as_role(role)
        r = api.post(f"/appointments/{appointment['id']}/send_reminder/", token=person.token if person else None)
        assert r.status == status, (role, r)
    r = api.post(f"/appointments/{appointment['id']}/send_reminder/", token=staff)
    assert r.status == 200 and r.body["reminded_at"] == _at(0) and len(outbox) == 1
    r = api.post(f"/appointments/{appointment['id']}/send_reminder/", token=as_role("admin").token)
    assert r.status == 409 and "reminded_at" in r.body["Fields"] and len(outbox) == 1
    assert reminders.send_due(NOW + timedelta(hours=30)) == 0  # the hourly pass does not send it again
    other = _book(api, staff, doctor, patients["Emma Mail"], 50)
    assert api.patch(f"/appointments/{other['id']}/", {"status": "no_show"}, token=staff).body["status"] == "no_show"
    r = api.post(f"/appointments/{other['id']}/send_reminder/", token=staff)
    assert r.status == 409 and "status" in r.body["Fields"]
    none = _book(api, staff, doctor, patients["Nina None"], 52)
    assert api.post(f"/appointments/{none['id']}/send_reminder/", token=staff).status == 409
    assert api.post("/appointments/99999/send_reminder/", token=staff).status == 404


def test_the_list_filters_by_instant_status_and_reminder(api, clinic, outbox):
    staff, doctor, patients = clinic
    a = _book(api, staff, doctor, patients["Emma Mail"], 2)
    b = _book(api, staff, doctor, patients["Sam Phone"], 30)
    c = _book(api, staff, doctor, patients["Nina None"], 40)
    api.post(f"/appointments/{a['id']}/send_reminder/", token=staff)
    api.patch(f"/appointments/{c['id']}/", {"status": "no_show"}, token=staff)

    def ids(query):
        r = api.get(f"/appointments/?{query}", token=staff)
        assert r.status == 200, r
        return [x["id"] for x in r.body["results"]]

    assert ids(f"from={_at(2)}&to={_at(30)}") == [a["id"]]  # from <= date < to
    assert ids(f"from={_at(2)}&to={_at(30) .replace(':00Z', ':01Z')}") == [a["id"], b["id"]]
    assert ids(f"from={_at(3)}") == [b["id"], c["id"]]
    assert ids(f"to={_at(3)}") == [a["id"]]
    assert ids("reminded=true") == [a["id"]]
    assert ids("reminded=false") == [b["id"], c["id"]]
    assert ids("status=no_show") == [c["id"]]
    assert ids(f"status=scheduled&reminded=false&from={_at(0)}") == [b["id"]]
    assert ids(f"from={_at(30)}&to={_at(2)}") == []
    for query, field in [("reminded=maybe", "reminded"), ("from=2026-03-02T10:00:00", "from"), ("to=soon", "to"),
                         ("status=lost", "status")]:
        r = api.get(f"/appointments/?{query}", token=staff)
        assert r.status == 400 and field in r.body["Fields"], (query, r)


def test_the_scheduled_function_sends_due_reminders(api, clinic, outbox):
    from app import queue_reset

    staff, doctor, patients = clinic
    _book(api, staff, doctor, patients["Emma Mail"], 3)
    event = {"version": "0", "id": "reminder-test", "detail-type": "Scheduled Event", "source": "aws.events",
             "account": "123456789012", "time": _at(0), "region": "us-east-1", "resources": [], "detail": {}}
    assert queue_reset(event, None) == {"expired": 0, "reminders": 1}
    assert len(outbox) == 1 and outbox[0][1] == "emma@clinic.test"
