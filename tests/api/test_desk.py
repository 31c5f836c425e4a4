"""The desk's day through the API (chalice.test.Client on moto), at the edge: service points,
department and doctor edits, who runs a desk, the moves' answers, closing a queue, statistics and
wait estimates. Every move from every status for every identity is tests/unit/test_queue_state_machine.py's."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import clock, departments
from tests.support.queue import add_patients

MOVES = ("recall", "no_show", "requeue", "cancel", "transfer", "mark_served")


@pytest.fixture
def staff(as_role):
    return as_role("staff")


def join(api, staff, patient_id: int, department: int | None = None, **extra) -> dict:
    response = api.post("/queues/join_queue", {"patient_id": patient_id, "department": department, **extra},
                        token=staff.token)
    assert response.status == 201, response
    return response.body


def entry_in(api, staff, status: str, department: int) -> dict:
    """A fresh entry of a department's queue today in `status` (the queue holds nothing else open)."""
    [patient_id] = add_patients(1)
    entry = join(api, staff, patient_id, department)
    path = f"/queues/{entry['id']}"
    if status in ("called", "served", "no_show"):
        assert api.post("/queues/call_next", {"department": department}, token=staff.token).body["id"] == entry["id"]
    if status == "served":
        assert api.post(f"{path}/mark_served", token=staff.token).status == 200
    if status == "no_show":
        assert api.post(f"{path}/no_show", token=staff.token).status == 200
    if status == "canceled":
        assert api.post(f"{path}/cancel", token=staff.token).status == 200
    if status == "transferred":
        assert api.post(f"{path}/transfer", {"department": None}, token=staff.token).status == 201
    if status == "expired":
        assert api.post("/queues/close", {"department": department}, token=staff.token).body["expired"] == 1
        assert api.post("/queues/open", {"department": department}, token=staff.token).status == 200
    stored = api.get(path, token=staff.token).body
    assert stored["status"] == status, stored
    return stored


def move(api, who, entry_id: int, name: str, body=None):
    if name == "transfer" and body is None:
        body = {"department": None}
    return api.post(f"/queues/{entry_id}/{name}", body, token=who.token)


def replay(history: list[dict]) -> str:
    """The status a history leads to, checking each step is a move the desk can make."""
    steps = {None: {"waiting"}, "waiting": {"called", "served", "canceled", "transferred", "expired"},
             "called": {"called", "served", "no_show", "waiting", "canceled", "transferred", "expired"},
             "no_show": {"waiting"}}
    status = None
    for event in history:
        assert event["status"] in steps.get(status, set()), (status, event)
        status = event["status"]
    return status


# -- the edge of the desk's moves (every move from every status, for every identity, is
# tests/unit/test_queue_state_machine.py's, through the in-memory stores) ----------------------

def test_a_move_the_status_refuses_is_409_naming_status_and_changes_nothing(api, staff):
    entry = entry_in(api, staff, "served", departments.ensure_department("Served"))
    for name in MOVES:
        response = move(api, staff, entry["id"], name)
        if name == "mark_served":  # serving again changes nothing
            assert response.status == 200 and response.body == entry
            continue
        assert response.status == 409, (name, response)
        assert response.body["Code"] == "ConflictError" and "status" in response.body["Fields"], (name, response)
    after = api.get(f"/queues/{entry['id']}", token=staff.token).body
    assert after == entry and replay(after["history"]) == "served"


