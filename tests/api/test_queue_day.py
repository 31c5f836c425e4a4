"""The clinic's day in its own time zone, and the reset that closes past days.

The clock is fixed (chalicelib.domain.clock.now) at instants around local midnight
and around daylight-saving changes. Requests go through a chalice.test.Client whose
stage sets DQS_CLINIC_TIMEZONE, as a clinic's deployment would.
"""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from chalice.test import Client

from chalicelib.domain import clock, entities, queue
from tests.conftest import Api
from tests.support.queue import add_patients, caller, desk, waiting_entries

PROJECT_DIR = Path(__file__).resolve().parents[2]


def at(instant: str) -> datetime:
    return datetime.fromisoformat(instant.replace("Z", "+00:00")).astimezone(UTC)


@pytest.fixture
def fixed_clock(monkeypatch):
    def set_to(instant: str) -> None:
        moment = at(instant)
        monkeypatch.setattr(clock, "now", lambda: moment)
    return set_to


@pytest.fixture
def clinic(aws, tmp_path, monkeypatch):
    """The app deployed for a clinic in a given time zone: (Api, chalice Client)."""
    def make(tz: str):
        config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
        config["stages"]["dev"]["environment_variables"]["DQS_CLINIC_TIMEZONE"] = tz
        (tmp_path / ".chalice").mkdir(exist_ok=True)
        (tmp_path / ".chalice" / "config.json").write_text(json.dumps(config))
        monkeypatch.setenv("DQS_CLINIC_TIMEZONE", tz)  # for domain calls made outside a request
        from app import app

        client = Client(app, project_dir=str(tmp_path))
        return Api(client), client
    return make


def invoke_scheduled_reset(client: Client) -> dict:
    event = client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/queue_reset"])
    return client.lambda_.invoke("queue_reset", event).payload


# -- the day an entry belongs to -------------------------------------------------------

@pytest.mark.parametrize("tz, instant, expected", [
    # Los Angeles, spring forward on 2024-03-10 (PST -8 until 02:00, then PDT -7).
    ("America/Los_Angeles", "2024-03-10T07:59:00Z", "2024-03-09"),
    ("America/Los_Angeles", "2024-03-10T08:00:00Z", "2024-03-10"),
    ("America/Los_Angeles", "2024-03-11T06:59:00Z", "2024-03-10"),  # 23:59 PDT; UTC says the 11th
    ("America/Los_Angeles", "2024-03-11T07:00:00Z", "2024-03-11"),
    # Los Angeles, fall back on 2024-11-03 (a 25-hour day).
    ("America/Los_Angeles", "2024-11-03T06:59:00Z", "2024-11-02"),
    ("America/Los_Angeles", "2024-11-04T07:59:00Z", "2024-11-03"),
    ("America/Los_Angeles", "2024-11-04T08:00:00Z", "2024-11-04"),
    # Auckland, DST ends on 2024-04-07 (NZDT +13 until 03:00, then NZST +12).
    ("Pacific/Auckland", "2024-04-06T10:59:00Z", "2024-04-06"),
    ("Pacific/Auckland", "2024-04-06T11:00:00Z", "2024-04-07"),  # UTC says the 6th
    ("Pacific/Auckland", "2024-04-07T11:59:00Z", "2024-04-07"),  # 23:59 NZST
    ("Pacific/Auckland", "2024-04-07T12:00:00Z", "2024-04-08"),
    # Auckland, DST starts on 2024-09-29 (a 23-hour day).
    ("Pacific/Auckland", "2024-09-28T11:59:00Z", "2024-09-28"),
    ("Pacific/Auckland", "2024-09-28T12:00:00Z", "2024-09-29"),
    ("Pacific/Auckland", "2024-09-29T10:59:00Z", "2024-09-29"),
    ("Pacific/Auckland", "2024-09-29T11:00:00Z", "2024-09-30"),
])
def test_a_join_belongs_to_the_clinics_local_day(clinic, people, fixed_clock, tz, instant, expected):
    patient = people.make("patient")
    api, _ = clinic(tz)
    fixed_clock(instant)
    entry = api.post("/queues/join_queue", {}, token=patient.token).body
    assert entry["queue_date"] == expected, entry
    assert entry["created_at"] == instant
    listed = api.get("/queues", token=patient.token).body["results"]
    assert [e["id"] for e in listed] == [entry["id"]]


def test_numbering_restarts_at_local_midnight_not_utc_midnight(clinic, people, fixed_clock):
    a, b, c = (people.make("patient") for _ in range(3))
    staff = people.make("staff")  # tokens are issued before the clock is fixed
    api, _ = clinic("Pacific/Auckland")
    fixed_clock("2024-04-07T11:58:00Z")  # 23:58 on the 7th in Auckland
    late = [api.post("/queues/join_queue", {}, token=p.token).body for p in (a, b)]
    assert [(e["queue_date"], e["token_number"]) for e in late] == [("2024-04-07", 1), ("2024-04-07", 2)]
    fixed_clock("2024-04-07T12:01:00Z")  # 00:01 on the 8th; still the 7th in UTC
    early = [api.post("/queues/join_queue", {}, token=p.token).body for p in (a, c)]
    assert [(e["queue_date"], e["token_number"]) for e in early] == [("2024-04-08", 1), ("2024-04-08", 2)]
    assert [e["id"] for e in api.get("/queues", token=staff.token).body["results"]] == [e["id"] for e in early]
    # The desk calls today's queue; yesterday's waiting entries are not called.
    assert api.post("/queues/call_next", token=staff.token).body["id"] == early[0]["id"]


