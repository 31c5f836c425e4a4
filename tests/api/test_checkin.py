"""Appointment check-in through the API (chalice.test.Client on moto): the calling order, the
board and stats, the one transaction, and what refuses it."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import clock, departments
from chalicelib.storage.appointments import AppointmentModel
from tests.support.dynamodb import recording as dynamodb_calls

NOW = datetime.combine(datetime.now(UTC).date(), datetime.min.time(), UTC) + timedelta(hours=9)


def instant(minutes: int) -> str:
    return (NOW + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def clinic(api, people, as_role, monkeypatch):
    admin, staff = people.admin(), as_role("staff")
    department = departments.ensure_department("Cardiology")
    doctor = api.post("/doctors", {"name": "Dr Heart", "specialty": "Cardiology", "department": department},
                      token=admin.token).body["id"]
    patients = [people.make("patient") for _ in range(4)]
    monkeypatch.setattr(clock, "now", lambda: NOW)  # 09:00 today, clinic time (UTC)
    return {"staff": staff, "department": department, "doctor": doctor, "patients": patients}


def book(api, clinic, patient, minutes: int) -> dict:
    response = api.post("/appointments", {"doctor": clinic["doctor"], "date": instant(minutes)}, token=patient.token)
    assert response.status == 201, response
    return response.body


def test_urgent_then_appointments_by_time_then_normal_and_the_board_counts_them(api, clinic):
    staff, department, (p1, p2, p3, p4) = clinic["staff"], clinic["department"], clinic["patients"]
    normal = api.post("/queues/join_queue", {"department": department}, token=p4.token).body
    late, early = book(api, clinic, p1, 50), book(api, clinic, p2, 20)
    checked_late = api.post(f"/appointments/{late['id']}/check_in", token=p1.token)
    assert checked_late.status == 201, checked_late
    checked_early = api.post(f"/appointments/{early['id']}/check_in", token=staff.token)
    assert checked_early.body["priority"] == "appointment" and checked_early.body["department"] == department
    urgent = api.post("/queues/join_queue", {"patient_id": p3.record["patient_id"], "department": department,
                                             "priority": "urgent"}, token=staff.token).body
    assert api.get(f"/appointments/{late['id']}", token=p1.token).body["checked_in_entry"] == checked_late.body["id"]
    position = api.get(f"/queues/{checked_early.body['id']}/position", token=staff.token).body
    assert position["people_ahead"] == 1
    board = api.get(f"/queues/board?department={department}", token=staff.token)
    tokens = [urgent["token_number"], checked_early.body["token_number"], checked_late.body["token_number"],
              normal["token_number"]]
    assert (board.body["next"], board.body["waiting"]) == (tokens, 4)  # the calling order, by token number
    called = [api.post("/queues/call_next", {"department": department}, token=staff.token).body["id"]
              for _ in range(4)]
    assert called == [urgent["id"], checked_early.body["id"], checked_late.body["id"], normal["id"]]
    stats = api.get(f"/queues/stats?department={department}", token=staff.token)
    assert (stats.body["joined"], stats.body["called"], stats.body["waiting"]) == (4, 4, 0)


def test_twice_is_409_with_the_entry_and_one_transaction_writes_both(api, clinic):
    p1 = clinic["patients"][0]
    appointment = book(api, clinic, p1, 30)
    with dynamodb_calls() as calls:
        first = api.post(f"/appointments/{appointment['id']}/check_in", token=p1.token)
    assert first.status == 201
    assert calls.count("TransactWriteItems") == 1 and "PutItem" not in calls
    again = api.post(f"/appointments/{appointment['id']}/check_in", token=p1.token)
    assert again.status == 409 and again.body["entry"]["id"] == first.body["id"]


def test_a_canceled_appointment_in_the_write_leaves_no_entry(api, clinic, monkeypatch):
    p1, staff = clinic["patients"][0], clinic["staff"]
    appointment = book(api, clinic, p1, 30)
    # Canceled in the table after the check-in read it: the transaction fails, nothing is written.
    from chalicelib.domain import checkin
    real = checkin.get_appointment

    def read_then_cancel(actor, appointment_id):
        read = real(actor, appointment_id)
        item = AppointmentModel.get(appointment_id)
        item.update(actions=[AppointmentModel.status.set("canceled")])
        return read

    monkeypatch.setattr(checkin, "get_appointment", read_then_cancel)
    refused = api.post(f"/appointments/{appointment['id']}/check_in", token=p1.token)
    assert refused.status == 400 and "status" in refused.body["Fields"]
    assert api.get(f"/queues?department={clinic['department']}", token=staff.token).body["results"] == []
    assert AppointmentModel.get(appointment["id"]).checked_in_entry is None


@pytest.mark.parametrize("minutes, field", [(61, "date"), (24 * 60, "date")])
def test_too_early_or_another_day_is_400_on_date(api, clinic, minutes, field):
    p1 = clinic["patients"][0]
    appointment = book(api, clinic, p1, minutes)
    refused = api.post(f"/appointments/{appointment['id']}/check_in", token=p1.token)
    assert refused.status == 400 and field in refused.body["Fields"]


def test_who_may_check_in(api, clinic, as_role):
    p1, p2 = clinic["patients"][:2]
    appointment = book(api, clinic, p1, 30)
    assert api.post(f"/appointments/{appointment['id']}/check_in", token=p2.token).status == 403
    assert api.post(f"/appointments/{appointment['id']}/check_in", token=as_role("doctor").token).status == 403
    assert api.post(f"/appointments/{appointment['id']}/check_in").status == 401
    assert api.post("/appointments/999/check_in", token=clinic["staff"].token).status == 404
