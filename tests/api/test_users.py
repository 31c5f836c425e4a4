"""The users resource: who may list, read, edit and delete accounts."""
from __future__ import annotations

import pytest

ROLES = ["patient", "doctor", "staff"]


@pytest.mark.parametrize("role, status", [("anonymous", 401), ("patient", 403), ("doctor", 403),
                                          ("staff", 403), ("admin", 200)])
def test_listing_users_is_for_admins(api, as_role, role, status):
    person = as_role(role)
    r = api.get("/users/", token=person.token if person else None)
    assert r.status == status, r
    if status == 200:
        assert r.body["next"] is None and [u["username"] for u in r.body["results"]][0] == "admin"


def test_the_user_list_pages_to_the_end(api, people):
    admin = people.admin().token
    made = {people.make("patient").username for _ in range(5)}
    seen, cursor, pages = [], None, 0
    while True:
        r = api.get("/users?limit=2" + (f"&cursor={cursor}" if cursor else ""), token=admin)
        assert r.status == 200 and len(r.body["results"]) <= 2
        seen += [u["username"] for u in r.body["results"]]
        pages += 1
        cursor = r.body["next"]
        if cursor is None:
            break
    assert pages >= 3 and len(seen) == len(set(seen)) == 6 and made <= set(seen)


def test_bad_list_parameters_are_400(api, people):
    admin = people.admin().token
    for query, field in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=abc", "limit"),
                                              ("cursor=garbage", "cursor"), ("cursor=e30.deadbeef", "cursor"),
                                              ("color=red", "color")]:
        r = api.get(f"/users?{query}", token=admin)
        assert r.status == 400 and field in r.body["Fields"], (query, r)


@pytest.mark.parametrize("role", ROLES)
def test_users_see_and_edit_only_their_own_profile(api, people, role):
    me, other = people.make(role), people.make("patient")
    assert api.get(f"/users/{me.id}", token=me.token).status == 200
    assert api.get(f"/users/{other.id}", token=me.token).status == 403
    assert api.patch(f"/users/{other.id}", {"first_name": "X"}, token=me.token).status == 403
    assert api.put(f"/users/{other.id}", {"username": "x1", "email": "x1@a.io"}, token=me.token).status == 403
    assert api.delete(f"/users/{other.id}", token=me.token).status == 403
    r = api.patch(f"/users/{me.id}", {"first_name": "Renamed"}, token=me.token)
    assert r.status == 200 and r.body["first_name"] == "Renamed" and r.body["role"] == role


def test_anonymous_gets_401_everywhere(api, people):
    uid = people.make("patient").id
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        assert api.call(method, f"/users/{uid}", {}).status == 401


def test_admin_reads_and_edits_anyone(api, people):
    admin, p = people.admin(), people.make("patient")
    assert api.get(f"/users/{p.id}", token=admin.token).body["username"] == p.username
    r = api.put(f"/users/{p.id}", {"username": "renamed", "email": "renamed@clinic.test"}, token=admin.token)
    assert r.status == 200 and r.body["username"] == "renamed"


def test_put_needs_username_and_email_patch_does_not(api, people):
    p = people.make("patient")
    r = api.put(f"/users/{p.id}", {"first_name": "A"}, token=p.token)
    assert r.status == 400 and set(r.body["Fields"]) == {"username", "email"}
    assert api.patch(f"/users/{p.id}", {"first_name": "A"}, token=p.token).status == 200


def test_changing_username_frees_the_old_one_and_takes_the_new(api, people):
    p, q = people.make("patient"), people.make("patient")
    r = api.patch(f"/users/{p.id}", {"username": q.username.upper()}, token=p.token)
    assert r.status == 409 and "username" in r.body["Fields"]
    old = p.username
    assert api.patch(f"/users/{p.id}", {"username": "brandnew", "email": "brandnew@a.io"},
                     token=p.token).status == 200
    assert api.post("/auth/login", {"username": "brandnew", "password": p.password}).status == 200
    assert api.post("/auth/login", {"username": old, "password": p.password}).status == 401
    r = api.post("/register", {"username": old, "email": "someone.else@clinic.test", "password": "another-pass-1",
                               "date_of_birth": "2000-01-01"})
    assert r.status == 201


