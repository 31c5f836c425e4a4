"""What a newcomer trips on at the edge: a base URL with a trailing slash joined to a path with
a leading one (`/api//patients/`), a form-encoded body, and a board whose called number has no
desk. Each answers as the contract says, never the API's index for another path."""
from __future__ import annotations

import json

import jsonschema
import pytest

from chalicelib.api import openapi
from chalicelib.api.http import collapse_slashes, match_route


@pytest.mark.parametrize("path, expected", [
    ("//patients/", "/patients/"), ("/patients//1/", "/patients/1/"), ("///", "/"), ("/a/b", "/a/b")])
def test_collapse_slashes(path, expected):
    assert collapse_slashes(path) == expected


def test_match_route_reads_paths_as_the_gateway_does():
    from app import app  # noqa: F401 (registers the routes)

    assert match_route("/patients/") == ("/patients", {})
    assert match_route("/patients/7") == ("/patients/{patient_id}", {"patient_id": "7"})
    assert match_route("/queues/board/") == ("/queues/board", {})  # concrete before {entry_id}
    assert match_route("/") == ("/", {})
    assert match_route("/no/such/thing") is None


def test_repeated_slashes_route_as_one(api, people):
    admin = people.admin()
    listed = api.get("//patients/", token=admin.token)
    assert listed.status == 200 and set(listed.body) == {"results", "next"}, listed
    assert "name" not in listed.body  # not the API's index
    registered = api.post("//register/", {"username": "slashes", "email": "slashes@clinic.test",
                                          "password": "a-long-password", "date_of_birth": "1990-01-15"})
    assert registered.status == 201 and registered.body["username"] == "slashes", registered
    # (chalice.test's gateway itself finds no route for `/patients//1/`, which it reads as the
    # path `/1/` of a host `patients`: that case is tested over HTTP, tests/e2e/test_edge_http.py.)
    # The roles of the route the path names are the ones checked.
    assert api.get("//users/").status == 401
    wrong_method = api.call("DELETE", "//register/")
    assert wrong_method.status == 405 and wrong_method.headers["Allow"] == "POST", wrong_method


def test_a_path_that_names_no_route_even_so_says_why(api):
    answer = api.get("//no-such-thing/")
    assert answer.status == 404, answer
    assert answer.body["Code"] == "NotFoundError"
    assert "repeated slashes" in answer.body["Message"] and "/no-such-thing/" in answer.body["Message"]


def test_a_form_encoded_body_is_told_to_send_json(api):
    answer = api.call("POST", "/auth/login", raw="username=admin&password=x",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status == 415, answer
    assert answer.body["Code"] == "UnsupportedMediaType"
    assert "Content-Type: application/json" in answer.body["Message"]
    assert "application/x-www-form-urlencoded" in answer.body["Message"]


def _validator(name: str):
    spec = json.loads(json.dumps(openapi.describe()))
    schema = {"$ref": f"#/components/schemas/{name}", "components": spec["components"]}
    return jsonschema.Draft202012Validator(schema)


def test_a_called_number_without_a_desk_matches_the_boards_description(api, people):
    staff = people.make("staff")
    patient = people.make("patient")
    joined = api.post("/queues/join_queue", token=patient.token)
    assert joined.status == 201, joined
    called = api.post("/queues/call_next", {}, token=staff.token)  # no service point: called to no desk
    assert called.status == 200 and called.body["service_point"] is None, called
    board = api.get("/queues/board")
    assert board.status == 200 and board.body["now_calling"][0]["service_point"] is None, board
    errors = [error.message for error in _validator("QueueBoard").iter_errors(board.body)]
    assert errors == []


def test_nullable_objects_admit_null_and_only_objects_otherwise():
    validator = _validator("BoardCall")
    call = {"token_number": 1, "service_point": None, "called_at": "2030-01-01T10:00:00Z", "recalls": 0}
    assert validator.is_valid(call)
    assert validator.is_valid({**call, "service_point": {"id": 1, "name": "Desk 1"}})
    assert not validator.is_valid({**call, "service_point": "Desk 1"})


def _shapes():
    from app import app  # noqa: F401 (registers the routes)
    from chalicelib.api.http import ROUTES

    found = {}
    for spec in ROUTES:
        for shape in (spec.body, spec.response):
            if shape is not None:
                openapi._components_for(shape, found)
    return found


def test_every_field_admits_null_exactly_when_it_is_declared_nullable():
    components = json.loads(json.dumps(openapi.describe()))["components"]
    checked = 0
    for shape in _shapes().values():
        for name, field in shape.fields.items():
            schema = {**json.loads(json.dumps(field.json_schema())), "components": components}
            admits_null = jsonschema.Draft202012Validator(schema).is_valid(None)
            assert admits_null == field.nullable, (shape.name, name)
            checked += 1
    assert checked > 100
