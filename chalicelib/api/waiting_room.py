"""The waiting room: GET /queues/board (public JSON for screens) and GET /display (the screen's page).

The board is a `route()` like every operation; the display page is a plain Chalice route like
/docs, since it is HTML and not part of the description.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import html
import json
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chalice import Blueprint, Response

from chalicelib.api.http import bind_storage, domain_error_response, route
from chalicelib.domain import departments, waiting_room
from chalicelib.domain.entities import GENERAL_QUEUE_NAME
from chalicelib.domain.permissions import ANONYMOUS
from chalicelib.errors import DomainError, NotFound
from chalicelib.schema import Bool, Date, Int, List, Obj, Schema, Str, query_params
from chalicelib.settings import get_settings

bp = Blueprint(__name__)

TAG = "waiting room"

# The routes this module serves outside the description.
PAGE_ROUTES = {("/display", "GET")}

_PAGE_FILE = Path(__file__).with_name("display.html")

BOARD_QUERY = {"department": Int(description="A department's queue; omitted = the general queue.")}

POINT = Schema("BoardServicePoint", {"id": Int(), "name": Str(max_length=100)})

CALL = Schema("BoardCall", {
    "token_number": Int(),
    "service_point": Obj(POINT, nullable=True, description="The desk or room the number is called to."),
    "called_at": Str(max_length=40, description="The latest call (a recall moves it)."),
    "recalls": Int(minimum=0),
})

BOARD = Schema("QueueBoard", {
    "queue_date": Date(),
    "department": Int(nullable=True),
    "closed": Bool(description="The queue takes no joins for the rest of the day."),
    "now_calling": List(Obj(CALL), description="Today's called entries, latest call first, at most 10."),
    "next": List(Int(), description="The next 10 waiting token numbers, in calling order."),
    "waiting": Int(minimum=0),
    "estimated_wait_minutes": Int(minimum=0, nullable=True,
                                  description="About how long a patient joining now would wait; null with "
                                              "fewer than 3 calls today or nobody waiting."),
}, description="Token numbers and desk names only: never a patient's name, id or record.")


def board_json(board: dict) -> str:
    """The board as the API writes it: compact, keys in a fixed order (the ETag is its hash)."""
    return json.dumps(board, separators=(",", ":"))


def etag_of(body: str) -> str:
    return '"%s"' % hashlib.sha256(body.encode()).hexdigest()[:32]


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    return header.strip() == "*" or etag in [tag.strip().removeprefix("W/") for tag in header.split(",")]


@route(bp, "/queues/board", "GET", summary="The waiting room's board: numbers called now and next (no login)",
       tag=TAG, roles=(ANONYMOUS,), query=BOARD_QUERY, response=BOARD)
def board(ctx):
    body = board_json(waiting_room.board(ctx.query().get("department")))
    etag = etag_of(body)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _matches((ctx.request.headers or {}).get("if-none-match"), etag):
        return Response(body="", status_code=304, headers=headers)
    return Response(body=body, status_code=200, headers={**headers, "Content-Type": "application/json"})


@functools.cache
def _page_template() -> tuple[str, str]:
    """The page's HTML and the hashes of its inline script and style for the CSP, read once at first use."""
    text = _PAGE_FILE.read_text(encoding="utf-8")
    hashes = []
    for tag in ("script", "style"):
        inline = re.search(rf"<{tag}>(.*?)</{tag}>", text, re.S).group(1)
        digest = base64.b64encode(hashlib.sha256(inline.encode()).digest()).decode()
        hashes.append(f"'sha256-{digest}'")
    script, style = hashes
    return text, (f"default-src 'none'; script-src {script}; style-src {style}; img-src data:; "
                  "connect-src 'self'{websocket}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


_LOOPBACK = r"^(localhost|127(\.\d{1,3}){3}|\[::1\])$"  # compiled at first use (re caches it)
_HOSTNAME = r"^([A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*|\[[0-9A-Fa-f:.]{2,45}\])$"


def websocket_for(configured: str, host_header: str | None) -> str:
    """The WebSocket URL a page loaded through `host_header` should open: `make run`'s URL names a
    loopback host, which a screen on the clinic's network cannot reach, so a page loaded by another
    name or address gets that name with the WebSocket's port. A deployed (wss://) URL is kept."""
    parsed = urlsplit(configured)
    if parsed.scheme != "ws" or not parsed.hostname or not host_header:
        return configured
    bracketed = f"[{parsed.hostname}]" if ":" in parsed.hostname else parsed.hostname
    requested = host_header.strip().rsplit(":", 1)[0] if not host_header.strip().endswith("]") else host_header.strip()
    if (not re.match(_LOOPBACK, bracketed, re.I) or not re.match(_HOSTNAME, requested)
            or requested.lower() == bracketed.lower()):
        return configured
    port = f":{parsed.port}" if parsed.port else ""
    return urlunsplit(("ws", f"{requested}{port}", parsed.path or "/", "", ""))


_CLOSED_STYLE = ("body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;"
                 "background:#0b1f33;color:#fff;font:6vh/1.3 system-ui,sans-serif;text-align:center;padding:5vh}")
_CLOSED_PAGE = ('<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="60">'
                '<link rel="icon" href="data:,"><title>{title}</title><style>' + _CLOSED_STYLE + '</style></head>'
                '<body data-screen="{state}"><main><h1>{title}</h1><p>{text}</p></main></body></html>')


def _closed_screen(status: int, state: str, title: str, text: str) -> Response:
    """A screen whose queue cannot be shown: a page readable across the room (it looks again every minute)."""
    digest = base64.b64encode(hashlib.sha256(_CLOSED_STYLE.encode()).digest()).decode()
    page = (_CLOSED_PAGE.replace("{title}", html.escape(title)).replace("{state}", state)
            .replace("{text}", html.escape(text)))
    return Response(body=page,
                    status_code=status, headers={
                        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
                        "Content-Security-Policy": f"default-src 'none'; style-src 'sha256-{digest}'; "
                                                   "img-src data:; base-uri 'none'; form-action 'none'; "
                                                   "frame-ancestors 'none'"})


@bp.route("/display", methods=["GET"])
def display_page():
    """The waiting-room screen: now calling, next, the queue's name and the time; no login. A queue
    that does not exist, or a department closed to patients, gets a page saying so (not JSON)."""
    bind_storage()
    try:
        department_id = query_params(bp.current_request.query_params, BOARD_QUERY).get("department")
        department = departments.get_department(department_id) if department_id is not None else None
    except NotFound:
        return _closed_screen(404, "not-found", "Queue not found",
                              "This screen\u2019s queue was not found. Please ask the reception desk.")
    except DomainError as exc:
        return domain_error_response(exc)
    if department is not None and not department.is_active:
        return _closed_screen(200, "closed", department.name,
                              "This screen\u2019s queue is closed to patients. Please ask the reception desk.")
    title = department.name if department is not None else None
    text, policy = _page_template()
    websocket = websocket_for(get_settings().websocket_url or "", (bp.current_request.headers or {}).get("host"))
    page = (text.replace("{{TITLE}}", html.escape(title or GENERAL_QUEUE_NAME))
            .replace("{{DEPARTMENT}}", "" if department_id is None else str(department_id))
            .replace("{{WEBSOCKET}}", html.escape(websocket)))
    return Response(body=page, status_code=200, headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
        "Content-Security-Policy": policy.replace("{websocket}", f" {websocket}" if websocket else "")})
