"""The token queue through the API (chalice.test.Client on moto): the seed's flow and who may do what."""
from __future__ import annotations

from datetime import timedelta

import pytest

from chalicelib.domain import clock, departments


def join(api, person, body=None):
    return api.post("/queues/join_queue", body or {}, token=person.token)


def position(api, person, entry_id):
    return api.get(f"/queues/{entry_id}/position", token=person.token).body


@pytest.fixture
def staff(as_role):
    return as_role("staff")


def test_the_seed_flow_join_three_call_serve_positions_move(api, people, staff):
    patients = [people.make("patient") for _ in range(3)]
    joined = [join(api, p) for p in patients]
    assert [r.status for r in joined] == [201, 201, 201]
    entries = [r.body for r in joined]
    assert [e["token_number"] for e in entries] == [1, 2, 3]
    assert [e["patient"] for e in entries] == [p.record["patient_id"] for p in patients]
    first = entries[0]
    assert first["status"] == "waiting" and first["priority"] == "normal" and first["department"] is None
    assert first["queue_date"] == clock.now().date().isoformat()
    assert first["called_at"] is None and first["served_at"] is None and first["created_at"].endswith("Z")

    before = [position(api, p, e["id"]) for p, e in zip(patients, entries, strict=True)]
    assert [(b["people_ahead"], b["position"]) for b in before] == [(0, 1), (1, 2), (2, 3)]
    assert before[2] == {"id": entries[2]["id"], "token_number": 3, "status": "waiting",
                         "people_ahead": 2, "position": 3, "estimated_wait_minutes": None}

    called = api.post("/queues/call_next", token=staff.token)
    assert called.status == 200
    assert called.body["id"] == first["id"] and called.body["status"] == "called" and called.body["called_at"]
    after_call = [position(api, p, e["id"]) for p, e in zip(patients, entries, strict=True)]
    assert [(a["status"], a["people_ahead"], a["position"]) for a in after_call] == [
        ("called", 0, 0), ("waiting", 0, 1), ("waiting", 1, 2)]

    served = api.post(f"/queues/{first['id']}/mark_served/", token=staff.token)
    assert served.status == 200 and served.body["status"] == "served" and served.body["served_at"]
    again = api.post(f"/queues/{first['id']}/mark_served", token=staff.token)
    assert again.status == 200 and again.body == served.body

    assert api.post("/queues/call_next/", {}, token=staff.token).body["token_number"] == 2
    assert position(api, patients[2], entries[2]["id"])["position"] == 1
    assert api.post("/queues/call_next", token=staff.token).body["token_number"] == 3
    assert api.post("/queues/call_next", token=staff.token).body == {"message": "The queue is empty."}

    listed = api.get("/queues/", token=staff.token)
    assert listed.status == 200 and listed.body["next"] is None
    assert [(e["token_number"], e["status"]) for e in listed.body["results"]] == [
        (1, "served"), (2, "called"), (3, "called")]


def test_join_rules_for_each_identity(api, people, as_role, staff):
    patient, other = people.make("patient"), people.make("patient")
    other_id = other.record["patient_id"]
    assert api.post("/queues/join_queue", {}).status == 401
    assert join(api, as_role("doctor"), {"patient_id": other_id}).status == 403
    assert join(api, patient, {"patient_id": other_id}).status == 403
    assert join(api, patient, {"priority": "urgent"}).status == 403

    missing = join(api, staff)
    assert missing.status == 400 and "patient_id" in missing.body["Fields"]
    assert join(api, staff, {"patient_id": 999999}).status == 404
    for bad in ({"patient_id": "1"}, {"patient_id": other_id, "priority": "soon"},
                {"patient_id": other_id, "department": 0}, {"patient_id": other_id, "colour": "red"}):
        response = join(api, staff, bad)
        assert response.status == 400 and response.body["Fields"], (bad, response)
    unknown_department = join(api, staff, {"patient_id": other_id, "department": 4242})
    assert unknown_department.status == 400
    assert unknown_department.body["Fields"] == {"department": "No department with id 4242."}
    raw = api.call("POST", "/queues/join_queue", raw="[1, 2]", token=staff.token)
    assert raw.status == 400

    mine = join(api, patient, {"patient_id": patient.record["patient_id"]})
    assert mine.status == 201 and mine.body["patient"] == patient.record["patient_id"]
    by_admin = join(api, as_role("admin"), {"patient_id": other_id, "priority": "urgent"})
    assert by_admin.status == 201 and by_admin.body["priority"] == "urgent"


