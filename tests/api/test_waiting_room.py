"""The waiting room's board through the API: every state of a queue, no patient data in it,
ETag and 304, and a cost that does not grow with the day's served entries."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain import clock, departments
from chalicelib.domain.entities import CALLED, SERVED
from tests.support.dynamodb import recording as dynamodb_calls
from tests.support.queue import seed_entries, waiting_entries


@pytest.fixture
def staff(as_role):
    return as_role("staff")


@pytest.fixture
def clock_at(monkeypatch):
    """A clock that tests move forward by hand (calls at distinct instants)."""
    now = [datetime(2026, 3, 2, 9, 0, tzinfo=UTC)]
    monkeypatch.setattr(clock, "now", lambda: now[0])

    def advance(minutes: float = 1) -> None:
        now[0] += timedelta(minutes=minutes)
    return advance


def board(api, department=None, **kw):
    query = f"?department={department}" if department is not None else ""
    return api.get(f"/queues/board{query}", **kw)


def join(api, staff, people, department=None, n=1) -> list[dict]:
    joined = []
    for _ in range(n):
        patient = people.make("patient", first_name="Ada", last_name="Lovelace")
        response = api.post("/queues/join_queue", {"patient_id": patient.record["patient_id"],
                                                   "department": department}, token=staff.token)
        assert response.status == 201, response
        joined.append({**response.body, "person": patient})
    return joined


def test_an_empty_queue(api):
    response = board(api)
    assert response.status == 200
    assert response.body == {"queue_date": clock.today().isoformat(), "department": None, "closed": False,
                             "now_calling": [], "next": [], "waiting": 0, "estimated_wait_minutes": None}
    assert response.headers["ETag"].startswith('"')


def test_needs_no_login_and_unknown_departments_are_400(api):
    assert board(api, 999).status == 400
    assert api.get("/queues/board/").status == 200


def test_waiting_calls_recalls_and_service_points(api, people, staff, clock_at):
    admin = people.admin()
    department = departments.ensure_department("Cardiology")
    desk = api.post("/service-points", {"name": "Desk 1", "kind": "desk", "department": department},
                    token=admin.token).body
    room = api.post("/service-points", {"name": "Room 2", "kind": "room", "department": department},
                    token=admin.token).body
    entries = join(api, staff, people, department, n=14)
    assert board(api, department).body["next"] == list(range(1, 11))
    assert board(api, department).body["waiting"] == 14

    calls = [{"service_point": desk["id"]}, {"service_point": room["id"]}, {}, {"service_point": desk["id"]}]
    for body in calls:
        clock_at(2)
        assert api.post("/queues/call_next", {"department": department, **body}, token=staff.token).status == 200
    shown = board(api, department).body
    assert [c["token_number"] for c in shown["now_calling"]] == [4, 3, 2, 1]
    assert shown["now_calling"][0]["service_point"] == {"id": desk["id"], "name": "Desk 1"}
    assert shown["now_calling"][1]["service_point"] is None
    assert shown["now_calling"][2]["service_point"] == {"id": room["id"], "name": "Room 2"}
    assert shown["next"] == list(range(5, 15)) and shown["waiting"] == 10
    assert shown["estimated_wait_minutes"] == 22  # a call every 2 minutes, 10 waiting, joining now: 11th

    # A recall moves the number to the top, at the room it is recalled to.
    clock_at(1)
    assert api.post(f"/queues/{entries[0]['id']}/recall", {"service_point": room["id"]},
                    token=staff.token).status == 200
    shown = board(api, department).body
    assert [c["token_number"] for c in shown["now_calling"]] == [1, 4, 3, 2]
    assert shown["now_calling"][0]["recalls"] == 1
    assert shown["now_calling"][0]["service_point"]["name"] == "Room 2"

    # Served, no-show, canceled, requeued: only called entries are shown as called.
    assert api.post(f"/queues/{entries[0]['id']}/mark_served", token=staff.token).status == 200
    assert api.post(f"/queues/{entries[1]['id']}/no_show", token=staff.token).status == 200
    assert api.post(f"/queues/{entries[2]['id']}/cancel", token=staff.token).status == 200
    assert api.post(f"/queues/{entries[3]['id']}/requeue", token=staff.token).status == 200
    shown = board(api, department).body
    assert shown["now_calling"] == []
    assert shown["next"] == [4, *range(5, 14)] and shown["waiting"] == 11


def test_a_transfer_leaves_the_board(api, people, staff):
    department = departments.ensure_department("Triage")
    [entry] = join(api, staff, people, department)
    api.post("/queues/call_next", {"department": department}, token=staff.token)
    assert [c["token_number"] for c in board(api, department).body["now_calling"]] == [1]
    assert api.post(f"/queues/{entry['id']}/transfer", {"department": None}, token=staff.token).status == 201
    assert board(api, department).body["now_calling"] == []
    assert board(api).body["next"] == [1]


def test_a_closed_queue(api, people, staff):
    join(api, staff, people, n=2)
    api.post("/queues/call_next", {}, token=staff.token)
    assert api.post("/queues/close", {}, token=staff.token).status == 200
    shown = board(api).body
    assert shown["closed"] is True and shown["next"] == [] and shown["waiting"] == 0
    assert [c["token_number"] for c in shown["now_calling"]] == [1]  # called ones may still be served
    api.post("/queues/open", {}, token=staff.token)
    assert board(api).body["closed"] is False


def test_holds_no_patient_data(api, people, staff):
    entries = join(api, staff, people, n=3)
    api.post("/queues/call_next", {}, token=staff.token)
    text = json.dumps(board(api).body)
    for entry in entries:
        person = entry["person"]
        record = api.get(f"/patients/{person.record['patient_id']}", token=staff.token).body
        for secret in (record["name"], record["email"], person.username, "Lovelace"):
            assert secret not in text
    assert set(json.loads(text)["now_calling"][0]) == {"token_number", "service_point", "called_at", "recalls"}
    for key in ("patient", "id", "name", "email"):
        assert f'"{key}"' not in text


def test_etag_and_304(api, people, staff):
    first = board(api)
    etag = first.headers["ETag"]
    again = board(api, headers={"If-None-Match": etag})
    assert again.status == 304 and again.body is None and again.headers["ETag"] == etag
    join(api, staff, people)
    changed = board(api, headers={"If-None-Match": etag})
    assert changed.status == 200 and changed.headers["ETag"] != etag and changed.body["next"] == [1]


def measure(api, department: int, served: int) -> list[str]:
    seed_entries(served, SERVED, department=department)
    seed_entries(12, CALLED, department=department, first_token=served + 1)
    waiting_entries(12, department=department, first_token=served + 13)
    with dynamodb_calls() as calls:
        response = board(api, department)
    assert response.status == 200
    assert len(response.body["now_calling"]) == 10 and response.body["waiting"] == 12
    assert response.body["next"] == list(range(served + 13, served + 23))
    return list(calls)


def test_the_board_costs_the_same_with_5_or_2000_served_entries(api):
    few = measure(api, departments.ensure_department("Few"), served=5)
    many = measure(api, departments.ensure_department("Many"), served=2000)
    assert few == many
    # The called index, the waiting head and its count, the day's counter with the department and
    # the desks' names in one read, the day's latest calls (the estimate).
    assert many == ["Query", "Query", "Query", "TransactGetItems", "Query"]


def test_the_display_page_needs_no_login_and_loads_nothing_from_outside(api, people):
    department = departments.ensure_department("Cardiology <A&E>")
    response = api.client.http.get(f"/display?department={department}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert "Cardiology &lt;A&amp;E&gt;" in page and "<A&E>" not in page
    assert "http://" not in page and "https://" not in page and 'href="data:,"' in page
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy and "connect-src 'self'" in policy
    assert "General queue" in api.client.http.get("/display/").body.decode()
    assert api.client.http.get("/display?department=x").status_code == 400


def test_a_screen_of_an_unknown_or_closed_queue_gets_a_page_saying_so(api, people):
    unknown = api.client.http.get("/display?department=999")
    assert unknown.status_code == 404 and unknown.headers["Content-Type"].startswith("text/html")
    assert "This screen\u2019s queue was not found" in unknown.body.decode()
    assert "default-src 'none'" in unknown.headers["Content-Security-Policy"]
    department = departments.ensure_department("Dermatology")
    assert api.patch(f"/departments/{department}", {"is_active": False}, token=people.admin().token).status == 200
    closed = api.client.http.get(f"/display?department={department}")
    assert closed.status_code == 200 and closed.headers["Content-Type"].startswith("text/html")
    page = closed.body.decode()
    assert "Dermatology" in page and "is closed to patients" in page and 'http-equiv="refresh"' in page


def test_the_display_page_allows_its_websocket(api, monkeypatch):
    monkeypatch.setenv("DQS_WEBSOCKET_URL", "ws://127.0.0.1:8001/")
    response = api.client.http.get("/display")
    assert "connect-src 'self' ws://127.0.0.1:8001/;" in response.headers["Content-Security-Policy"]
    assert 'data-websocket="ws://127.0.0.1:8001/"' in response.body.decode()


def test_a_screen_on_the_clinics_network_opens_the_websocket_where_it_loaded_the_page(api, monkeypatch):
    """make run's WebSocket URL names a loopback host; a TV loading the page by the server's LAN address
    gets that address (with the WebSocket's port) in the page and in its CSP. Deployed URLs are kept."""
    from chalicelib.api.waiting_room import websocket_for

    monkeypatch.setenv("DQS_WEBSOCKET_URL", "ws://127.0.0.1:8001/")
    response = api.client.http.get("/display", headers={"Host": "192.168.1.20:8000"})
    assert "connect-src 'self' ws://192.168.1.20:8001/;" in response.headers["Content-Security-Policy"]
    assert 'data-websocket="ws://192.168.1.20:8001/"' in response.body.decode()
    assert websocket_for("ws://127.0.0.1:8001/", "clinic-tv.local") == "ws://clinic-tv.local:8001/"
    assert websocket_for("ws://localhost:8001/", "[fd00::5]:8000") == "ws://[fd00::5]:8001/"
    assert websocket_for("ws://127.0.0.1:8001/", "127.0.0.1:8000") == "ws://127.0.0.1:8001/"
    assert websocket_for("ws://127.0.0.1:8001/", "evil host'; script-src *") == "ws://127.0.0.1:8001/"
    deployed = "wss://abc123.execute-api.eu-west-1.amazonaws.com/api"
    assert websocket_for(deployed, "dqs.example.org") == deployed
