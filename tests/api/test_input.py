"""No input gets a 500: each input that once did is a 4xx JSON error naming what is wrong,
and the description states what each field takes (API-CONTRACT.md, "Trusted in production")."""
from __future__ import annotations

import json

import pytest

from chalicelib.api import openapi

LISTS = ["/users", "/patients", "/doctors", "/departments", "/appointments", "/queues"]


def test_a_lone_surrogate_in_any_text_is_a_400_naming_the_field(api, people):
    admin = people.admin()
    cases = [
        ("POST", "/auth/login", {"username": "admin", "password": "\ud800"}, "password", None),
        ("POST", "/auth/login", {"username": "ad\udfffmin", "password": "x"}, "username", None),
        ("POST", "/register", {"username": "lone", "email": "lone@clinic.test", "password": "pass\ud800word",
                               "date_of_birth": "1990-01-01"}, "password", None),
        ("POST", "/register", {"username": "lone", "email": "lone@clinic.test", "password": "a-good-password",
                               "date_of_birth": "1990-01-01", "first_name": "An\ud800"}, "first_name", None),
        ("POST", "/departments", {"name": "Cardio\ud800"}, "name", admin.token),
        ("POST", "/departments", {"name": "Cardiology", "description": "\udc00"}, "description", admin.token),
        ("POST", "/patients", {"name": "\ud800"}, "name", admin.token),
        ("PATCH", "/users/1", {"last_name": "x\ud800"}, "last_name", admin.token),
    ]
    for method, path, body, field, token in cases:
        response = api.call(method, path, raw=json.dumps(body), token=token)
        assert response.status == 400, (path, body, response)
        assert response.body["Fields"][field].startswith("Unpaired surrogate"), response


def test_control_characters_are_refused_in_names_and_kept_in_descriptions(api, people):
    admin = people.admin()
    for name in ("Cardio\x00logy", "Cardio\x1blogy", "Cardiology\n", "\x7f"):
        response = api.post("/departments", {"name": name}, token=admin.token)
        assert response.status == 400 and "name" in response.body["Fields"], (name, response)
    made = api.post("/departments", {"name": "Cardiology", "description": "Floor 2\nRoom 5\tleft"}, token=admin.token)
    assert made.status == 201 and made.body["description"] == "Floor 2\nRoom 5\tleft"


INVISIBLE = ("\u0085", "\u009b", "\u202a", "\u202e", "\u2066", "\u2069", "\u200b", "\u200c", "\u200d",
             "\u2060", "\ufeff")


@pytest.mark.parametrize("char", INVISIBLE)
def test_invisible_and_direction_characters_are_refused_wherever_a_name_is_written(api, people, char):
    """C1 controls, bidi overrides and isolates, zero-width characters: 201 before, 400 naming the field."""
    admin = people.admin().token
    department = api.post("/departments", {"name": "Radiology"}, token=admin).body["id"]
    cases = [
        ("/register", {"username": "jane", "email": "jane@clinic.test", "password": "a-good-password",
                       "date_of_birth": "1990-01-01", "first_name": f"Ja{char}ne"}, "first_name"),
        ("/register", {"username": "joe", "email": "joe@clinic.test", "password": "a-good-password",
                       "date_of_birth": "1990-01-01", "last_name": f"Roe{char}"}, "last_name"),
        ("/patients", {"name": f"Walk{char} In"}, "name"),
        ("/departments", {"name": f"Cardio{char}logy"}, "name"),
        ("/doctors", {"name": f"Dr{char} Who", "specialty": "GP", "department": department}, "name"),
        ("/service-points", {"name": f"Desk{char} 1", "department": department}, "name"),
    ]
    for path, body, field in cases:
        response = api.post(path, body, token=None if path == "/register" else admin)
        assert response.status == 400 and field in response.body["Fields"], (path, char, response)


def test_names_are_stored_in_nfc(api, people):
    admin = people.admin().token
    made = api.post("/patients", {"name": "Rene\u0301e Zoe\u0308"}, token=admin)
    assert made.status == 201 and made.body["name"] == "Ren\u00e9e Zo\u00eb"
    again = api.get(f"/patients/{made.body['id']}", token=admin)
    assert again.body["name"] == "Ren\u00e9e Zo\u00eb"


def test_a_body_nested_too_deep_is_a_400(api, people):
    admin = people.admin()
    deep = '{"a":' * 966 + "1" + "}" * 966  # 5.8 KB, the body that once reached a RecursionError
    for raw in (deep, "[" * 5000 + "]" * 5000, '{"name": ' + "[" * 40 + "]" * 40 + "}"):
        response = api.call("POST", "/departments", raw=raw, token=admin.token)
        assert response.status == 400 and "nested deeper than 32" in response.body["Message"], response
    # 32 levels are fine as far as nesting goes (and then the body is checked as usual).
    response = api.call("POST", "/departments", raw='{"name": ' + "[" * 31 + "]" * 31 + "}", token=admin.token)
    assert response.status == 400 and response.body["Fields"] == {"name": "Must be a string."}