def test_a_patient_holds_one_open_place_per_queue_and_day(api, people, staff):
    patient = people.make("patient")
    first = join(api, patient).body
    for who, body in ((patient, {}), (staff, {"patient_id": patient.record["patient_id"]})):
        again = join(api, who, body)
        assert again.status == 409
        assert again.body["entry"] == first and "patient_id" in again.body["Fields"]
    api.post("/queues/call_next", token=staff.token)
    held = join(api, patient)
    assert held.status == 409 and held.body["entry"]["status"] == "called"
    api.post(f"/queues/{first['id']}/mark_served", token=staff.token)
    rejoined = join(api, patient)
    assert rejoined.status == 201 and rejoined.body["token_number"] == 2 and rejoined.body["id"] != first["id"]


def test_urgent_entries_are_called_first_and_counted_ahead(api, people, staff):
    a, b, c = (people.make("patient") for _ in range(3))
    ea = join(api, a).body
    eb = join(api, b).body
    ec = join(api, staff, {"patient_id": c.record["patient_id"], "priority": "urgent"}).body
    assert ec["token_number"] == 3 and ec["priority"] == "urgent"
    assert position(api, c, ec["id"])["people_ahead"] == 0
    assert position(api, a, ea["id"])["people_ahead"] == 1
    assert position(api, b, eb["id"])["people_ahead"] == 2
    assert api.post("/queues/call_next", token=staff.token).body["id"] == ec["id"]
    assert position(api, b, eb["id"])["people_ahead"] == 1
    assert api.post("/queues/call_next", token=staff.token).body["id"] == ea["id"]
    assert api.post("/queues/call_next", token=staff.token).body["id"] == eb["id"]


def test_department_queues_are_numbered_called_and_listed_independently(api, people, staff):
    cardiology = departments.ensure_department("Cardiology")
    radiology = departments.ensure_department("Radiology")
    a, b = people.make("patient"), people.make("patient")
    general_a = join(api, a).body
    cardio_a = join(api, a, {"department": cardiology}).body
    cardio_b = join(api, b, {"department": cardiology}).body
    radio_b = join(api, staff, {"patient_id": b.record["patient_id"], "department": radiology}).body
    assert (general_a["token_number"], cardio_a["token_number"], cardio_b["token_number"],
            radio_b["token_number"]) == (1, 1, 2, 1)
    assert cardio_a["department"] == cardiology and general_a["department"] is None
    assert position(api, b, cardio_b["id"])["people_ahead"] == 1
    assert join(api, a, {"department": cardiology}).status == 409
    assert join(api, a, {"department": None}).status == 409  # null = the general queue

    called = api.post("/queues/call_next", {"department": radiology}, token=staff.token).body
    assert called["id"] == radio_b["id"]
    assert api.post("/queues/call_next", {"department": radiology}, token=staff.token).body == {
        "message": "The queue is empty."}
    assert position(api, a, general_a["id"])["position"] == 1
    bad = api.post("/queues/call_next", {"department": 777}, token=staff.token)
    assert bad.status == 400 and "department" in bad.body["Fields"]

    cardio_list = api.get(f"/queues?department={cardiology}", token=staff.token).body["results"]
    assert [e["id"] for e in cardio_list] == [cardio_a["id"], cardio_b["id"]]
    assert [e["id"] for e in api.get("/queues", token=staff.token).body["results"]] == [general_a["id"]]
    assert api.get("/queues?department=777", token=staff.token).status == 400
    assert api.get("/queues?department=x", token=staff.token).status == 400
    mine = api.get(f"/queues?department={cardiology}", token=b.token).body["results"]
    assert [e["id"] for e in mine] == [cardio_b["id"]]


