"""The OpenAPI 3.1 description of the API, generated from the route registry.

Every route registered through `http.route()` (this package) records its path,
method, body and response Schema, query fields, roles and status. The
description is built from those records and from the same Schema definitions
that validate requests, so it follows the code without being edited by hand.
"""
from __future__ import annotations

import re
from http import HTTPStatus
from typing import Any

from chalicelib.api.http import ROUTES
from chalicelib.schema import Field, List, Obj, Schema

TITLE = "Digital Queue System API"
VERSION = "1.0.0"
SERVER_URL = "/api"
SECURITY_SCHEME = "Token"

_PATH_PARAM = r"{([^}]+)}"

_ERROR_DESCRIPTIONS = {
    400: "Bad request: the body, a query parameter or a cursor is not acceptable. "
         "`Fields` names each bad field.",
    401: "Not logged in: the token is missing, malformed, expired, forged or revoked "
         "(or, at login, the credentials are wrong).",
    403: "Logged in, but not allowed to do this.",
    404: "No such object.",
    405: "The path exists, but not with this method (the `Allow` header lists the methods it has).",
    409: "Conflict: the request is well formed, but conflicts with what is stored (a name already taken, "
         "the last active admin, a record changed by someone else meanwhile). `Fields` names the field.",
}

_INFO_DESCRIPTION = """\
A clinic's day: accounts with roles (admin, staff, doctor, patient), patients, doctors,
departments, appointments, and a daily token queue.

* Send `Authorization: Token <token>` with the token from `POST /auth/login` (`Bearer <token>` works too).
* Every path also answers with a trailing slash (`/register/`).
* Requests and responses are JSON; an empty body counts as `{}`.
* Dates are `YYYY-MM-DD`; instants are ISO 8601 with seconds and a zone, returned in UTC with `Z`;
  both in the years 1900 to 9998.
* Text is stripped of surrounding white space, and holds no control characters (multi-line text
  keeps tab and line breaks) and no unpaired UTF-16 surrogates (`\\ud800`-`\\udfff`), which have
  no UTF-8 form. A body nests at most 32 levels deep.
* Lists return `{"results": [...], "next": <cursor or null>}`; pass `?cursor=<next>` for the next page.
* Errors are `{"Code", "Message", "Fields"?}`; a method a path does not have answers 405, with
  `Allow`. A request that conflicts with what is stored (a name already taken) answers 409.
* Each operation's `x-roles` lists the roles that may call it (`anonymous`: anyone); a role not
  listed gets 403 before anything about the body is checked.
"""


def _components_for(schema: Schema, found: dict[str, Schema]) -> None:
    """Collect a schema and every schema its Obj fields (or lists of them) reference, by name."""
    existing = found.get(schema.name)
    if existing is schema:
        return
    if existing is not None and existing.json_schema() != schema.json_schema():
        raise ValueError(f"Two different schemas are named {schema.name!r}; give one another name.")
    found[schema.name] = schema
    for field in schema.fields.values():
        while isinstance(field, List):
            field = field.item
        if isinstance(field, Obj):
            _components_for(field.schema, found)


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_content(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{words}" if words else method.lower()


def _path_parameter(name: str) -> dict:
    # Every path parameter of this API is an object id; anything else names no object (404).
    if name == "id" or name.endswith("_id"):
        schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 10**15 - 1}
    else:
        schema = {"type": "string", "minLength": 1}
    return {"name": name, "in": "path", "required": True, "schema": schema}


def _query_parameter(name: str, field: Field) -> dict:
    schema = field.json_schema()
    parameter = {"name": name, "in": "query", "required": field.required, "schema": schema}
    if field.description:
        parameter["description"] = field.description
    return parameter


def _statuses(spec) -> list[int]:
    """The error statuses an operation can answer with.

    Operations that need a login answer 401 and 403. An open operation that
    takes a body still reads the credentials or token it is sent (registering
    staff needs an admin's token), so it may answer 401 and 403 too.
    """
    statuses = set(spec.errors)
    if spec.body is not None or spec.query:
        statuses.add(400)
    if spec.auth or spec.body is not None:
        statuses.update((401, 403))
    if re.search(_PATH_PARAM, spec.path):
        statuses.add(404)
    return sorted(statuses)