def test_nan_and_infinity_are_not_json(api, people):
    admin = people.admin()
    for raw in ('{"department": NaN, "name": "X", "specialty": "Y"}', '{"department": Infinity}', "NaN"):
        response = api.call("POST", "/doctors", raw=raw, token=admin.token)
        assert response.status == 400 and response.body["Message"] == "The request body is not valid JSON."


@pytest.mark.parametrize("path", LISTS)
def test_a_non_ascii_or_malformed_cursor_is_a_400_on_every_list(api, people, path):
    admin = people.admin()
    for cursor in ("eyJ9.%C3%A9", "eyJ9.%ED%A0%80", "0", "eyJ9.", "%00", "e30.0123456789abcdef0123456789abcdef"):
        response = api.get(f"{path}?cursor={cursor}", token=admin.token)
        assert response.status == 400 and list(response.body["Fields"]) == ["cursor"], (cursor, response)


def test_the_cursor_is_described_by_its_shape():
    for path in LISTS:
        parameters = openapi.describe()["paths"][path]["get"]["parameters"]
        cursor = next(p for p in parameters if p["name"] == "cursor")
        assert "[0-9a-f]{32}" in cursor["schema"]["pattern"]


def test_extreme_dates_are_a_400_naming_the_field(api, people):
    admin = people.admin()
    for day in ("9999-12-31", "0001-01-01", "1899-12-31"):
        response = api.get(f"/appointments?date={day}", token=admin.token)
        assert response.status == 400 and "date" in response.body["Fields"], (day, response)
        response = api.post("/patients", {"name": "P", "date_of_birth": day}, token=admin.token)
        assert response.status == 400 and "date_of_birth" in response.body["Fields"], (day, response)
    for instant in ("9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"):
        response = api.post("/appointments", {"patient": 1, "doctor": 1, "date": instant}, token=admin.token)
        assert response.status == 400 and "date" in response.body["Fields"], (instant, response)
    # The last day described is one the day bounds can be computed for, in any time zone.
    assert api.get("/appointments?date=9998-12-31", token=admin.token).status == 200
    assert api.get("/appointments?date=1900-01-01", token=admin.token).status == 200


def test_unicode_digits_name_no_object(api, people):
    admin = people.admin()
    for path in ("/patients/²", "/users/١", "/doctors/１", "/departments/𝟙", "/queues/³/position",
                 "/appointments/%C2%B2"):
        response = api.get(path, token=admin.token)
        assert response.status == 404 and response.body["Code"] == "NotFoundError", (path, response)


def test_an_integer_valued_float_is_an_integer(api, people):
    """JSON Schema counts 2.0 as an integer; so does the API."""
    admin = people.admin()
    department = api.post("/departments", {"name": "Cardiology"}, token=admin.token).body["id"]
    response = api.post("/doctors", {"name": "Dr. F", "specialty": "Floats", "department": float(department)},
                        token=admin.token)
    assert response.status == 201 and response.body["department"] == department
    response = api.post("/doctors", {"name": "Dr. F", "specialty": "Floats", "department": 5313026227935.0},
                        token=admin.token)
    assert response.status == 400 and response.body["Fields"] == {"department": "No department with id 5313026227935."}
    response = api.post("/doctors", {"name": "Dr. F", "specialty": "Floats", "department": 1.5}, token=admin.token)
    assert response.status == 400 and response.body["Fields"] == {"department": "A valid integer is required."}


def test_the_description_states_the_rules_of_a_registration():
    register = openapi.describe()["components"]["schemas"]["RegisterRequest"]
    password = register["properties"]["password"]
    assert password["pattern"] == "[^0-9]" and password["minLength"] == 8
    assert "[A-Za-z0-9@.+_-]+" in register["properties"]["username"]["pattern"]
    conditions = {json.dumps(rule, sort_keys=True) for rule in register["allOf"]}
    assert any("date_of_birth" in rule for rule in conditions) and any("specialty" in rule for rule in conditions)


def test_a_conflict_with_what_is_stored_is_a_409_and_described(api, people):
    admin = people.admin()
    response = api.delete(f"/users/{admin.id}", token=admin.token)
    assert response.status == 409 and response.body["Code"] == "ConflictError" and "role" in response.body["Fields"]
    paths = openapi.describe()["paths"]
    for method, path in (("delete", "/users/{user_id}"), ("patch", "/users/{user_id}"), ("post", "/register"),
                         ("post", "/departments"), ("post", "/patients"), ("post", "/queues/join_queue")):
        assert "409" in paths[path][method]["responses"], (method, path)
