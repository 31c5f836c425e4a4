"""The HTTP edge: one route decorator that binds storage, resolves the caller,
checks the roles the route declares, parses input, maps domain errors to
responses (the only place that does), and records each route's shapes and
roles for the OpenAPI description.

This is the one module of the API layer that names the storage package: it
binds the tables where a request enters.
"""
from __future__ import annotations

import functools
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from chalice import Blueprint, Response

from chalicelib import storage
from chalicelib.domain import accounts, idempotency
from chalicelib.domain.entities import User
from chalicelib.domain.permissions import ANONYMOUS, allowed_roles, check_role
from chalicelib.errors import (
    ConfigurationError,
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    Unavailable,
    Unprocessable,
    ValidationFailed,
)
from chalicelib.schema import Field, Int, Schema, Str, query_params

log = logging.getLogger("dqs")

MAX_BODY_BYTES = 64 * 1024
# No request of this API nests deeper than 2; 32 leaves room and keeps every parser far from its recursion limit.
MAX_BODY_DEPTH = 32
DEFAULT_PAGE = 50
MAX_PAGE = 100

_STATUS = [
    (ValidationFailed, 400, "BadRequestError"),
    (Unauthenticated, 401, "UnauthorizedError"),
    (Forbidden, 403, "ForbiddenError"),
    (NotFound, 404, "NotFoundError"),
    (Conflict, 409, "ConflictError"),
    (Unprocessable, 422, "UnprocessableEntityError"),
    (TooManyRequests, 429, "TooManyRequestsError"),
    (Unavailable, 503, "ServiceUnavailableError"),
]

PAGE_QUERY: dict[str, Field] = {
    "limit": Int(minimum=1, maximum=MAX_PAGE, description=f"Page size, 1-{MAX_PAGE} (default {DEFAULT_PAGE})."),
    # A cursor is base64url JSON, a dot, and a signature (storage.cursors); only one the server issued is valid.
    "cursor": Str(max_length=2000, pattern=r"[A-Za-z0-9_-]+\.[0-9a-f]{32}",
                  pattern_message="Invalid or expired cursor.",
                  description="The `next` value of the previous page, as it was given."),
}

# A JSON string, or one of the brackets that open and close arrays and objects.
_JSON_NESTING = rb'"(?:[^"\\]|\\.)*"|[\[\]{}]'

# What a 415 says: Chalice's own ("Unsupported media type: <type>") does not say what to send.
MEDIA_TYPE_MESSAGE = ("Unsupported media type: {0}. Send the body as JSON, with the header "
                      "Content-Type: application/json.")


@dataclass
class RouteSpec:
    """What the OpenAPI description needs to know about one route."""
    path: str
    method: str
    summary: str
    tag: str
    roles: tuple[str, ...]
    status: int
    body: Schema | None = None
    response: Schema | None = None
    many: bool = False
    query: dict[str, Field] = field(default_factory=dict)
    partial: bool = False
    errors: tuple[int, ...] = ()
    idempotent: bool = False

    @property
    def auth(self) -> bool:
        """Whether the route needs a logged-in caller."""
        return self.roles != (ANONYMOUS,)


ROUTES: list[RouteSpec] = []

# The caller of the request being served, for the request log line.
_request_user = threading.local()


def logged_user_id() -> int | None:
    return getattr(_request_user, "user_id", None)


def reset_logged_user() -> None:
    _request_user.user_id = None


def error_response(status: int, code: str, message: str, fields: dict | None = None,
                   extra: dict | None = None) -> Response:
    body: dict[str, Any] = {"Code": code, "Message": message}
    if fields:
        body["Fields"] = fields
    if extra:
        body.update(extra)
    headers = {"WWW-Authenticate": 'Token realm="api"'} if status == 401 else {}
    return Response(body=body, status_code=status, headers=headers)


def domain_error_response(exc: DomainError) -> Response:
    for cls, status, code in _STATUS:
        if isinstance(exc, cls):
            response = error_response(status, code, exc.message, exc.fields, exc.extra)
            if isinstance(exc, TooManyRequests):
                response.headers["Retry-After"] = str(exc.retry_after)
            return response
    raise exc


