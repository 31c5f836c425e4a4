"""/profile/: every identity reads and edits its own account, under the rules /users/{id}/ has for oneself."""
from __future__ import annotations

import pytest

from chalicelib.domain.patients import EMAIL_IN_USE

ROLES = ["patient", "doctor", "staff", "admin"]


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH"])
def test_anonymous_gets_401(api, method):
    assert api.call(method, "/profile/", {}).status == 401


@pytest.mark.parametrize("role", ROLES)
def test_each_role_reads_its_own_account(api, as_role, role):
    me = as_role(role)
    r = api.get("/profile/", token=me.token)
    assert r.status == 200 and r.body["id"] == me.id and r.body["username"] == me.username
    assert r.body["role"] == role and "password_hash" not in r.body and "password" not in r.body
    assert r.body == api.get(f"/users/{me.id}", token=me.token).body
    assert api.get("/profile", token=me.token).body == r.body  # with and without the slash


@pytest.mark.parametrize("role", ["patient", "doctor", "staff"])
def test_each_role_edits_its_own_account_and_nobody_elses(api, people, role):
    me, other = people.make(role), people.make("patient")
    r = api.patch("/profile/", {"first_name": "Renamed", "id": other.id}, token=me.token)
    assert r.status == 400 and "id" in r.body["Fields"]
    r = api.patch("/profile/", {"first_name": "Renamed"}, token=me.token)
    assert r.status == 200 and r.body["id"] == me.id and r.body["first_name"] == "Renamed"
    assert api.get(f"/users/{other.id}", token=people.admin().token).body["first_name"] != "Renamed"
    r = api.put("/profile/", {"username": f"{me.username}x", "email": f"{me.username}x@a.io"}, token=me.token)
    assert r.status == 200 and r.body["username"] == f"{me.username}x"
    assert api.put("/profile/", {"first_name": "A"}, token=me.token).body["Fields"].keys() == {"username", "email"}


@pytest.mark.parametrize("role", ["patient", "doctor", "staff"])
def test_role_active_and_password_stay_an_admins(api, people, role):
    me = people.make(role)
    assert api.patch("/profile/", {"role": "admin"}, token=me.token).status == 403
    assert api.patch("/profile/", {"is_active": False}, token=me.token).status == 403
    r = api.patch("/profile/", {"password": "another-password-9"}, token=me.token)
    assert r.status == 400 and r.body["Fields"]["password"] == "Unknown field."
    assert api.patch("/profile/", {"role": role, "is_active": True}, token=me.token).status == 200  # unchanged: fine
    assert api.get("/profile/", token=me.token).body["role"] == role


def test_taken_username_and_email_are_409(api, people):
    me, other = people.make("patient"), people.make("patient")
    r = api.patch("/profile/", {"username": other.username.upper()}, token=me.token)
    assert r.status == 409 and "username" in r.body["Fields"]
    r = api.patch("/profile/", {"email": f"{other.username}@clinic.test"}, token=me.token)
    assert r.status == 409 and r.body["Fields"] == {"email": EMAIL_IN_USE}  # the one self-service answer


def test_patient_keeps_a_date_of_birth(api, people):
    me = people.make("patient")
    r = api.patch("/profile/", {"date_of_birth": None}, token=me.token)
    assert r.status == 400 and "date_of_birth" in r.body["Fields"]
    r = api.patch("/profile/", {"date_of_birth": "2999-01-01"}, token=me.token)
    assert r.status == 400 and "date_of_birth" in r.body["Fields"]


def test_admin_edits_own_profile_but_cannot_demote_the_last_admin(api, people):
    admin = people.admin()
    r = api.patch("/profile/", {"first_name": "Ada"}, token=admin.token)
    assert r.status == 200 and r.body["first_name"] == "Ada" and r.body["role"] == "admin"
    r = api.patch("/profile/", {"role": "staff"}, token=admin.token)
    assert r.status == 409 and "role" in r.body["Fields"]


def test_a_revoked_token_reads_no_profile(api, people):
    me = people.make("patient")
    assert api.post("/auth/logout/", token=me.token).status == 200
    assert api.get("/profile/", token=me.token).status == 401


def test_a_null_date_of_birth_with_the_patient_role_is_refused_whoever_sends_it(api, people):
    admin, staff = people.admin(), people.make("staff")
    for token in (admin.token, staff.token):
        r = api.patch("/profile/", {"role": "patient", "date_of_birth": None}, token=token)
        assert r.status == 400 and set(r.body["Fields"]) == {"date_of_birth"}
    r = api.patch(f"/users/{staff.id}/", {"role": "patient", "date_of_birth": None}, token=admin.token)
    assert r.status == 400 and set(r.body["Fields"]) == {"date_of_birth"}
    assert api.get(f"/users/{staff.id}/", token=admin.token).body["role"] == "staff"
    r = api.patch("/profile/", {"date_of_birth": None}, token=staff.token)  # not a patient's: may go
    assert r.status == 200 and r.body["date_of_birth"] is None
