"""The OpenAPI description: it lists exactly the app's routes, is valid OpenAPI 3.1,
is built from the Schemas that validate requests, and is served with a docs page."""
from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

from app import app  # registers every route before the description is built
from chalicelib.api import openapi
from chalicelib.api.docs import DOC_ROUTES
from chalicelib.api.http import FALLBACK_ROUTES, ROUTES, RouteSpec
from chalicelib.api.waiting_room import PAGE_ROUTES
from chalicelib.schema import Int, Obj, Schema, Str

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def _app_routes() -> set[tuple[str, str]]:
    return {(path, method) for path, entries in app.routes.items() for method in entries}


def _described(spec: dict) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in spec["paths"].items() for method in item if method in METHODS}


def test_description_lists_every_route_of_the_app_and_no_other():
    spec = openapi.describe()
    app_routes = _app_routes() - DOC_ROUTES - PAGE_ROUTES - FALLBACK_ROUTES  # the 405 answers are no operations
    described = _described(spec)
    assert app_routes - described == set(), "routes the description lacks"
    assert described - app_routes == set(), "described operations the app does not have"


def test_description_is_valid_openapi_3_1():
    spec = openapi.describe()
    errors = [str(error.message) for error in OpenAPIV31SpecValidator(spec).iter_errors()]
    assert errors == []
    assert spec["openapi"].startswith("3.1") and spec["servers"] == [{"url": "/api"}]


def _refs(node):
    if isinstance(node, dict):
        if "$ref" in node:
            yield node["$ref"]
        for value in node.values():
            yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def test_every_reference_resolves():
    spec = openapi.describe()
    for ref in set(_refs(spec)):
        node = spec
        for key in ref.removeprefix("#/").split("/"):
            assert key in node, ref
            node = node[key]


def test_bodies_and_responses_come_from_the_validating_schemas():
    spec = openapi.describe()
    schemas = spec["components"]["schemas"]
    assert ROUTES, "no route registered"
    for route in {(r.path, r.method): r for r in ROUTES}.values():
        operation = spec["paths"][route.path][route.method.lower()]
        assert operation["summary"] == route.summary
        security = operation["security"]
        assert (security == [{"Token": []}]) == route.auth, (route.path, route.method)
        if route.body is not None:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert schemas[ref.split("/")[-1]] == route.body.json_schema(partial=route.partial)
        else:
            assert "requestBody" not in operation
        params = {(p["name"], p["in"]) for p in operation.get("parameters", [])}
        assert params == {(name, "path") for name in re.findall(r"{(\w+)}", route.path)} | {
            (name, "query") for name in route.query} | ({("Idempotency-Key", "header")} if route.idempotent else set())
        success = operation["responses"][str(route.status)]
        if route.response is not None:
            ref = success["content"]["application/json"]["schema"]["$ref"].split("/")[-1]
            if route.many:
                page = schemas[ref]
                assert page["required"] == ["results", "next"]
                assert page["properties"]["results"]["items"] == {
                    "$ref": f"#/components/schemas/{route.response.name}"}
                assert page["properties"]["next"]["type"] == ["string", "null"]
                ref = route.response.name
            assert schemas[ref] == route.response.json_schema()
        for status in ("401", "403"):
            if route.auth:
                assert operation["responses"][status] == {"$ref": f"#/components/responses/Error{status}"}