def test_recall_counts_and_moves_to_another_service_point(api, people, staff):
    admin = people.admin()
    department = departments.ensure_department("Radiology")
    desk = api.post("/service-points", {"name": "Desk 1", "kind": "desk", "department": department},
                    token=admin.token).body
    room = api.post("/service-points", {"name": "Room 2", "kind": "room", "department": department},
                    token=admin.token).body
    [patient_id] = add_patients(1)
    entry = join(api, staff, patient_id, department)
    called = api.post("/queues/call_next", {"department": department, "service_point": desk["id"]},
                      token=staff.token).body
    assert (called["service_point"], called["called_by"], called["recalls"]) == (desk["id"], staff.id, 0)
    again = move(api, staff, entry["id"], "recall").body
    assert (again["status"], again["service_point"], again["recalls"]) == ("called", desk["id"], 1)
    moved = move(api, staff, entry["id"], "recall", {"service_point": room["id"]}).body
    assert (moved["service_point"], moved["recalls"]) == (room["id"], 2)
    assert [(e["status"], e["service_point"]) for e in moved["history"]] == [
        ("waiting", None), ("called", desk["id"]), ("called", desk["id"]), ("called", room["id"])]
    general = api.post("/service-points", {"name": "Desk 1", "kind": "desk", "department": None},
                       token=admin.token).body
    wrong = move(api, staff, entry["id"], "recall", {"service_point": general["id"]})
    assert wrong.status == 400 and "service_point" in wrong.body["Fields"]
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body == moved


def test_requeue_keeps_the_entrys_place(api, staff):
    patients = add_patients(4)
    first, second = (join(api, staff, p) for p in patients[:2])
    urgent = join(api, staff, patients[2], priority="urgent")
    assert api.post("/queues/call_next", token=staff.token).body["id"] == urgent["id"]
    assert api.post("/queues/call_next", token=staff.token).body["id"] == first["id"]
    later = join(api, staff, patients[3])
    assert move(api, staff, first["id"], "no_show").body["status"] == "no_show"
    back = move(api, staff, first["id"], "requeue").body
    assert back["status"] == "waiting" and back["token_number"] == 1 and back["closed_at"] is None
    assert move(api, staff, urgent["id"], "requeue").body["status"] == "waiting"
    order = [api.post("/queues/call_next", token=staff.token).body["id"] for _ in range(4)]
    assert order == [urgent["id"], first["id"], second["id"], later["id"]]


def test_a_no_show_frees_the_place_and_requeue_refuses_a_second_open_entry(api, people, staff):
    patient = people.make("patient")
    entry = api.post("/queues/join_queue", {}, token=patient.token).body
    api.post("/queues/call_next", token=staff.token)
    move(api, staff, entry["id"], "no_show")
    rejoined = api.post("/queues/join_queue", {}, token=patient.token)
    assert rejoined.status == 201 and rejoined.body["token_number"] == 2
    refused = move(api, staff, entry["id"], "requeue")
    assert refused.status == 409 and "patient_id" in refused.body["Fields"]
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body["status"] == "no_show"


def test_patients_cancel_their_own_entries_only(api, people, staff):
    owner, stranger = people.make("patient"), people.make("patient")
    entry = api.post("/queues/join_queue", {}, token=owner.token).body
    assert move(api, stranger, entry["id"], "cancel").status == 403
    canceled = move(api, owner, entry["id"], "cancel")
    assert canceled.status == 200 and canceled.body["status"] == "canceled"
    assert canceled.body["history"][-1]["by"] == owner.id
    assert api.post("/queues/join_queue", {}, token=owner.token).status == 201  # the place was freed


def test_transfer_makes_the_next_entry_of_the_visit(api, people, staff):
    triage = departments.ensure_department("Triage")
    cardiology = departments.ensure_department("Cardiology")
    [other] = add_patients(1)
    join(api, staff, other, cardiology)  # cardiology's token 1
    patient = people.make("patient")
    entry = api.post("/queues/join_queue", {"department": triage}, token=patient.token).body
    api.post("/queues/call_next", {"department": triage}, token=staff.token)
    moved = move(api, staff, entry["id"], "transfer", {"department": cardiology, "priority": "urgent"})
    assert moved.status == 201, moved
    new = moved.body
    assert (new["department"], new["token_number"], new["status"], new["priority"]) == (
        cardiology, 2, "waiting", "urgent")
    assert (new["visit"], new["transferred_from"]) == (entry["id"], entry["id"])
    assert [e["status"] for e in new["history"]] == ["waiting"]
    old = api.get(f"/queues/{entry['id']}", token=staff.token).body
    assert old["status"] == "transferred" and old["visit"] == entry["id"]
    # Called before the earlier normal token, being urgent; and on to the pharmacy, same visit.
    assert api.post("/queues/call_next", {"department": cardiology}, token=staff.token).body["id"] == new["id"]
    onward = move(api, staff, new["id"], "transfer").body
    assert (onward["department"], onward["visit"], onward["transferred_from"], onward["priority"]) == (
        None, entry["id"], new["id"], "urgent")
    # The patient holds one open place per queue: the general queue's, now.
    assert api.post("/queues/join_queue", {}, token=patient.token).status == 409