class Ctx:
    """One request as a handler sees it: body, query, caller."""

    def __init__(self, request, spec: RouteSpec):
        self.request = request
        self.spec = spec
        self._user: User | None = None
        self._user_resolved = False

    # -- caller
    def _token(self) -> str | None:
        header = (self.request.headers or {}).get("authorization")
        if header is None:
            return None
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() not in ("token", "bearer") or not token or len(token) > 4096:
            raise Unauthenticated("Invalid Authorization header: use 'Token <token>'.")
        return token

    @property
    def optional_user(self) -> User | None:
        """The caller if a token was sent (401 if it is bad), else None."""
        if not self._user_resolved:
            token = self._token()
            self._user = accounts.authenticate(token) if token else None
            self._user_resolved = True
            _request_user.user_id = self._user.id if self._user else None
        return self._user

    @property
    def user(self) -> User:
        """The authenticated caller; 401 without a valid token."""
        user = self.optional_user
        if user is None:
            raise Unauthenticated("Authentication credentials were not provided.")
        return user

    # -- input
    def json(self) -> Any:
        raw = self.request.raw_body or b""
        if len(raw) > MAX_BODY_BYTES:
            raise ValidationFailed(f"The request body is larger than {MAX_BODY_BYTES} bytes.")
        if not raw:  # no body at all counts as {}; white space alone is no JSON
            return {}
        _check_depth(raw)
        try:
            return json.loads(raw, parse_constant=_not_json)
        except (ValueError, UnicodeDecodeError):
            raise ValidationFailed("The request body is not valid JSON.") from None

    def body(self) -> dict:
        """The body validated against the route's schema (partial for PATCH)."""
        return self.spec.body.validate(self.json(), partial=self.spec.partial)

    def query(self) -> dict:
        return query_params(self.request.query_params, self.spec.query)

    def page(self) -> tuple[int, str | None, dict]:
        """(limit, cursor, other filters) of a list request."""
        params = self.query()
        return params.pop("limit", DEFAULT_PAGE), params.pop("cursor", None), params


def _check_depth(raw: bytes) -> None:
    """400 for a body nested deeper than MAX_BODY_DEPTH, before a parser recurses into it."""
    depth = 0
    for token in re.finditer(_JSON_NESTING, raw):
        bracket = token.group()
        if bracket in (b"[", b"{"):
            depth += 1
            if depth > MAX_BODY_DEPTH:
                raise ValidationFailed(f"The request body is nested deeper than {MAX_BODY_DEPTH} levels.")
        elif bracket in (b"]", b"}"):
            depth -= 1


def _not_json(constant: str):
    raise ValueError(f"{constant} is not JSON")  # NaN and Infinity, which Python's json reads


def parse_id(value: str, what: str) -> int:
    """A path id; anything that is not a positive integer in ASCII digits names no object (404)."""
    if not (value.isascii() and value.isdigit()) or len(value) > 15 or int(value) < 1:
        raise NotFound(f"No {what} with id {value[:40]!r}.")
    return int(value)


def route(bp: Blueprint, path: str, method: str, *, summary: str, tag: str, roles: tuple[str, ...],
          status: int = 200, body: Schema | None = None, response: Schema | None = None,
          many: bool = False, query: dict[str, Field] | None = None, errors: tuple[int, ...] = (),
          idempotent: bool = False):
    """Register a handler `fn(ctx, **path_params)` returning a dict, a list page or None.

    `roles` are the roles that may call it at all (admin always may), or
    `(ANONYMOUS,)` for what anyone may call. They are checked right after the
    caller is resolved, before anything about the body. An `idempotent` route
    takes an Idempotency-Key header (chalicelib.domain.idempotency).
    """
    query = {**PAGE_QUERY, **(query or {})} if many else dict(query or {})
    roles = roles if roles == (ANONYMOUS,) else allowed_roles(roles)
    if idempotent:
        errors = tuple(sorted({*errors, 409, 422}))
    spec = RouteSpec(path=path, method=method, summary=summary, tag=tag, roles=roles, status=status, body=body,
                     response=response, many=many, query=query, partial=method == "PATCH", errors=errors,
                     idempotent=idempotent)
    ROUTES.append(spec)

    def decorator(fn: Callable[..., Any]):
        def answer(ctx: Ctx, params: dict) -> Response:
            try:
                result = fn(ctx, **params)
            except DomainError as exc:
                return domain_error_response(exc)
            if isinstance(result, Response):  # a handler that sets its own headers (the board's ETag)
                return result
            if result is None and status == 204:
                return Response(body="", status_code=204, headers={"Content-Type": "application/json"})
            return Response(body=result, status_code=status)

        @functools.wraps(fn)
        def handler(**params):
            try:
                storage.bind()
                ctx = Ctx(bp.current_request, spec)
                if spec.auth:
                    check_role(ctx.user, spec.roles)  # 401, then 403, before anything else
                key = _idempotency_key(ctx) if idempotent else None
                if key is None:
                    return answer(ctx, params)
                return _once(ctx, key, lambda: answer(ctx, params))
            except DomainError as exc:
                return domain_error_response(exc)
            except ConfigurationError:
                log.exception("configuration error")
                return error_response(500, "InternalServerError", "The server is not configured correctly.")

        bp.route(path, methods=[method])(handler)
        return fn

    return decorator


def _idempotency_key(ctx: Ctx) -> str | None:
    value = (ctx.request.headers or {}).get(idempotency.HEADER.lower())
    return None if value is None else idempotency.check_key(value)