@pytest.mark.parametrize("role", ROLES)
def test_only_an_admin_changes_role_or_active_state(api, people, role):
    me = people.make(role)
    r = api.patch(f"/users/{me.id}", {"role": "admin"}, token=me.token)
    assert r.status == 403
    assert api.patch(f"/users/{me.id}", {"is_active": False}, token=me.token).status == 403
    assert api.get(f"/users/{me.id}", token=me.token).body["role"] == role
    # Sending the current values unchanged is fine.
    assert api.patch(f"/users/{me.id}", {"role": role, "is_active": True}, token=me.token).status == 200


def test_role_change_and_deactivation_take_effect_on_the_next_request(api, people):
    admin, staff = people.admin(), people.make("staff")
    assert api.get("/users", token=staff.token).status == 403
    r = api.patch(f"/users/{staff.id}", {"role": "admin"}, token=admin.token)
    assert r.status == 200 and r.body["role"] == "admin"
    # The old token carried the old role: it stops working; a new login has the new role.
    assert api.get("/users", token=staff.token).status == 401
    promoted = people.login(staff.username, staff.password)
    assert api.get("/users", token=promoted.token).status == 200
    assert api.patch(f"/users/{staff.id}", {"is_active": False}, token=admin.token).status == 200
    assert api.get(f"/users/{staff.id}", token=promoted.token).status == 401
    r = api.post("/auth/login", {"username": staff.username, "password": staff.password})
    assert r.status == 401 and r.body["Message"] == "This account is inactive."


def test_the_last_active_admin_cannot_be_removed(api, people):
    admin = people.admin()
    for change in ({"role": "staff"}, {"is_active": False}):
        r = api.patch(f"/users/{admin.id}", change, token=admin.token)
        assert r.status == 409 and r.body["Code"] == "ConflictError" and "role" in r.body["Fields"], r
    r = api.delete(f"/users/{admin.id}", token=admin.token)
    assert r.status == 409 and r.body["Fields"] == {
        "role": "The last active admin cannot be removed, deactivated or demoted."}
    second = people.make("staff")
    assert api.patch(f"/users/{second.id}", {"role": "admin"}, token=admin.token).status == 200
    # Now there are two: one may step down, the other then cannot.
    assert api.patch(f"/users/{admin.id}", {"role": "staff"}, token=admin.token).status == 200
    second_token = people.login(second.username, second.password).token
    assert api.delete(f"/users/{second.id}", token=second_token).status == 409
    assert api.get(f"/users/{second.id}", token=second_token).body["role"] == "admin"


def test_admin_deletes_a_user_and_the_patient_record_stays_unlinked(api, people):
    from chalicelib.storage import patients

    admin, p = people.admin(), people.make("patient")
    patient_id = p.record["patient_id"]
    assert api.delete(f"/users/{p.id}/", token=admin.token).status == 204
    assert api.get(f"/users/{p.id}", token=p.token).status == 401
    assert api.get(f"/users/{p.id}", token=admin.token).status == 404
    assert api.delete(f"/users/{p.id}", token=admin.token).status == 404
    record = patients.get(patient_id)
    assert record is not None and record.user_id is None
    # The username and email are free again, but the record's email alone links nobody to it...
    body = {"username": p.username, "email": f"{p.username}@clinic.test", "password": "another-pass-1",
            "date_of_birth": "2000-01-01"}
    r = api.post("/register", body)
    assert r.status == 409 and set(r.body["Fields"]) == {"email"} and "link code" in r.body["Fields"]["email"]
    assert patients.get(patient_id).user_id is None
    # ...only a fresh link code from the desk does.
    code = api.post(f"/patients/{patient_id}/link_code", token=admin.token).body["link_code"]
    r = api.post("/register", {**body, "link_code": code})
    assert r.status == 201 and r.body["patient_id"] == patient_id
    assert patients.get(patient_id).user_id == r.body["id"]


def test_unknown_or_malformed_ids_are_404(api, people):
    admin = people.admin().token
    for path in ["/users/0", "/users/abc", "/users/-1", "/users/99999", "/users/1.5",
                                      "/users/" + "9" * 30]:
        r = api.get(path, token=admin)
        assert r.status == 404 and r.body["Code"] == "NotFoundError", (path, r)