def test_bad_transfers_change_nothing(api, people, staff):
    cardiology = departments.ensure_department("Cardiology")
    closed = departments.ensure_department("Closed")
    admin = people.admin()
    api.patch(f"/departments/{closed}", {"is_active": False}, token=admin.token)
    [patient_id] = add_patients(1)
    entry = join(api, staff, patient_id, cardiology)
    for body in ({"department": cardiology}, {"department": 4242}, {"department": closed}, {}, {"department": "x"},
                 {"department": None, "priority": "soon"}):
        response = move(api, staff, entry["id"], "transfer", body)
        assert response.status == 400 and "department" in response.body["Fields"] or "priority" in str(
            response.body), (body, response)
    doctor = people.make("doctor", department=cardiology)
    assert move(api, doctor, entry["id"], "transfer", {"department": None, "priority": "urgent"}).status == 403
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body == entry
    # The patient already waiting in the target queue: 409, both entries as they were.
    general = join(api, staff, patient_id)
    refused = move(api, staff, entry["id"], "transfer", {"department": None})
    assert refused.status == 409 and "patient_id" in refused.body["Fields"]
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body == entry
    assert api.get(f"/queues/{general['id']}", token=staff.token).body == general


def test_an_entry_of_an_earlier_day_is_refused(api, staff, monkeypatch):
    [patient_id] = add_patients(1)
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now - timedelta(days=1))
    entry = join(api, staff, patient_id)
    api.post("/queues/call_next", token=staff.token)
    monkeypatch.setattr(clock, "now", lambda: real_now)
    response = move(api, staff, entry["id"], "recall")
    assert response.status == 409 and "status" in response.body["Fields"], response
    assert api.post("/queues/999999/recall", token=staff.token).status == 404


# -- who runs a desk ------------------------------------------------------------------------

def test_a_doctor_runs_only_their_own_departments_queue(api, people, staff):
    cardiology = departments.ensure_department("Cardiology")
    radiology = departments.ensure_department("Radiology")
    doctor = people.make("doctor", department=cardiology)
    patients = add_patients(3)
    mine = join(api, staff, patients[0], cardiology)
    theirs = join(api, staff, patients[1], radiology)
    general = join(api, staff, patients[2])
    assert api.post("/queues/call_next", {"department": radiology}, token=doctor.token).status == 403
    assert api.post("/queues/call_next", {}, token=doctor.token).status == 403
    called = api.post("/queues/call_next", {"department": cardiology}, token=doctor.token)
    assert called.status == 200 and called.body["id"] == mine["id"] and called.body["called_by"] == doctor.id
    for name in ("recall", "no_show", "transfer", "mark_served"):
        for other in (theirs, general):
            assert move(api, doctor, other["id"], name).status == 403, name
    assert move(api, doctor, mine["id"], "recall").status == 200
    assert move(api, doctor, mine["id"], "transfer").status == 201
    for name in ("requeue", "cancel"):
        assert move(api, doctor, mine["id"], name).status == 403
    assert api.get("/queues/stats", token=doctor.token).status == 200


