"""One JSON line per request: method, path, status, duration, caller. Never a body,
a password or a token."""
from __future__ import annotations

import json
import logging
import sys
import time

from chalicelib.api.http import logged_user_id, reset_logged_user

_logger = logging.getLogger("dqs.requests")
if not _logger.handlers:
    _handler = logging.StreamHandler(sys.stdout)
    _handler.setFormatter(logging.Formatter("%(message)s"))
    _logger.addHandler(_handler)
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def log_requests(event, get_response):
    """Chalice HTTP middleware."""
    reset_logged_user()
    started = time.perf_counter()
    response = get_response(event)
    _logger.info(json.dumps({
        "method": event.method,
        "path": event.context.get("resourcePath", event.path),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
        "user_id": logged_user_id(),
        "request_id": event.context.get("requestId"),
    }))
    return response