def test_desk_actions_at_the_edge(api, people, as_role, staff):
    """A doctor runs no desk of the general queue (the domain's rule); bad ids and bodies. The
    roles each route refuses are tests/api/test_roles.py's."""
    patient = people.make("patient")
    entry = join(api, patient).body
    doctor = as_role("doctor")
    assert api.post("/queues/call_next", token=doctor.token).status == 403
    assert api.post(f"/queues/{entry['id']}/mark_served", token=doctor.token).status == 403
    assert api.post("/queues/call_next", {"department": "x"}, token=staff.token).status == 400
    assert api.post("/queues/999999/mark_served", token=staff.token).status == 404
    assert api.post("/queues/abc/mark_served", token=staff.token).status == 404
    admin = people.admin()
    assert api.post("/queues/call_next", token=admin.token).body["id"] == entry["id"]
    assert api.post(f"/queues/{entry['id']}/mark_served", token=admin.token).body["status"] == "served"
    reset = api.post("/queues/reset_queue/", token=admin.token)
    assert reset.status == 200 and reset.body["expired"] == 0 and reset.body["message"]


def test_a_waiting_entry_can_be_served_without_being_called(api, people, staff):
    patient = people.make("patient")
    entry = join(api, patient).body
    served = api.post(f"/queues/{entry['id']}/mark_served", token=staff.token).body
    assert served["status"] == "served" and served["called_at"] is None
    assert position(api, patient, entry["id"]) == {"id": entry["id"], "token_number": 1, "status": "served",
                                                    "people_ahead": 0, "position": 0,
                                                    "estimated_wait_minutes": None}
    assert api.post("/queues/call_next", token=staff.token).body == {"message": "The queue is empty."}


def test_who_may_see_an_entry_and_its_position(api, people, as_role, staff):
    owner, stranger = people.make("patient"), people.make("patient")
    entry = join(api, owner).body
    doctor = as_role("doctor")
    for path in (f"/queues/{entry['id']}", f"/queues/{entry['id']}/position", f"/queues/{entry['id']}/"):
        assert api.get(path).status == 401
        assert api.get(path, token=stranger.token).status == 403
        for who in (owner, doctor, staff, people.admin()):
            assert api.get(path, token=who.token).status == 200, (path, who.username)
    assert api.get(f"/queues/{entry['id']}", token=owner.token).body == entry
    assert api.get("/queues/999999", token=staff.token).status == 404
    assert api.get("/queues/999999/position", token=owner.token).status == 404
    assert api.get("/queues/0/position", token=owner.token).status == 404