def test_a_deactivated_doctor_record_runs_no_desk(api, people, staff):
    admin = people.admin()
    cardiology = departments.ensure_department("Cardiology")
    doctor = people.make("doctor", department=cardiology)
    first, second = (join(api, staff, p, cardiology) for p in add_patients(2))
    assert api.post("/queues/call_next", {"department": cardiology}, token=doctor.token).status == 200
    record = api.get(f"/users/{doctor.id}", token=admin.token).body["doctor_id"]
    assert api.patch(f"/doctors/{record}", {"is_active": False}, token=admin.token).status == 200
    r = api.post("/queues/call_next", {"department": cardiology}, token=doctor.token)
    assert r.status == 403 and r.body["Message"] == "This doctor record is inactive: it runs no desk.", r
    for name in ("recall", "no_show", "transfer", "mark_served"):
        assert move(api, doctor, first["id"], name).status == 403, name
    assert api.get(f"/queues/{second['id']}", token=staff.token).body["status"] == "waiting"
    assert api.patch(f"/doctors/{record}", {"is_active": True}, token=admin.token).status == 200
    assert api.post("/queues/call_next", {"department": cardiology}, token=doctor.token).status == 200


def test_call_next_takes_an_active_service_point_of_that_queue(api, people, staff):
    admin = people.admin()
    cardiology = departments.ensure_department("Cardiology")
    [patient_id] = add_patients(1)
    join(api, staff, patient_id, cardiology)
    general_desk = api.post("/service-points", {"name": "Desk", "kind": "desk"}, token=admin.token).body
    room = api.post("/service-points", {"name": "Room 1", "kind": "room", "department": cardiology},
                    token=admin.token).body
    idle = api.post("/service-points", {"name": "Room 2", "kind": "room", "department": cardiology,
                                        "is_active": False}, token=admin.token).body
    for point in (general_desk["id"], idle["id"], 4242):
        r = api.post("/queues/call_next", {"department": cardiology, "service_point": point}, token=staff.token)
        assert r.status == 400 and "service_point" in r.body["Fields"], r
    called = api.post("/queues/call_next", {"department": cardiology, "service_point": room["id"]},
                      token=staff.token).body
    assert called["service_point"] == room["id"] and called["history"][-1]["service_point"] == room["id"]


# -- service points, departments and doctors -------------------------------------------------

def test_service_points_read_by_every_role_and_written_by_admins(api, people, as_role):
    """Those the routes allow, once each (the roles refused are tests/api/test_roles.py's)."""
    admin = people.admin()
    cardiology = departments.ensure_department("Cardiology")
    made = api.post("/service-points", {"name": "Room 1", "kind": "room", "department": cardiology},
                    token=admin.token)
    assert made.status == 201 and made.body == {"id": made.body["id"], "name": "Room 1", "kind": "room",
                                                "department": cardiology, "is_active": True}
    patient = as_role("patient")
    assert api.get("/service-points", token=patient.token).body == {"results": [made.body], "next": None}
    assert api.get(f"/service-points/{made.body['id']}", token=patient.token).body == made.body
    created = api.post("/service-points", {"name": "Desk 9", "kind": "desk"}, token=admin.token)
    assert created.status == 201 and created.body["department"] is None
    changed = api.patch(f"/service-points/{made.body['id']}", {"is_active": False}, token=admin.token)
    assert changed.status == 200 and changed.body == {**made.body, "is_active": False}
    assert api.patch("/service-points/4242", {"name": "Y"}, token=admin.token).status == 404
    assert api.get("/service-points/4242", token=admin.token).status == 404


def test_departments_and_doctors_are_corrected_by_admins(api, people):
    admin = people.admin().token
    department = api.post("/departments", {"name": "Cardiology"}, token=admin).body
    doctor = api.post("/doctors", {"name": "Dr. A", "specialty": "Heart", "department": department["id"]},
                      token=admin).body
    d = api.patch(f"/departments/{department['id']}", {"description": "Hearts"}, token=admin)
    r = api.patch(f"/doctors/{doctor['id']}", {"specialty": "Hearts"}, token=admin)
    assert d.status == 200 and d.body == {**department, "description": "Hearts"}
    assert r.status == 200 and r.body == {**doctor, "specialty": "Hearts"}


