"""GET / (the base URL, /api/ when served): what this API is, and where to read more."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api import openapi
from chalicelib.api.http import route
from chalicelib.domain.permissions import ANONYMOUS
from chalicelib.schema import Schema, Str

bp = Blueprint(__name__)

INDEX = Schema("ApiIndex", {
    "name": Str(max_length=100),
    "version": Str(max_length=20),
    "docs": Str(max_length=100, description="The description as a readable page."),
    "openapi": Str(max_length=100, description="The OpenAPI 3.1 description."),
    "board": Str(max_length=100, description="What a waiting-room screen shows, as JSON."),
    "display": Str(max_length=100, description="The waiting-room screen, as an HTML page."),
})


@route(bp, "/", "GET", summary="What this API is, and the paths of its description and waiting-room pages",
       tag="about", roles=(ANONYMOUS,), response=INDEX)
def index(ctx):
    base = openapi.SERVER_URL
    return {"name": openapi.TITLE, "version": openapi.VERSION, "docs": f"{base}/docs",
            "openapi": f"{base}/openapi.json", "board": f"{base}/queues/board/", "display": f"{base}/display/"}
