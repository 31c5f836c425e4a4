"""One JSON line per request (chalicelib/telemetry.py): method, path, status, outcome,
duration, caller, and the request's business counts as metrics. Never a body, a
password or a token."""
from __future__ import annotations

from chalicelib.api.http import logged_user_id, reset_logged_user
from chalicelib.telemetry import invocation


def outcome(status: int) -> str:
    """ok (2xx, 3xx), rejected (4xx: the client's request was refused), error (5xx)."""
    return "error" if status >= 500 else "rejected" if status >= 400 else "ok"


def log_requests(event, get_response):
    """Chalice HTTP middleware."""
    reset_logged_user()
    with invocation("api", event.context.get("requestId")) as line:
        response = get_response(event)
        line.update(
            method=event.method,
            path=event.context.get("resourcePath", event.path),
            status=response.status_code,
            outcome=outcome(response.status_code),
            user_id=logged_user_id(),
        )
    return response
