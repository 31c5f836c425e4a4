"""Races on records, with real threads against the app over HTTP and moto's DynamoDB server."""
from __future__ import annotations

import http.client
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from tests.conftest import ADMIN_CREDENTIALS, Response

SLOT_TAKEN = {"date": "This doctor already has a scheduled appointment at that time."}


def all_at_once(live_server, requests):
    """Send (method, path, body, token) requests on threads released together (token None: anonymous);
    return the Responses.

    Each thread's connection is opened beforehand, one by one, so the race is
    between the requests themselves, not against the local server's accept queue.
    """
    url = urlsplit(live_server.base_url)
    connections = []
    for _ in requests:
        connection = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
        connection.connect()
        connections.append(connection)
    start = threading.Barrier(len(requests))

    def send(i):
        method, path, body, token = requests[i]
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        start.wait()
        connections[i].request(method, url.path + path, body=json.dumps(body), headers=headers)
        response = connections[i].getresponse()
        text = response.read().decode()
        connections[i].close()
        return Response(response.status, json.loads(text) if text else None, response.headers)

    with ThreadPoolExecutor(max_workers=len(requests)) as pool:
        return list(pool.map(send, range(len(requests))))


def walk(live_server, path, token):
    items, cursor = [], None
    while True:
        r = live_server.call("GET", path + (f"&cursor={cursor}" if cursor else ""), token=token)
        assert r.status == 200, r
        items += r.body["results"]
        cursor = r.body["next"]
        if cursor is None:
            return items


def setup_doctor(live_server, admin):
    department = live_server.call("POST", "/departments", {"name": "Cardiology"}, token=admin).body["id"]
    r = live_server.call("POST", "/doctors", {"name": "Dr. Smith", "specialty": "Cardiology",
                                              "department": department}, token=admin)
    assert r.status == 201, r
    return r.body["id"]


def test_twenty_simultaneous_walk_ins_with_one_email_make_one_patient(live_server):
    admin = live_server.login(*ADMIN_CREDENTIALS)

    responses = all_at_once(live_server, [("POST", "/patients/", {
        "name": f"John Doe {i}", "email": "John@Example.com" if i % 2 else "john@example.com",
        "phone": "123-456-7890", "date_of_birth": "1990-01-15"}, admin) for i in range(20)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    assert all(r.body["Fields"] == {"email": "A patient with that email already exists."}
               for r in responses if r.status == 409)
    patients = walk(live_server, "/patients?limit=100", admin)
    assert len(patients) == 1 and patients[0]["email"].lower() == "john@example.com"


def test_twenty_simultaneous_bookings_of_one_doctor_at_one_instant_make_one(live_server):
    admin = live_server.login(*ADMIN_CREDENTIALS)
    doctor = setup_doctor(live_server, admin)
    patients = [live_server.call("POST", "/patients", {"name": f"P{i}"}, token=admin).body["id"] for i in range(20)]

    # The same instant, written in two zones.
    responses = all_at_once(live_server, [("POST", "/appointments/", {
        "patient": patients[i], "doctor": doctor, "status": "scheduled",
        "date": "2030-12-15T10:00:00Z" if i % 2 else "2030-12-15T11:00:00+01:00"}, admin) for i in range(20)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    assert all(r.body["Fields"] == SLOT_TAKEN for r in responses if r.status == 409)
    booked = walk(live_server, f"/appointments?doctor={doctor}&limit=100", admin)
    assert len(booked) == 1 and booked[0]["date"] == "2030-12-15T10:00:00Z"


def test_simultaneous_moves_into_one_slot_leave_one_there(live_server):
    admin = live_server.login(*ADMIN_CREDENTIALS)
    doctor = setup_doctor(live_server, admin)
    patient = live_server.call("POST", "/patients", {"name": "P"}, token=admin).body["id"]
    ids = [live_server.call("POST", "/appointments", {"patient": patient, "doctor": doctor,
                                                      "date": f"2030-01-01T{8 + i:02d}:00:00Z"}, token=admin).body["id"]
           for i in range(10)]

    responses = all_at_once(live_server, [("PATCH", f"/appointments/{ids[i]}", {"date": "2030-01-02T09:00:00Z"},
                                           admin) for i in range(10)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [200] + [409] * 9, statuses
    there = walk(live_server, f"/appointments?doctor={doctor}&date=2030-01-02&limit=100", admin)
    assert len(there) == 1
    # The losers kept their slots: each can still be cancelled and the slot re-booked.
    loser = next(ids[i] for i, r in enumerate(responses) if r.status == 409)
    old = live_server.call("GET", f"/appointments/{loser}", token=admin).body
    assert live_server.call("POST", "/appointments", {"patient": patient, "doctor": doctor, "date": old["date"]},
                            token=admin).status == 409


def test_simultaneous_own_bookings_of_one_patient_stop_at_the_limit(live_server):
    from chalicelib.domain.appointments import MAX_OWN_BOOKINGS

    admin = live_server.login(*ADMIN_CREDENTIALS)
    doctor = setup_doctor(live_server, admin)
    r = live_server.call("POST", "/register", {"username": "eager", "email": "eager@clinic.test",
                                               "password": "eager-password-1", "date_of_birth": "1990-01-15"})
    assert r.status == 201
    patient = live_server.login("eager", "eager-password-1")

    responses = all_at_once(live_server, [("POST", "/appointments", {
        "doctor": doctor, "date": f"2030-03-01T{8 + i:02d}:00:00Z"}, patient) for i in range(12)])
    statuses = sorted(r.status for r in responses)
    booked = statuses.count(201)
    # 429: past the day's bookings (DQS_BOOKINGS_PER_DAY, 10), which counts bookings still in flight.
    assert 1 <= booked <= MAX_OWN_BOOKINGS and set(statuses) <= {201, 400, 409, 429}, statuses
    assert statuses.count(429) <= 12 - 10, statuses
    stored = walk(live_server, f"/appointments?patient={r.body['patient_id']}&limit=100", admin)
    assert len(stored) == booked