def test_todays_list_is_in_token_order_paged_and_a_patient_sees_only_their_own(api, people, as_role, staff):
    patients = [people.make("patient") for _ in range(5)]
    entries = [join(api, p).body for p in patients]
    assert api.get("/queues").status == 401

    seen, cursor = [], None
    while True:
        page = api.get("/queues?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=as_role("doctor").token)
        assert page.status == 200 and len(page.body["results"]) <= 2
        seen += page.body["results"]
        cursor = page.body["next"]
        if not cursor:
            break
    assert seen == entries
    assert api.get("/queues?cursor=forged.abc", token=staff.token).status == 400
    assert api.get("/queues?limit=0", token=staff.token).status == 400

    own = api.get("/queues", token=patients[3].token).body
    assert own == {"results": [entries[3]], "next": None}


def test_yesterdays_entries_are_not_today_and_expire_on_reset(api, people, monkeypatch, staff):
    patient = people.make("patient")
    admin = people.admin()
    real_now = clock.now()
    monkeypatch.setattr(clock, "now", lambda: real_now - timedelta(days=1))
    old = join(api, patient).body
    old_called = join(api, staff, {"patient_id": people.make("patient").record["patient_id"]}).body
    api.post("/queues/call_next", token=staff.token)
    monkeypatch.setattr(clock, "now", lambda: real_now)

    assert api.get("/queues", token=staff.token).body["results"] == []
    assert api.post("/queues/call_next", token=staff.token).body == {"message": "The queue is empty."}
    today = join(api, patient).body  # yesterday's place does not hold today's queue
    assert today["token_number"] == 1 and today["queue_date"] == real_now.date().isoformat()

    reset = api.post("/queues/reset_queue", token=admin.token)
    assert reset.status == 200 and reset.body["expired"] == 2
    assert api.post("/queues/reset_queue", token=admin.token).body["expired"] == 0
    for entry in (old, old_called):
        assert api.get(f"/queues/{entry['id']}", token=staff.token).body["status"] == "expired"
    assert position(api, patient, old["id"])["position"] == 0
    refused = api.post(f"/queues/{old['id']}/mark_served", token=staff.token)
    assert refused.status == 409 and "status" in refused.body["Fields"]
    assert api.get(f"/queues/{today['id']}", token=staff.token).body["status"] == "waiting"


@pytest.mark.parametrize("body, field", [
    ({"patient_id": "1"}, "patient_id"),
    ({"patient_id": 0}, "patient_id"),
    ({"patient_id": True}, "patient_id"),
    ({"patient_id": 1, "department": "cardiology"}, "department"),
    ({"patient_id": 1, "department": 999}, "department"),
    ({"patient_id": 1, "priority": "vip"}, "priority"),
    ({"patient_id": 1, "token_number": 1}, "token_number"),
])
def test_bad_joins_are_400_naming_the_field_and_store_nothing(api, people, staff, body, field):
    people.make("patient")
    r = api.post("/queues/join_queue", body, token=staff.token)
    assert r.status == 400 and field in r.body["Fields"], r
    assert api.get("/queues", token=staff.token).body["results"] == []


def test_bad_desk_requests(api, staff):
    r = api.post("/queues/call_next", {"department": "x"}, token=staff.token)
    assert r.status == 400 and "department" in r.body["Fields"]
    for path in ("/queues/abc/mark_served", "/queues/0/mark_served", "/queues/999/mark_served"):
        assert api.post(path, token=staff.token).status == 404
    for path in ("/queues/abc/position", "/queues/999", "/queues?department=abc"):
        r = api.get(path, token=staff.token)
        assert r.status in (400, 404) and r.body["Code"] in ("BadRequestError", "NotFoundError")
    r = api.post("/queues/join_queue", raw=b"[1]", token=staff.token)
    assert r.status == 400


def test_join_costs_four_dynamodb_calls_in_any_queue(api, people, staff):
    """The caller, then one read of the patient, their place and the department, the token, the write."""
    from chalicelib.domain import departments
    from tests.support.dynamodb import recording

    cardiology = departments.ensure_department("Cardiology")
    patients = [people.make("patient") for _ in range(4)]
    assert join(api, patients[0]).status == 201  # the first join of a process reserves a block of ids
    for patient, body in ((patients[1], {}), (patients[2], {"department": cardiology}),
                          (staff, {"patient_id": patients[3].record["patient_id"], "department": cardiology})):
        with recording() as calls:
            response = join(api, patient, body)
        assert response.status == 201, response
        assert calls == ["GetItem", "TransactGetItems", "UpdateItem", "TransactWriteItems"], calls


def test_refused_joins_use_up_no_token_number(api, people, staff):
    from chalicelib.domain import departments

    cardiology = departments.ensure_department("Cardiology")
    first, second = people.make("patient"), people.make("patient")
    assert join(api, first, {"department": cardiology}).body["token_number"] == 1
    assert join(api, first, {"department": cardiology}).status == 409  # already holds a place
    assert join(api, staff, {"patient_id": 999999, "department": cardiology}).status == 404
    assert join(api, second, {"department": 4242}).status == 400  # no such department
    assert join(api, second, {"department": cardiology}).body["token_number"] == 2
