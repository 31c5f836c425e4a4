"""Patients through the API: who may do what, shapes, validation, uniqueness, pages, cost per page."""
from __future__ import annotations

import pytest

SEED_PATIENT = {"name": "John Doe", "email": "john@example.com", "phone": "123-456-7890",
                "date_of_birth": "1990-01-15"}
ROLES = ("anonymous", "patient", "doctor", "staff", "admin")


def walk(api, path, token, limit):
    """Every item of a list, page by page; asserts each page keeps to the limit."""
    items, cursor, pages = [], None, 0
    while True:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = api.get(url, token=token)
        assert r.status == 200, r
        assert set(r.body) == {"results", "next"}
        assert len(r.body["results"]) <= limit
        items += r.body["results"]
        pages += 1
        cursor = r.body["next"]
        if cursor is None:
            return items, pages
        assert pages < 50


def test_seed_payload_creates_a_walk_in_patient(api, as_role):
    staff = as_role("staff")
    r = api.post("/patients/", SEED_PATIENT, token=staff.token)
    assert r.status == 201, r
    link = {name: r.body.pop(name) for name in ("link_code", "link_code_expires_at")}
    assert r.body == {"id": r.body["id"], **SEED_PATIENT, "user_id": None}
    assert isinstance(r.body["id"], int) and len(link["link_code"]) == 8
    again = api.get(f"/patients/{r.body['id']}/", token=staff.token)
    assert again.status == 200 and again.body == r.body  # the code is shown once, in the 201


@pytest.mark.parametrize("role,status", [("anonymous", 401), ("patient", 403), ("doctor", 403),
                                         ("staff", 201), ("admin", 201)])
def test_who_may_register_a_walk_in_patient(api, as_role, role, status):
    person = as_role(role)
    r = api.post("/patients", {"name": "Walk In"}, token=person.token if person else None)
    assert r.status == status, r
    if status == 201:
        assert r.body == {"id": r.body["id"], "name": "Walk In", "email": None, "phone": None,
                          "date_of_birth": None, "user_id": None, "link_code": r.body["link_code"],
                          "link_code_expires_at": r.body["link_code_expires_at"]}


def test_forbidden_caller_gets_403_before_the_body_is_read(api, as_role):
    assert api.post("/patients", raw="not json", token=as_role("doctor").token).status == 403
    assert api.post("/patients", raw="not json").status == 401


def test_list_and_detail_per_role(api, as_role, people):
    me, other = people.make("patient"), people.make("patient")
    mine, others = me.record["patient_id"], other.record["patient_id"]
    staff = as_role("staff")
    walk_in = api.post("/patients", {"name": "Walk In"}, token=staff.token).body["id"]
    everyone = {mine, others, walk_in}

    assert api.get("/patients").status == 401
    assert api.get(f"/patients/{mine}").status == 401

    own_page = api.get("/patients", token=me.token)
    assert own_page.status == 200
    assert own_page.body == {"results": [api.get(f"/patients/{mine}", token=me.token).body], "next": None}
    assert own_page.body["results"][0]["user_id"] == me.id
    assert api.get(f"/patients/{others}", token=me.token).status == 403
    assert api.get(f"/patients/{walk_in}", token=me.token).status == 403

    for role in ("doctor", "staff", "admin"):
        token = as_role(role).token
        r = api.get("/patients/", token=token)
        assert r.status == 200 and {p["id"] for p in r.body["results"]} == everyone, (role, r)
        assert api.get(f"/patients/{others}", token=token).status == 200
        assert api.get("/patients/99999", token=token).status == 404


def test_non_integer_ids_name_no_patient(api, as_role):
    staff = as_role("staff").token
    for bad_id in ["abc", "0", "-1", "1.5", "1e3", "9" * 20]:
        assert api.get(f"/patients/{bad_id}", token=staff).status == 404, bad_id


