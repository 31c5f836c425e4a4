"""The API's own description: GET /openapi.json and a readable page at GET /docs.

Both are open to anyone and read nothing from storage. They are plain Chalice
routes rather than `route()` ones: they serve the description, they are not part
of it, and the page is HTML rather than JSON.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

from chalice import Blueprint, Response

from chalicelib.api import http, openapi

bp = Blueprint(__name__)

# The routes this module serves, which the description leaves out.
DOC_ROUTES = {("/openapi.json", "GET"), ("/docs", "GET")}

# The page's HTML, with /*SPEC*/null where the description goes.
_PAGE_FILE = Path(__file__).with_name("docs.html")

_cache: dict[str, tuple[int, object]] = {}


def _cached(key: str, build):
    # Routes are registered at import; the count only changes when a module registers more.
    count = len(http.ROUTES)
    hit = _cache.get(key)
    if hit is None or hit[0] != count:
        hit = (count, build())
        _cache[key] = hit
    return hit[1]


def description() -> dict:
    return _cached("spec", openapi.describe)


@functools.cache
def _page_template() -> str:
    """The page's HTML, read once, when the page is first asked for (never at import)."""
    return _PAGE_FILE.read_text(encoding="utf-8")


def _page() -> str:
    # The description is embedded, so the page needs no second request and no internet access.
    spec = json.dumps(description(), separators=(",", ":"))
    spec = spec.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _page_template().replace("/*SPEC*/null", spec)


@bp.route("/openapi.json", methods=["GET"])
def openapi_json():
    return Response(body=description(), status_code=200,
                    headers={"Content-Type": "application/json", "Cache-Control": "max-age=300"})


@bp.route("/docs", methods=["GET"])
def docs_page():
    return Response(body=_cached("page", _page), status_code=200,
                    headers={"Content-Type": "text/html; charset=utf-8", "Cache-Control": "max-age=300"})