def test_an_inactive_department_takes_no_joins_calls_or_doctors_and_keeps_its_history(api, people, staff):
    admin = people.admin().token
    cardiology = departments.ensure_department("Cardiology")
    radiology = departments.ensure_department("Radiology")
    [a, b] = add_patients(2)
    entry = join(api, staff, a, cardiology)
    off = api.patch(f"/departments/{cardiology}", {"is_active": False}, token=admin)
    assert off.status == 200 and off.body["is_active"] is False
    for response in (api.post("/queues/join_queue", {"patient_id": b, "department": cardiology}, token=staff.token),
                     api.post("/queues/call_next", {"department": cardiology}, token=staff.token),
                     api.post("/doctors", {"name": "Dr. B", "specialty": "x", "department": cardiology},
                              token=admin),
                     api.post("/service-points", {"name": "R", "kind": "room", "department": cardiology},
                              token=admin)):
        assert response.status == 400 and "department" in response.body["Fields"], response
    doctor = api.post("/doctors", {"name": "Dr. C", "specialty": "x", "department": radiology}, token=admin).body
    moved = api.patch(f"/doctors/{doctor['id']}", {"department": cardiology}, token=admin)
    assert moved.status == 400 and "department" in moved.body["Fields"]
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body == entry
    listed = api.get(f"/queues?department={cardiology}", token=staff.token).body["results"]
    assert [e["id"] for e in listed] == [entry["id"]]
    retired = api.patch(f"/doctors/{doctor['id']}", {"is_active": False, "name": "Dr. C."}, token=admin).body
    assert retired["is_active"] is False and retired["name"] == "Dr. C."
    on = api.patch(f"/departments/{cardiology}", {"is_active": True}, token=admin)
    assert on.body["is_active"] is True
    assert api.post("/queues/call_next", {"department": cardiology}, token=staff.token).body["id"] == entry["id"]
    taken = api.patch(f"/departments/{cardiology}", {"name": "radiology"}, token=admin)
    assert taken.status == 409 and "name" in taken.body["Fields"]


def test_a_service_point_follows_its_departments_activity(api, people, staff):
    """A call at a service point checks the point alone as it is written: the point carries its
    department's activity, written with every (de)activation, a rename too, and cleared by a move."""
    admin = people.admin().token
    surgery = departments.ensure_department("Surgery")
    dental = departments.ensure_department("Dental")
    point = api.post("/service-points", {"name": "S1", "kind": "room", "department": surgery}, token=admin).body
    [a, b] = add_patients(2)
    entry = join(api, staff, a, surgery)
    at_point = {"department": surgery, "service_point": point["id"]}
    off = api.patch(f"/departments/{surgery}", {"is_active": False, "name": "Surgery (closed)"}, token=admin)
    assert off.status == 200 and off.body["is_active"] is False
    refused = api.post("/queues/call_next", at_point, token=staff.token)
    assert refused.status == 400 and list(refused.body["Fields"]) == ["department"], refused
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body["status"] == "waiting"
    # Moved out of the inactive department, the point serves its new one.
    moved = api.patch(f"/service-points/{point['id']}", {"department": dental}, token=admin)
    assert moved.status == 200
    other = join(api, staff, b, dental)
    called = api.post("/queues/call_next", {"department": dental, "service_point": point["id"]}, token=staff.token)
    assert called.body["id"] == other["id"] and called.body["service_point"] == point["id"]
    back = api.patch(f"/service-points/{point['id']}", {"department": surgery}, token=admin)
    assert back.status == 400 and "department" in back.body["Fields"]  # no joining an inactive department
    assert api.patch(f"/departments/{surgery}", {"is_active": True}, token=admin).body["is_active"] is True
    assert api.patch(f"/service-points/{point['id']}", {"department": surgery}, token=admin).status == 200
    assert api.post("/queues/call_next", at_point, token=staff.token).body["id"] == entry["id"]