def test_who_may_edit_a_patient(api, as_role, people):
    me, other = people.make("patient"), people.make("patient")
    mine, others = me.record["patient_id"], other.record["patient_id"]

    assert api.patch(f"/patients/{mine}", {"phone": "555 0100"}).status == 401
    r = api.patch(f"/patients/{mine}", {"phone": "+1 (555) 010-0100"}, token=me.token)
    assert r.status == 200 and r.body["phone"] == "+1 (555) 010-0100" and r.body["user_id"] == me.id
    assert api.patch(f"/patients/{others}", {"phone": "555"}, token=me.token).status == 403
    assert api.put(f"/patients/{others}", {"name": "X"}, token=me.token).status == 403
    assert api.patch(f"/patients/{mine}", {"phone": "555"}, token=as_role("doctor").token).status == 403
    for role in ("staff", "admin"):
        r = api.put(f"/patients/{others}", {"name": f"Renamed by {role}"}, token=as_role(role).token)
        assert r.status == 200 and r.body["name"] == f"Renamed by {role}"
        # PUT leaves out optional fields: they stay as they were.
        assert r.body["email"] == other.record["email"]
    assert api.put(f"/patients/{mine}", {"phone": "555"}, token=me.token).body["Fields"] == {
        "name": "This field is required."}
    assert api.patch("/patients/99999", {"name": "Nobody"}, token=as_role("staff").token).status == 404


def test_email_is_unique_among_patients_without_regard_to_case(api, as_role):
    staff = as_role("staff").token
    assert api.post("/patients", SEED_PATIENT, token=staff).status == 201
    r = api.post("/patients", {**SEED_PATIENT, "email": "JOHN@EXAMPLE.COM"}, token=staff)
    assert r.status == 409 and r.body["Fields"] == {"email": "A patient with that email already exists."}


def test_a_patients_own_edit_finds_an_email_in_use_whoever_holds_it_and_says_one_thing(api, as_role, people):
    """Onto a walk-in record's email, or a staff account's: one 409, one body, for the record and the
    account alike (registration's rule); the desk is told plainly."""
    from chalicelib.domain.patients import EMAIL_IN_USE

    staff = as_role("staff")
    assert api.post("/patients", {"name": "Walk In", "email": "walk.in@example.com"}, token=staff.token).status == 201
    nurse = people.make("staff")
    me = people.make("patient")
    mine = me.record["patient_id"]
    bodies = []
    for email in ("Walk.In@example.com", f"{nurse.username}@clinic.test"):
        for path in (f"/patients/{mine}", "/profile/"):
            r = api.patch(path, {"email": email}, token=me.token)
            bodies.append((r.status, r.body))
    assert bodies == [(409, bodies[0][1])] * 4 and bodies[0][1]["Fields"] == {"email": EMAIL_IN_USE}
    assert api.get(f"/patients/{mine}", token=me.token).body["email"] == f"{me.username}@clinic.test"
    r = api.patch(f"/patients/{mine}", {"email": "walk.in@example.com"}, token=staff.token)
    assert r.status == 409 and r.body["Fields"] == {"email": "A patient with that email already exists."}
    assert api.patch(f"/patients/{mine}", {"email": "me.new@example.com"}, token=me.token).status == 200


def test_changing_an_email_moves_its_claim(api, as_role):
    staff = as_role("staff").token
    a = api.post("/patients", {"name": "A", "email": "a@example.com"}, token=staff).body["id"]
    b = api.post("/patients", {"name": "B", "email": "b@example.com"}, token=staff).body["id"]
    taken = api.patch(f"/patients/{a}", {"email": "B@example.com"}, token=staff)
    assert taken.status == 409 and taken.body["Fields"] == {"email": "A patient with that email already exists."}
    assert api.get(f"/patients/{a}", token=staff).body["email"] == "a@example.com"

    moved = api.patch(f"/patients/{a}", {"email": "a.new@example.com"}, token=staff)
    assert moved.status == 200 and moved.body["email"] == "a.new@example.com"
    assert api.post("/patients", {"name": "C", "email": "A@example.com"}, token=staff).status == 201
    assert api.post("/patients", {"name": "D", "email": "a.new@example.com"}, token=staff).status == 409

    # Only the case changes: the claim stays, the stored text follows.
    same = api.patch(f"/patients/{b}", {"email": "Bee@example.com"}, token=staff)
    assert same.status == 200
    assert api.patch(f"/patients/{b}", {"email": "BEE@example.com"}, token=staff).body["email"] == "BEE@example.com"
    # Clearing the email frees it.
    assert api.patch(f"/patients/{b}", {"email": None}, token=staff).body["email"] is None
    assert api.post("/patients", {"name": "E", "email": "bee@example.com"}, token=staff).status == 201


