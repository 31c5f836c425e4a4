"""GET /health/: whether this deployment can serve (for load balancers, uptime checks and the
canary's alarms). No login; it never shows data."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib import openapi
from chalicelib.api.http import route
from chalicelib.domain import health
from chalicelib.domain.permissions import ANONYMOUS
from chalicelib.schema import Choice, Obj, Schema, Str

bp = Blueprint(__name__)

_CHECK = Choice(("ok", "failing"))
HEALTH = Schema("Health", {
    "status": Choice(("ok",), description="`ok`; a failing check answers 503 instead."),
    "version": Str(max_length=20),
    "checks": Obj(Schema("HealthChecks", {"dynamodb": _CHECK, "secret": _CHECK})),
})


@route(bp, "/health", "GET", summary="Whether the API can serve: one cheap DynamoDB read and the token secret",
       tag="about", roles=(ANONYMOUS,), response=HEALTH, errors=(503,))
def get_health(ctx):
    return health.check(openapi.VERSION)
