"""The headers every answer carries, for browsers: no MIME sniffing, no caching of what is
private, a Content-Security-Policy on HTML pages, the `Allow` of a 405, and CORS for the
origins DQS_CORS_ORIGINS names. One Chalice HTTP middleware, so that it sees every
answer the app gives, its own and Chalice's (a 405, an error)."""
from __future__ import annotations

import base64
import hashlib
import re

from chalicelib.api.http import PATH_METHODS
from chalicelib.settings import get_settings

PREFLIGHT_MAX_AGE = 600
PREFLIGHT_HEADERS = "Authorization, Content-Type"
# Headers beyond the simple ones that a browser client on another origin may read.
EXPOSED_HEADERS = "Allow, ETag, Retry-After"

# The <script> and <style> elements of a page: the inline ones are allowed by their hash.
# (Compiled by `re` at first use, as every pattern of the app: a cold start compiles none.)
_ELEMENTS = r"<(script|style)\b([^>]*)>(.*?)</\1\s*>"


def content_security_policy(page: str, connect: tuple[str, ...] = ()) -> str:
    """A policy that lets `page` load only from its own origin (and connect to `connect`),
    and run only the inline scripts and styles it holds."""
    sources: dict[str, list[str]] = {"script": ["'self'"], "style": ["'self'"]}
    for kind, attributes, text in re.findall(_ELEMENTS, page, re.S | re.I):
        if "src=" not in attributes.lower():
            digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
            sources[kind.lower()].append(f"'sha256-{digest}'")
    return "; ".join([
        "default-src 'self'",
        "script-src " + " ".join(sources["script"]),
        "style-src " + " ".join(sources["style"]),
        "connect-src " + " ".join(["'self'", *connect]),
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
    ])


def _allowed_origin(origin: str | None) -> str | None:
    if origin and origin.lower() in get_settings().cors_origins:
        return origin
    return None


def browser_headers(event, get_response):
    """Chalice HTTP middleware: the headers of API-CONTRACT.md's "Headers and browsers"."""
    response = get_response(event)
    headers = response.headers
    request_headers = event.headers or {}
    headers["X-Content-Type-Options"] = "nosniff"
    if "authorization" in request_headers or (isinstance(response.body, dict) and "token" in response.body):
        headers["Cache-Control"] = "no-store"  # a logged-in caller's data, or a token
    content_type = next((value for name, value in headers.items() if name.lower() == "content-type"), "")
    if content_type.startswith("text/html") and "Content-Security-Policy" not in headers:
        body = response.body.decode() if isinstance(response.body, bytes) else str(response.body)
        headers["Content-Security-Policy"] = content_security_policy(body)
    path = event.context.get("resourcePath")
    if response.status_code == 405 and path in PATH_METHODS:
        headers["Allow"] = PATH_METHODS[path]  # Chalice's own 405 (HEAD) would list every handler
    if get_settings().cors_origins:
        vary = headers.get("Vary")
        headers["Vary"] = f"{vary}, Origin" if vary else "Origin"  # the answer depends on the Origin sent
        origin = _allowed_origin(request_headers.get("origin"))
        if origin:
            headers["Access-Control-Allow-Origin"] = origin
            headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            if event.method == "OPTIONS" and "access-control-request-method" in request_headers:
                headers["Access-Control-Allow-Methods"] = PATH_METHODS.get(path, "")
                headers["Access-Control-Allow-Headers"] = PREFLIGHT_HEADERS
                headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response