def test_invalid_patient_data_is_a_400_naming_the_field(api, as_role):
    staff = as_role("staff").token
    for body,field in [
        ({"name": "X", "email": "not-an-email"}, "email"),
        ({"name": "X", "email": 5}, "email"),
        ({"name": "X", "date_of_birth": "15/01/1990"}, "date_of_birth"),
        ({"name": "X", "date_of_birth": "1990-02-30"}, "date_of_birth"),
        ({"name": "X", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"name": "X", "date_of_birth": "1899-12-31"}, "date_of_birth"),
        ({"name": "X", "phone": "call me maybe"}, "phone"),
        ({"name": "X", "phone": "1" * 33}, "phone"),
        ({"name": "X", "phone": "--"}, "phone"),
        ({"name": "X", "phone": 1234567}, "phone"),
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"email": "x@example.com"}, "name"),
        ({"name": "X", "user_id": 3}, "user_id"),
        ({"name": "X", "id": 3}, "id"),
    ]:
        r = api.post("/patients", body, token=staff)
        assert r.status == 400 and field in r.body["Fields"] and r.body["Code"] == "BadRequestError", (body, r)
    assert api.get("/patients", token=staff).body["results"] == []


def test_a_body_that_is_not_an_object_is_a_400(api, as_role):
    staff = as_role("staff").token
    for raw in ["[1, 2]", "5", "{bad json", '"text"']:
        assert api.post("/patients", raw=raw, token=staff).status == 400, raw


def test_patch_validates_too(api, as_role, people):
    me = people.make("patient")
    pid = me.record["patient_id"]
    for body, field in (({"email": "nope"}, "email"), ({"phone": "abc"}, "phone"), ({"name": ""}, "name"),
                        ({"date_of_birth": "yesterday"}, "date_of_birth"), ({"user_id": 9}, "user_id"),
                        ({"date_of_birth": "2999-01-01"}, "date_of_birth"), ({"link_code": "X"}, "link_code")):
        r = api.patch(f"/patients/{pid}", body, token=me.token)
        assert r.status == 400 and field in r.body["Fields"], (body, r)


def test_pages_walk_to_the_end_without_duplicates_or_gaps(api, as_role):
    staff = as_role("staff").token
    created = [api.post("/patients", {"name": f"P{i}"}, token=staff).body["id"] for i in range(5)]
    items, pages = walk(api, "/patients", staff, 2)
    ids = [p["id"] for p in items]
    assert ids == sorted(created) and pages >= 3


def test_bad_list_parameters_are_a_400(api, as_role):
    staff = as_role("staff").token
    for query,field in [("limit=0", "limit"), ("limit=101", "limit"), ("limit=x", "limit"),
                                             ("cursor=forged.abc", "cursor"), ("colour=red", "colour")]:
        r = api.get(f"/patients?{query}", token=staff)
        assert r.status == 400 and field in r.body["Fields"], (query, r)


def test_a_cursor_from_another_list_is_refused(api, as_role):
    admin = as_role("admin").token
    for i in range(3):
        api.post("/departments", {"name": f"D{i}"}, token=admin)
    cursor = api.get("/departments?limit=1", token=admin).body["next"]
    assert cursor
    r = api.get(f"/patients?cursor={cursor}", token=admin)
    assert r.status == 400 and "cursor" in r.body["Fields"]


def count_calls(api, path, token):
    """The DynamoDB operations one request makes."""
    from tests.support.dynamodb import recording

    with recording() as calls:
        r = api.get(path, token=token)
    assert r.status == 200, r
    return calls, r


def test_a_page_costs_the_same_whatever_the_number_of_patients(api, as_role):
    staff = as_role("staff").token
    for i in range(3):
        api.post("/patients", {"name": f"P{i}"}, token=staff)
    api.get("/patients", token=staff)  # warm: table descriptions, connection
    few, r_few = count_calls(api, "/patients?limit=50", staff)
    assert len(r_few.body["results"]) == 3
    for i in range(3, 60):
        api.post("/patients", {"name": f"P{i}"}, token=staff)
    many, r_many = count_calls(api, "/patients?limit=50", staff)
    assert len(r_many.body["results"]) == 50
    assert few == many and many.count("Query") == 1 and "Scan" not in many, many