def test_generator_on_a_made_up_registry():
    item = Schema("Thing", {"id": Int(), "name": Str(), "part": Obj(Schema("Part", {"n": Int()}))})
    body = Schema("ThingIn", {"name": Str(required=True)})
    routes = [
        RouteSpec(path="/things", method="GET", summary="List", tag="things", roles=("staff", "admin"),
                  status=200, response=item, many=True, query={"limit": Int(minimum=1, maximum=100)}),
        RouteSpec(path="/things/{thing_id}", method="PATCH", summary="Edit", tag="things", roles=("admin",),
                  status=200, body=body, response=item, partial=True),
        RouteSpec(path="/things/{thing_id}", method="DELETE", summary="Drop", tag="things", roles=("admin",),
                  status=204),
        RouteSpec(path="/things/{thing_id}/touch", method="POST", summary="Touch", tag="things",
                  roles=("anonymous",), status=200, errors=(409,)),
    ]
    spec = openapi.describe(routes)
    assert list(OpenAPIV31SpecValidator(spec).iter_errors()) == []
    schemas = spec["components"]["schemas"]
    assert {"Thing", "ThingPage", "ThingInPartial", "Part", "Error"} <= set(schemas)
    assert "required" not in schemas["ThingInPartial"]
    assert schemas["Thing"]["properties"]["part"] == {"$ref": "#/components/schemas/Part"}
    listing = spec["paths"]["/things"]["get"]
    assert sorted(listing["responses"]) == ["200", "400", "401", "403"]
    assert listing["x-roles"] == ["staff", "admin"]
    assert listing["parameters"][0]["schema"] == {"type": "integer", "maximum": 100, "minimum": 1}
    item_ops = spec["paths"]["/things/{thing_id}"]
    assert item_ops["delete"]["responses"]["204"] == {"description": "Drop"}
    assert item_ops["patch"]["parameters"][0]["schema"]["type"] == "integer"
    assert item_ops["patch"]["requestBody"]["required"] is False
    touch = spec["paths"]["/things/{thing_id}/touch"]["post"]
    assert touch["security"] == [] and sorted(touch["responses"]) == ["200", "404", "409"]
    assert touch["x-roles"] == ["anonymous"]


def test_two_different_schemas_with_one_name_are_refused():
    a = Schema("Same", {"x": Int()})
    b = Schema("Same", {"y": Int()})
    routes = [RouteSpec(path="/a", method="GET", summary="a", tag="t", roles=("admin",), status=200, response=a),
              RouteSpec(path="/b", method="GET", summary="b", tag="t", roles=("admin",), status=200, response=b)]
    with pytest.raises(ValueError, match="Same"):
        openapi.describe(routes)


def test_description_is_served_without_login(api):
    response = api.client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert json.loads(response.body) == json.loads(json.dumps(openapi.describe()))


def test_docs_page_is_self_contained_html(api):
    response = api.client.http.get("/docs")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    assert page.startswith("<!doctype html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page), "the page must load nothing from outside"
    embedded = re.search(r"const SPEC = (.*?);\n", page).group(1)
    assert json.loads(embedded) == json.loads(json.dumps(openapi.describe()))
    for path in openapi.describe()["paths"]:
        assert path in page


def _media_examples(spec: dict):
    """(where, schema, example value, request?) of every example in the description."""
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            body = operation.get("requestBody")
            if body:
                media = body["content"]["application/json"]
                yield f"{method} {path} body", media["schema"], media["examples"]["example"]["value"], True
            for status, response in operation["responses"].items():
                media = response.get("content", {}).get("application/json", {})
                if "examples" in media:
                    yield f"{method} {path} {status}", media["schema"], media["examples"]["example"]["value"], False


def test_every_operation_has_examples_its_schemas_accept():
    import jsonschema

    spec = json.loads(json.dumps(openapi.describe()))
    examples = list(_media_examples(spec))
    routes = {(r.path, r.method.lower()): r for r in ROUTES}
    with_body = {key for key, route in routes.items() if route.body is not None}
    with_answer = {key for key, route in routes.items() if route.response is not None}
    assert {tuple(where.split()[1::-1]) for where, _, _, request in examples if request} == with_body
    assert {tuple(where.split()[1::-1]) for where, _, _, request in examples if not request} == with_answer
    for where, schema, value, request in examples:
        validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]},
                                                    format_checker=jsonschema.FormatChecker())
        assert [error.message for error in validator.iter_errors(value)] == [], where
        if request:  # the API's own validation takes it too
            method, path = where.split()[:2]
            route = routes[(path, method)]
            route.body.validate(value, partial=route.partial)


def test_examples_look_like_the_clinic():
    spec = openapi.describe()
    board = spec["paths"]["/queues/board"]["get"]["responses"]["200"]["content"]["application/json"]
    called = board["examples"]["example"]["value"]["now_calling"][0]
    assert called["service_point"] == {"id": 1, "name": "Desk 1"}
    register = spec["paths"]["/register"]["post"]["requestBody"]["content"]["application/json"]
    body = register["examples"]["example"]["value"]
    assert body["role"] == "patient" and "date_of_birth" in body
    assert "specialty" not in body and "link_code" not in body  # a doctor's only; a code is used up
    listing = spec["paths"]["/patients"]["get"]["responses"]["200"]["content"]["application/json"]
    assert listing["examples"]["example"]["value"]["next"] is None
