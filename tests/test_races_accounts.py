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
    assert statuses == [201] + [400] * 19, statuses
    losers = [r for r in responses if r.status == 400]
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
    assert statuses == [201] + [400] * 9