def _success_response(spec, schemas: dict[str, dict]) -> dict:
    description = spec.summary
    if spec.status == 204:
        return {"description": description}
    if spec.response is None:
        return {"description": description, "content": _json_content({"type": "object"})}
    if spec.many:
        page_name = f"{spec.response.name}Page"
        schemas[page_name] = {
            "type": "object",
            "description": f"A page of {spec.response.name} objects.",
            "properties": {
                "results": {"type": "array", "items": _ref(spec.response.name)},
                "next": {"type": ["string", "null"],
                         "description": "Pass as `?cursor=` for the next page; null on the last page."},
            },
            "required": ["results", "next"],
            "additionalProperties": False,
        }
        return {"description": description, "content": _json_content(_ref(page_name))}
    return {"description": description, "content": _json_content(_ref(spec.response.name))}


def _operation(spec, schemas: dict[str, dict]) -> dict:
    operation: dict[str, Any] = {
        "operationId": _operation_id(spec.method, spec.path),
        "summary": spec.summary,
        "tags": [spec.tag],
        # Who may call it at all; rules about owning an object (a patient's own record) come on top.
        "x-roles": list(spec.roles),
    }
    parameters = [_path_parameter(name) for name in re.findall(_PATH_PARAM, spec.path)]
    parameters += [_query_parameter(name, field) for name, field in spec.query.items()]
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        name = spec.body.name
        if spec.partial:
            name = f"{name}Partial"
            schemas[name] = spec.body.json_schema(partial=True)
        required = not spec.partial and any(f.required for f in spec.body.fields.values())
        operation["requestBody"] = {"required": required, "content": _json_content(_ref(name))}
    if spec.auth:
        operation["security"] = [{SECURITY_SCHEME: []}]
    elif spec.body is not None:
        operation["security"] = [{}, {SECURITY_SCHEME: []}]  # anonymous, or with a token
    else:
        operation["security"] = []
    responses: dict[str, Any] = {str(spec.status): _success_response(spec, schemas)}
    for status in _statuses(spec):
        responses[str(status)] = {"$ref": f"#/components/responses/Error{status}"}
    operation["responses"] = responses
    return operation


def _error_description(status: int) -> str:
    if status in _ERROR_DESCRIPTIONS:
        return _ERROR_DESCRIPTIONS[status]
    try:
        return HTTPStatus(status).phrase + "."
    except ValueError:
        return f"Error {status}."


def _error_components(used: set[int]) -> tuple[dict, dict]:
    error_schema = {
        "type": "object",
        "description": "Every error. Some carry more, e.g. the existing `entry` when joining a queue twice.",
        "properties": {
            "Code": {"type": "string", "examples": ["BadRequestError"]},
            "Message": {"type": "string"},
            "Fields": {"type": "object", "additionalProperties": {"type": "string"},
                       "description": "Each bad field and what is wrong with it."},
        },
        "required": ["Code", "Message"],
        "additionalProperties": True,
    }
    responses = {
        f"Error{status}": {"description": _error_description(status), "content": _json_content(_ref("Error"))}
        for status in sorted(set(_ERROR_DESCRIPTIONS) | used)
    }
    return error_schema, responses


def describe(routes=None) -> dict:
    """The OpenAPI 3.1 description of the given routes (default: every registered route)."""
    if routes is None:
        routes = ROUTES
    unique = {(spec.path, spec.method): spec for spec in routes}  # a re-registered route replaces itself
    named: dict[str, Schema] = {}
    for spec in unique.values():
        for shape in (spec.body, spec.response):
            if shape is not None:
                _components_for(shape, named)
    schemas: dict[str, dict] = {name: shape.json_schema() for name, shape in sorted(named.items())}
    paths: dict[str, dict] = {}
    for (path, method), spec in sorted(unique.items()):
        paths.setdefault(path, {})[method.lower()] = _operation(spec, schemas)
    error_schema, error_responses = _error_components({status for spec in unique.values() for status in spec.errors})
    schemas["Error"] = error_schema
    tags = sorted({spec.tag for spec in unique.values()})
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": _INFO_DESCRIPTION},
        "servers": [{"url": SERVER_URL}],
        "tags": [{"name": tag} for tag in tags],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "responses": error_responses,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "apiKey", "in": "header", "name": "Authorization",
                    "description": "`Token <token>`, with the token `POST /auth/login` returns.",
                },
            },
        },
    }
