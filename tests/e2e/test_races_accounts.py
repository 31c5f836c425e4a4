"""Races with real threads against the app over HTTP and moto's DynamoDB server."""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor


def test_twenty_simultaneous_registrations_of_one_username_make_one_account(live_server):
    def register(i: int):
        return live_server.call("POST", "/register", {
            "username": "SameName" if i % 2 else "samename", "email": f"same{i}@clinic.test",
            "password": "a-good-password", "date_of_birth": "1990-01-15"})

    with ThreadPoolExecutor(max_workers=20) as pool:
        responses = list(pool.map(register, range(20)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 19, statuses
    losers = [r for r in responses if r.status == 409]
    assert all(r.body["Fields"] == {"username": "A user with that username already exists."} for r in losers)
    admin = live_server.login("admin", "admin-password-1")
    users = live_server.call("GET", "/users?limit=100", token=admin).body["results"]
    assert [u["username"].lower() for u in users].count("samename") == 1


def test_simultaneous_registrations_with_one_email_make_one_account(live_server):
    def register(i: int):
        return live_server.call("POST", "/register", {
            "username": f"user{i}", "email": "Shared@Clinic.test" if i % 2 else "shared@clinic.test",
            "password": "a-good-password", "date_of_birth": "1990-01-15"})

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(r.status for r in pool.map(register, range(10)))
    assert statuses == [201] + [409] * 9


def test_two_admins_demoting_each_other_at_once_leave_one_admin(live_server):
    admin = live_server.login("admin", "admin-password-1")
    r = live_server.call("POST", "/register", {"username": "second", "email": "second@clinic.test",
                                               "password": "second-password", "role": "admin"}, token=admin)
    assert r.status == 201
    second_id = r.body["id"]
    second = live_server.login("second", "second-password")
    first_id = live_server.call("GET", "/users?limit=1", token=admin).body["results"][0]["id"]
    for _ in range(3):
        with ThreadPoolExecutor(max_workers=2) as pool:
            a = pool.submit(live_server.call, "PATCH", f"/users/{second_id}", {"role": "staff"}, admin)
            b = pool.submit(live_server.call, "PATCH", f"/users/{first_id}", {"role": "staff"}, second)
            statuses = sorted([a.result().status, b.result().status])
        assert statuses in ([200, 409], [200, 401], [409, 409]), statuses
        admins = [u for u in live_server.call("GET", "/users?limit=100",
                                              token=live_server.login(*_active_admin(live_server))).body["results"]
                  if u["role"] == "admin" and u["is_active"]]
        assert len(admins) >= 1
        if len(admins) == 1:
            return
    raise AssertionError("neither demotion went through")


def _active_admin(live_server):
    for credentials in (("admin", "admin-password-1"), ("second", "second-password")):
        r = live_server.call("POST", "/auth/login", {"username": credentials[0], "password": credentials[1]})
        if r.status == 200 and r.body["user"]["role"] == "admin":
            return credentials
    raise AssertionError("no admin can log in")


def test_registrations_racing_for_one_link_code_link_one_account(live_server):
    from tests.e2e.test_races_records import all_at_once

    admin = live_server.login("admin", "admin-password-1")
    record = live_server.call("POST", "/patients", {"name": "Walk In", "email": "walkin@clinic.test"}, token=admin)
    assert record.status == 201
    responses = all_at_once(live_server, [("POST", "/register", {
        "username": f"claimant{i}", "email": f"claimant{i}@clinic.test", "password": "a-good-password",
        "date_of_birth": "1990-01-15", "link_code": record.body["link_code"]}, None) for i in range(10)])
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [400] * 9, statuses
    assert all(set(r.body["Fields"]) == {"link_code"} for r in responses if r.status == 400)
    winner = next(r.body for r in responses if r.status == 201)
    assert winner["patient_id"] == record.body["id"]
    stored = live_server.call("GET", f"/patients/{record.body['id']}", token=admin).body
    assert stored["user_id"] == winner["id"]
    # The losers have no account.
    users = live_server.call("GET", "/users?limit=100", token=admin).body["results"]
    assert [u["username"] for u in users if u["username"].startswith("claimant")] == [winner["username"]]


def test_wrong_logins_sent_at_once_get_no_more_answers_than_the_limit(live_server):
    from chalicelib.domain.accounts import throttling
    from tests.e2e.test_races_records import all_at_once

    r = live_server.call("POST", "/register", {"username": "target", "email": "target@clinic.test",
                                               "password": "the-real-password", "date_of_birth": "1990-01-15"})
    assert r.status == 201
    responses = all_at_once(live_server, [("POST", "/auth/login", {"username": "target", "password": f"guess-{i}"},
                                           None) for i in range(20)])
    statuses = sorted(r.status for r in responses)
    limit = throttling.LOGIN_FAILURES_PER_ADDRESS
    assert statuses == [401] * limit + [429] * (20 - limit), statuses
    assert all(int(r.headers["Retry-After"]) > 0 for r in responses if r.status == 429)
