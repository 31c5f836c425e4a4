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
from chalicelib.schema import (
    Bool,
    Choice,
    Date,
    Email,
    Field,
    Instant,
    Int,
    List,
    Obj,
    Password,
    Schema,
    Str,
    query_pattern,
)

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
    422: "The Idempotency-Key was already used with another request (method, path or body).",
}

_IDEMPOTENCY_PARAMETER = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "description": "1-255 printable ASCII characters. The first request with a key is done once; a retry with "
                   "the same key and body within 24 hours gets the first answer again (with "
                   "`Idempotent-Replayed: true`), another body 422, while the first still runs 409.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}

_INFO_DESCRIPTION = """\
A clinic's day: accounts with roles (admin, staff, doctor, patient), patients, doctors,
departments, appointments, and a daily token queue.

* Send `Authorization: Token <token>` with the token from `POST /auth/login` (`Bearer <token>` works too).
* Every path also answers with a trailing slash (`/register/`), and a doubled slash after the base
  URL counts as one (`/api//register/` is `/api/register/`).
* Requests and responses are JSON: send bodies with `Content-Type: application/json` (anything else
  answers 415); an empty body counts as `{}`.
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


_OMIT = object()  # a field an example leaves out (present only in some answers)

# Examples: each body and answer gets one, made from its Schema's fields. A field's example is
# its name's here, else one of its type. The values are valid for the field (a test checks every
# example against its schema) and look like the clinic's data.
_FIELD_EXAMPLES: dict[str, Any] = {
    "username": "johndoe", "email": "john@example.com", "password": "securepassword123",
    "old_password": "securepassword123", "new_password": "a-new-password-2",
    "first_name": "John", "last_name": "Doe", "name": "Jane Roe", "phone": "+1 555 010 0100",
    "date_of_birth": "1990-01-15", "specialty": "Cardiology", "description": "Heart disease treatment",
    "role": "patient", "kind": "desk", "status": "waiting", "priority": "normal",
    "token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIyIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg",
    "link_code": "7KQ2MX9P", "message": "The queue is open for today.",
    "created_at": "2030-12-14T08:30:12Z", "date_joined": "2030-12-14T08:30:12Z",
    "token_number": 3, "recalls": 0, "people_ahead": 2, "position": 3, "estimated_wait_minutes": 12,
    "version": "1.0.0", "docs": "/api/docs", "openapi": "/api/openapi.json", "board": "/api/queues/board/",
    "display": "/api/display/", "closed": False, "waiting": 4, "joined": 12, "served": 6,
    "called_at": "2030-12-15T10:05:00Z", "served_at": "2030-12-15T10:12:00Z", "closed_at": "2030-12-15T10:12:00Z",
    "at": "2030-12-15T10:05:00Z", "expires_at": "2030-12-22T08:30:12Z", "link_code_expires_at": "2030-12-22T08:30:12Z",
    "expired": 0, "next": None,
    # A name is a person's, unless the schema says otherwise below.
    "Department.name": "Cardiology", "DepartmentCreate.name": "Cardiology", "DepartmentUpdate.name": "Cardiology",
    "Doctor.name": "Dr. Smith", "DoctorCreate.name": "Dr. Smith", "DoctorUpdate.name": "Dr. Smith",
    "ServicePoint.name": "Desk 1", "ServicePointCreate.name": "Desk 1", "ServicePointUpdate.name": "Desk 1",
    "BoardServicePoint.name": "Desk 1", "ApiIndex.name": TITLE,
    "QueueBoard.next": [4, 5], "Message.message": "Logged out.",
    "QueueCloseResult.message": "The queue is closed for today; 2 waiting entries expired.",
    "QueueCloseResult.expired": 2, "QueueResetResult.message": "Expired 0 entries from earlier days.",
    "Patient.email": "jane.roe@example.com", "NewPatient.email": "jane.roe@example.com",
    "PatientCreate.email": "jane.roe@example.com", "PatientUpdate.email": "jane.roe@example.com",
    "Patient.user_id": None, "NewPatient.user_id": None, "Doctor.user_id": None, "TokenUser.doctor_id": None,
    "User.doctor_id": _OMIT, "CallNextResult.message": _OMIT,
    "Appointment.date": "2030-12-15T10:00:00Z", "Appointment.status": "scheduled",
    "AppointmentCreate.status": "scheduled", "AppointmentUpdate.status": "canceled",
    "QueueEntry.status": "called", "CallNextResult.status": "called",
    "QueueEntry.served_at": None, "CallNextResult.served_at": None,
    "QueueEntry.closed_at": None, "CallNextResult.closed_at": None, "transferred_from": None,
    "QueueEntryEvent.service_point": None, "Health.status": "ok", "HealthChecks.dynamodb": "ok",
    "HealthChecks.secret": "ok",
}
# Fields a request example leaves out: they depend on what is stored, so the same example could
# not be sent twice as it is (a link code is used up; a message needs the record's phone or email).
_NOT_IN_REQUEST_EXAMPLES = {"link_code", "notify"}


def field_example(name: str, field: Field, owner: str = "") -> Any:
    """An example value of one field (of the schema named `owner`)."""
    for key in (f"{owner}.{name}", name):
        if key in _FIELD_EXAMPLES and (not isinstance(field, Choice) or _FIELD_EXAMPLES[key] in field.choices):
            return _FIELD_EXAMPLES[key]
    own = field.json_schema().get("examples")  # a field that describes its own example (a visit)
    if own:
        return own[0]
    if isinstance(field, Obj):
        return schema_example(field.schema)
    if isinstance(field, List):
        return [field_example(name, field.item, owner)]
    if isinstance(field, Choice):
        return field.choices[0]
    if isinstance(field, Email):
        return "john@example.com"
    if isinstance(field, Password):
        return "securepassword123"
    if isinstance(field, Instant):
        return "2030-12-15T10:00:00Z"
    if isinstance(field, Date):
        return "2030-12-15"
    if isinstance(field, Bool):
        return True
    if isinstance(field, Int):
        return max(field.minimum or 1, 1)
    if isinstance(field, Str):
        return "Triage desk"[: field.max_length].ljust(field.min_length, "x")
    if field.json_type == "number":
        return 4.5
    return "text"


def schema_example(schema: Schema, *, request: bool = False, partial: bool = False) -> dict:
    """An example of a body (`request`) or an answer, with every field the schema lists; a request
    leaves out what the schema's rules forbid (only a doctor has a specialty), and a partial one
    (PATCH) holds only the first two fields."""
    example = {name: field_example(name, field, schema.name) for name, field in schema.fields.items()
               if _FIELD_EXAMPLES.get(f"{schema.name}.{name}", True) is not _OMIT
               and not (request and (name in _NOT_IN_REQUEST_EXAMPLES or
                                    (isinstance(field, Password) and not field.required)))}
    if request:
        for rule in schema.rules:
            for name in rule.broken_by(example):
                if name in example and not schema.fields[name].required:
                    del example[name]
        if partial:
            example = dict(list(example.items())[:2])
    return example


def _example(value: Any, summary: str) -> dict:
    return {"example": {"summary": summary, "value": value}}


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
    schema = query_pattern(field.json_schema())
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
        content = _json_content(_ref(page_name))
        content["application/json"]["examples"] = _example(
            {"results": [schema_example(spec.response)], "next": None}, "A page (the last: `next` is null)")
        return {"description": description, "content": content}
    content = _json_content(_ref(spec.response.name))
    content["application/json"]["examples"] = _example(schema_example(spec.response), "An answer")
    return {"description": description, "content": content}


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
    if spec.idempotent:
        parameters.append(_IDEMPOTENCY_PARAMETER)
    if parameters:
        operation["parameters"] = parameters
    if spec.body is not None:
        name = spec.body.name
        if spec.partial:
            name = f"{name}Partial"
            schemas[name] = spec.body.json_schema(partial=True)
        required = not spec.partial and any(f.required for f in spec.body.fields.values())
        content = _json_content(_ref(name))
        content["application/json"]["examples"] = _example(
            schema_example(spec.body, request=True, partial=spec.partial), "A request")
        operation["requestBody"] = {"required": required, "content": content}
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