# -- closing and opening a queue -----------------------------------------------------------------

def test_close_and_open(api, staff):
    [patient_id] = add_patients(1)
    entry = join(api, staff, patient_id)
    closed = api.post("/queues/close", {}, token=staff.token)
    assert closed.status == 200 and closed.body["expired"] == 1 and closed.body["message"]
    opened = api.post("/queues/open", {}, token=staff.token)
    assert opened.status == 200 and opened.body["message"]
    assert api.get(f"/queues/{entry['id']}", token=staff.token).body["status"] == "expired"


def test_a_closed_queue_refuses_joins_until_opened(api, people, staff):
    cardiology = departments.ensure_department("Cardiology")
    patients = add_patients(4)
    called = join(api, staff, patients[0], cardiology)
    waiting = join(api, staff, patients[1], cardiology)
    general = join(api, staff, patients[2])
    api.post("/queues/call_next", {"department": cardiology}, token=staff.token)
    closed = api.post("/queues/close", {"department": cardiology}, token=staff.token)
    assert closed.status == 200 and closed.body["expired"] == 1
    expired = api.get(f"/queues/{waiting['id']}", token=staff.token).body
    assert expired["status"] == "expired" and expired["history"][-1] == {
        "status": "expired", "at": expired["closed_at"], "by": staff.id, "service_point": None}
    assert api.get(f"/queues/{general['id']}", token=staff.token).body == general  # another queue
    refused = api.post("/queues/join_queue", {"patient_id": patients[3], "department": cardiology},
                       token=staff.token)
    assert refused.status == 409 and refused.body["Fields"] == {"department": "The queue is closed for today."}
    assert api.post("/queues/close", {"department": cardiology}, token=staff.token).body["expired"] == 0
    served = api.post(f"/queues/{called['id']}/mark_served", token=staff.token)
    assert served.status == 200 and served.body["status"] == "served"  # called ones may still be served
    assert api.post("/queues/close", {"department": 4242}, token=staff.token).status == 400
    assert api.post("/queues/open", {"department": cardiology}, token=staff.token).status == 200
    rejoined = api.post("/queues/join_queue", {"patient_id": patients[3], "department": cardiology},
                        token=staff.token)
    assert rejoined.status == 201 and rejoined.body["token_number"] == 3  # a refused join takes no number


def test_each_day_starts_open(api, staff, monkeypatch):
    [a, b] = add_patients(2)
    api.post("/queues/close", {}, token=staff.token)
    assert api.post("/queues/join_queue", {"patient_id": a}, token=staff.token).status == 409
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now + timedelta(days=1))
    assert api.post("/queues/join_queue", {"patient_id": b}, token=staff.token).status == 201


# -- statistics and estimates ----------------------------------------------------------------------

def at_minute(monkeypatch, start: datetime, minute: float) -> None:
    moment = start + timedelta(minutes=minute)
    monkeypatch.setattr(clock, "now", lambda: moment)