def _once(ctx: Ctx, key: str, answer: Callable[[], Response]) -> Response:
    """Answer a request that carries an Idempotency-Key: run it once, replay its answer after."""
    request = ctx.request
    target = f"{ctx.spec.path} {json.dumps(request.uri_params or {}, sort_keys=True)}"
    fingerprint = idempotency.fingerprint(request.method, target, request.raw_body or b"")
    claim = idempotency.begin(ctx.user.id, key, fingerprint)
    if isinstance(claim, idempotency.Replay):
        body = json.loads(claim.body) if claim.body else ""
        return Response(body=body, status_code=claim.status, headers={idempotency.REPLAYED_HEADER: "true"})
    try:
        response = answer()
    except BaseException:
        idempotency.abandon(claim)
        raise
    if response.status_code >= 500:  # the server's failure, not an answer: a retry runs again
        idempotency.abandon(claim)
    else:
        body = response.body if isinstance(response.body, str) else json.dumps(response.body)
        idempotency.finish(claim, response.status_code, body)
    return response


def bind_storage() -> None:
    """Bind storage where a request or event enters outside route() (the display page, the
    WebSocket and stream handlers): this module stays the API layer's one that names storage."""
    storage.bind()


def page_json(page, present: Callable[[Any], dict]) -> dict:
    return {"results": [present(item) for item in page.items], "next": page.next}


# Methods a path answers with 405 when it lacks them (HEAD is the gateway's own). OPTIONS
# every path answers itself: the methods it has, and a CORS preflight (api.headers).
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
FALLBACK_ROUTES: set[tuple[str, str]] = set()
# Each path's own methods, as its Allow header lists them.
PATH_METHODS: dict[str, str] = {}


def answer_other_methods(app) -> None:
    """Give every path a handler for the methods it lacks, answering a JSON 405, and for OPTIONS.

    API Gateway answers a method that a path does not define as if the path did
    not exist; with these handlers a deployed stage answers a wrong method with
    the contract's 405 and an Allow header, as `make run` and the tests do.
    """
    for path, entries in list(app.routes.items()):
        own = [method for method in entries if (path, method) not in FALLBACK_ROUTES]
        allowed = PATH_METHODS[path] = ", ".join(sorted(own))
        missing = [method for method in (*METHODS, "OPTIONS") if method not in entries]
        if not missing:
            continue

        def other_method(allowed=allowed, **_path_params):
            if app.current_request.method == "OPTIONS":
                return Response(body="", status_code=204, headers={"Allow": allowed})
            message = f"Unsupported method: {app.current_request.method}"
            return Response(body={"Code": "MethodNotAllowedError", "Message": message}, status_code=405,
                            headers={"Allow": allowed})

        app.route(path, methods=missing)(other_method)
        FALLBACK_ROUTES.update((path, method) for method in missing)



def collapse_slashes(path: str) -> str:
    """`//patients//1/` as `/patients/1/`: a run of slashes counts as one."""
    return re.sub("/{2,}", "/", path)


def match_route(path: str) -> tuple[str, dict[str, str]] | None:
    """The route a path (without its query) names, and its path parameters, or None.

    As API Gateway and Chalice's local gateway match: one trailing slash is dropped, and a
    concrete segment is tried before a `{parameter}` one (sorted: `{` comes after letters).
    """
    if path != "/" and path.endswith("/"):
        path = path[:-1]
    parts = path.split("/")
    for route_path in sorted(PATH_METHODS):
        pattern = route_path.split("/")
        if len(pattern) != len(parts):
            continue
        params: dict[str, str] = {}
        for given, expected in zip(parts, pattern, strict=True):
            if expected.startswith("{") and expected.endswith("}"):
                params[expected[1:-1]] = given
            elif given != expected:
                break
        else:
            return route_path, params
    return None


def _route_repeated_slashes(event) -> Response | None:
    """Route a path with repeated slashes (`/api//patients/`, a base URL ending in a slash
    plus a path starting with one) as the same path with single slashes.

    Chalice's local gateway (`make run`, chalice.test) reads `//patients/` as a URL whose host
    is `patients` and path `/`, so without this it would serve the API index; API Gateway routes
    `/api//patients/` as `/api/patients/`. The route is re-resolved here, before the handler
    runs: the event's resource path and parameters are replaced, in the event dictionary the
    handler reads. A path that names no route even so answers 404, saying why.
    """
    original = event.to_original_event()
    raw = original.get("path") or event.context.get("path") or ""  # API Gateway's, else the local gateway's
    if "//" not in raw:
        return None
    found = match_route(collapse_slashes(raw))
    if found is None:
        return error_response(404, "NotFoundError", "No such route (the path has repeated slashes, read as "
                                                    f"{collapse_slashes(raw)[:200]}).")
    resource, params = found
    if resource != event.context.get("resourcePath") or params != (event.uri_params or {}):
        event.context["resourcePath"] = event.path = resource
        original["pathParameters"] = event.uri_params = params
    return None


def request_edge(event, get_response):
    """Chalice HTTP middleware, registered first: how Chalice's own routing answers, made the
    contract's. Repeated slashes in a path count as one, and a 415 says to send JSON."""
    refused = _route_repeated_slashes(event)
    if refused is not None:
        return refused
    response = get_response(event)
    if response.status_code == 415 and isinstance(response.body, dict) and "Message" in response.body:
        content_type = (event.headers or {}).get("content-type", "")
        response.body["Message"] = MEDIA_TYPE_MESSAGE.format(content_type[:100])
    return response