# -- closing past days -------------------------------------------------------------------

def test_the_scheduled_reset_expires_a_day_only_after_it_ended_locally(clinic, people, fixed_clock):
    staff = people.make("staff")
    patients = [people.make("patient") for _ in range(3)]
    api, client = clinic("America/Los_Angeles")
    fixed_clock("2024-03-11T06:30:00Z")  # 23:30 PDT on the 10th (the day DST began)
    entries = [api.post("/queues/join_queue", {}, token=p.token).body for p in patients]
    assert {e["queue_date"] for e in entries} == {"2024-03-10"}
    api.post("/queues/call_next", token=staff.token)
    api.post(f"/queues/{entries[2]['id']}/mark_served", token=staff.token)

    fixed_clock("2024-03-11T06:05:00Z")  # the hourly run at 23:05 local: the day is not over
    assert invoke_scheduled_reset(client) == {"expired": 0, "reminders": 0}
    fixed_clock("2024-03-11T07:05:00Z")  # 00:05 on the 11th: the 10th has ended
    assert invoke_scheduled_reset(client) == {"expired": 2, "reminders": 0}
    assert invoke_scheduled_reset(client) == {"expired": 0, "reminders": 0}  # idempotent
    statuses = [api.get(f"/queues/{e['id']}", token=staff.token).body["status"] for e in entries]
    assert statuses == ["expired", "expired", "served"]
    # Nothing is deleted, and the patients may join the new day.
    fresh = api.post("/queues/join_queue", {}, token=patients[0].token).body
    assert (fresh["queue_date"], fresh["token_number"]) == ("2024-03-11", 1)


def test_the_reset_in_auckland_around_the_end_of_daylight_saving(clinic, people, fixed_clock):
    patient, admin = people.make("patient"), people.admin()
    api, client = clinic("Pacific/Auckland")
    fixed_clock("2024-04-06T10:30:00Z")  # 23:30 NZDT on the 6th
    before = api.post("/queues/join_queue", {}, token=patient.token).body
    fixed_clock("2024-04-06T11:30:00Z")  # 00:30 NZDT on the 7th
    on_the_day = api.post("/queues/join_queue", {}, token=patient.token).body
    assert (before["queue_date"], on_the_day["queue_date"]) == ("2024-04-06", "2024-04-07")
    assert invoke_scheduled_reset(client) == {"expired": 1, "reminders": 0}
    fixed_clock("2024-04-07T11:05:00Z")  # 23:05 NZST on the 7th (a 25-hour day): not over yet
    assert invoke_scheduled_reset(client) == {"expired": 0, "reminders": 0}
    fixed_clock("2024-04-07T12:05:00Z")  # 00:05 on the 8th
    assert invoke_scheduled_reset(client) == {"expired": 1, "reminders": 0}
    assert api.post("/queues/reset_queue", token=admin.token).body["expired"] == 0


def test_expire_past_days_at_the_domain_layer(aws, monkeypatch, fixed_clock):
    monkeypatch.setenv("DQS_CLINIC_TIMEZONE", "America/Los_Angeles")
    fixed_clock("2024-11-04T07:30:00Z")  # 23:30 PST on the 3rd (the day DST ended)
    assert clock.today() == date(2024, 11, 3)
    [patient_id] = add_patients(1)
    old = waiting_entries(3, day=date(2024, 11, 2))
    today = queue.join(caller("patient", patient_id=patient_id), queue.JoinRequest())
    assert today.queue_date == date(2024, 11, 3)
    assert queue.expire_past_days() == 3
    assert queue.expire_past_days() == 0
    assert queue.get_entry(desk(), old[0].id).status == entities.EXPIRED
    assert queue.get_entry(desk(), today.id).status == entities.WAITING
    fixed_clock("2024-11-04T08:00:00Z")  # midnight PST: the 3rd has ended
    assert queue.expire_past_days() == 1


def test_the_local_server_runs_the_reset_on_a_thread(aws):
    import time

    from chalicelib.storage import queue_entries as entries
    from devtools.local_server import start_hourly_queue_reset

    old = waiting_entries(2, day=clock.today() - timedelta(days=1))
    stop = start_hourly_queue_reset(interval_seconds=3600)
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(entries.get(e.id).status != entities.EXPIRED for e in old):
            time.sleep(0.05)
    finally:
        stop.set()
    assert [entries.get(e.id).status for e in old] == [entities.EXPIRED, entities.EXPIRED]