def test_statistics_of_a_queues_day(api, people, staff, monkeypatch):
    admin = people.admin()
    start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    point = api.post("/service-points", {"name": "Desk 1", "kind": "desk"}, token=admin.token).body
    patients = add_patients(5)
    at_minute(monkeypatch, start, 0)
    entries = [join(api, staff, p) for p in patients]
    for minute, entry in ((10, entries[0]), (20, entries[1]), (30, entries[2])):
        at_minute(monkeypatch, start, minute)
        called = api.post("/queues/call_next", {"service_point": point["id"]}, token=staff.token).body
        assert called["id"] == entry["id"]
    at_minute(monkeypatch, start, 14)
    api.post(f"/queues/{entries[0]['id']}/mark_served", token=staff.token)
    at_minute(monkeypatch, start, 40)
    api.post(f"/queues/{entries[1]['id']}/mark_served", token=staff.token)
    api.post(f"/queues/{entries[2]['id']}/no_show", token=staff.token)
    api.post(f"/queues/{entries[3]['id']}/cancel", token=staff.token)
    stats = api.get("/queues/stats/", token=staff.token)
    assert stats.status == 200, stats
    assert stats.body == {
        "queue_date": start.date().isoformat(), "department": None, "joined": 5, "waiting": 1, "called": 0,
        "served": 2, "no_show": 1, "canceled": 1, "transferred": 0, "expired": 0,
        "wait_minutes": {"median": 20.0, "p90": 30.0}, "service_minutes": {"median": 12.0, "p90": 20.0},
        "by_service_point": [{"service_point": point["id"], "called": 3, "served": 2,
                              "service_minutes": {"median": 12.0, "p90": 20.0}}],
    }
    yesterday = (start - timedelta(days=1)).date().isoformat()
    empty = api.get(f"/queues/stats?date={yesterday}", token=staff.token).body
    assert empty["joined"] == 0 and empty["wait_minutes"] is None and empty["by_service_point"] == []
    assert api.get("/queues/stats?department=4242", token=staff.token).status == 400
    assert api.get("/queues/stats?date=yesterday", token=staff.token).status == 400


def test_statistics_for_a_doctor(api, as_role):
    """The one role besides staff the route allows; the roles refused are tests/api/test_roles.py's."""
    response = api.get("/queues/stats", token=as_role("doctor").token)
    assert response.status == 200 and response.body["joined"] == 0


def test_the_wait_estimate_follows_the_calling_rate(api, people, staff, monkeypatch):
    start = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    at_minute(monkeypatch, start, 0)
    patients = add_patients(6)
    entries = [join(api, staff, p) for p in patients]
    last = entries[-1]["id"]

    def estimate():
        return api.get(f"/queues/{last}/position", token=staff.token).body["estimated_wait_minutes"]

    assert estimate() is None
    for n, minute in enumerate((10, 14, 18)):  # a call every 4 minutes
        at_minute(monkeypatch, start, minute)
        api.post("/queues/call_next", token=staff.token)
        assert estimate() == (None if n < 2 else 12)  # 2 ahead, called third: 3 calls x 4 minutes
    first = entries[0]["id"]
    api.post(f"/queues/{first}/recall", token=staff.token)  # a recall is not a new call
    assert estimate() == 12
    position = api.get(f"/queues/{first}/position", token=staff.token).body
    assert position["estimated_wait_minutes"] is None  # not waiting


def test_each_identity_at_the_desk_once(api, people):
    """What the domain adds to the routes' roles, once each through HTTP: a doctor does not run the
    general queue, a patient cancels only their own entry, staff and admins run every queue."""
    staff = people.make("staff")
    [patient_id] = add_patients(1)
    entry = join(api, staff, patient_id)
    assert api.post("/queues/call_next", {}, token=staff.token).body["id"] == entry["id"]
    doctor = people.make("doctor")
    for name in ("recall", "no_show", "transfer", "mark_served"):
        response = move(api, doctor, entry["id"], name, {"department": None} if name == "transfer" else None)
        assert response.status == 403, (name, response)
    # The transfer's body is read only once the caller may run the entry's desk.
    assert move(api, doctor, entry["id"], "transfer", {"department": "x", "colour": 1}).status == 403
    assert move(api, people.make("patient"), entry["id"], "cancel").status == 403
    unchanged = api.get(f"/queues/{entry['id']}", token=staff.token).body
    assert [e["status"] for e in unchanged["history"]] == ["waiting", "called"]  # nothing more
    recalled = api.post(f"/queues/{entry['id']}/recall", {}, token=people.admin().token)
    assert recalled.status == 200 and recalled.body["recalls"] == 1
    served = api.post(f"/queues/{entry['id']}/mark_served", token=staff.token)
    assert served.status == 200 and served.body["status"] == "served"