def test_bad_updates_are_400_and_change_nothing(api, people):
    admin, p = people.admin(), people.make("patient")
    before = api.get(f"/users/{p.id}", token=admin.token).body
    for body, field in [({"email": "bad"}, "email"), ({"username": "a b"}, "username"),
                                             ({"role": "root"}, "role"), ({"is_active": "yes"}, "is_active"),
                                             ({"password_hash": "x"}, "password_hash"), ({"id": 5}, "id"),
                                             ({"date_of_birth": "1990-13-01"}, "date_of_birth")]:
        r = api.patch(f"/users/{p.id}", body, token=admin.token)
        assert r.status == 400 and field in r.body["Fields"], (body, r)
    assert api.get(f"/users/{p.id}", token=admin.token).body == before


def test_wrong_method_is_405(api, people):
    r = api.call("POST", "/users", {}, token=people.admin().token)
    assert r.status == 405 and r.body["Code"] == "MethodNotAllowedError"


# -- passwords set by an admin -----------------------------------------------------------------

@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_an_admin_sets_a_users_password_and_their_tokens_die(api, people, method):
    admin, p = people.admin(), people.make("staff")
    second = people.login(p.username, p.password)
    body = {"password": "set-by-the-admin-1"}
    if method == "PUT":
        body.update(username=p.username, email=f"{p.username}@clinic.test")
    r = api.call(method, f"/users/{p.id}", body, token=admin.token)
    assert r.status == 200 and "password" not in r.body and "argon2" not in str(r.body)
    for token in (p.token, second.token):
        assert api.get(f"/users/{p.id}", token=token).status == 401
    assert api.post("/auth/login", {"username": p.username, "password": p.password}).status == 401
    fresh = people.login(p.username, "set-by-the-admin-1")
    assert api.get(f"/users/{p.id}", token=fresh.token).status == 200
    # The admin's own session goes on.
    assert api.get("/users", token=admin.token).status == 200


@pytest.mark.parametrize("role", ROLES)
def test_nobody_else_may_send_a_password_to_the_users_resource(api, people, role):
    me = people.make(role)
    for password in ("a-good-new-password", "short", 5):
        r = api.patch(f"/users/{me.id}", {"password": password}, token=me.token)
        assert r.status == 400 and r.body["Fields"] == {"password": "Unknown field."}, r
    assert api.get(f"/users/{me.id}", token=me.token).status == 200
    assert api.post("/auth/login", {"username": me.username, "password": me.password}).status == 200


@pytest.mark.parametrize("password", ["short", "1234567890", None])
def test_an_admin_set_password_follows_the_rules(api, people, password):
    admin, p = people.admin(), people.make("patient")
    r = api.patch(f"/users/{p.id}", {"password": password}, token=admin.token)
    assert r.status == 400 and set(r.body["Fields"]) == {"password"}
    r = api.patch(f"/users/{p.id}", {"password": p.username.upper()}, token=admin.token)
    assert r.status == 400 and set(r.body["Fields"]) == {"password"}
    assert api.get(f"/users/{p.id}", token=p.token).status == 200


def test_anonymous_cannot_set_passwords(api, people):
    p = people.make("patient")
    assert api.patch(f"/users/{p.id}", {"password": "a-good-new-password"}).status == 401


@pytest.mark.parametrize("born", ["2999-01-01", "tomorrow", "1899-12-31"])
def test_a_profile_date_of_birth_is_never_in_the_future_nor_before_1900(api, people, born):
    from datetime import timedelta

    from chalicelib.domain import clock

    if born == "tomorrow":
        born = (clock.today() + timedelta(days=1)).isoformat()
    p = people.make("patient")
    for token in (p.token, people.admin().token):
        r = api.patch(f"/users/{p.id}", {"date_of_birth": born}, token=token)
        assert r.status == 400 and set(r.body["Fields"]) == {"date_of_birth"}, r
    assert api.get(f"/users/{p.id}", token=p.token).body["date_of_birth"] == "1990-01-15"
