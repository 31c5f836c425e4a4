"""Headers and browsers over real HTTP, through the local server as `make run` serves it."""
from __future__ import annotations

import http.client
from urllib.parse import urlsplit

import pytest

DESK = "https://desk.clinic.example"


def _raw(live_server, method: str, path: str, headers: dict | None = None) -> http.client.HTTPResponse:
    parts = urlsplit(live_server.base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request(method, parts.path + path, headers=headers or {})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.mark.parametrize("method", ["TRACE", "QUERY", "BREW", "HEAD", "PUT"])
def test_every_405_lists_the_path_methods_in_allow(live_server, method):
    response = _raw(live_server, method, "/queues")
    assert response.status == 405
    assert response.getheader("Allow") == "GET"
    assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_unknown_paths_and_methods_say_nosniff_too(live_server):
    for method, path in (("GET", "/nowhere"), ("TRACE", "/nowhere"), ("GET", "/../outside")):
        response = _raw(live_server, method, path)
        assert response.status == 404 and response.getheader("X-Content-Type-Options") == "nosniff"


def test_a_browser_on_an_allowed_origin_gets_cors_headers(live_server, monkeypatch):
    monkeypatch.setenv("DQS_CORS_ORIGINS", DESK)
    preflight = _raw(live_server, "OPTIONS", "/auth/login", {
        "Origin": DESK, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    assert preflight.status == 204
    assert preflight.getheader("Access-Control-Allow-Origin") == DESK
    assert preflight.getheader("Access-Control-Allow-Methods") == "POST"
    assert preflight.getheader("Access-Control-Allow-Headers") == "Authorization, Content-Type"
    login = live_server.call("POST", "/auth/login", {"username": "admin", "password": "admin-password-1"},
                             headers={"Origin": DESK})
    assert login.status == 200
    assert login.headers["Access-Control-Allow-Origin"] == DESK and login.headers["Cache-Control"] == "no-store"
    other = _raw(live_server, "OPTIONS", "/auth/login", {"Origin": "https://elsewhere.example",
                                                         "Access-Control-Request-Method": "POST"})
    assert other.getheader("Access-Control-Allow-Origin") is None


def test_the_base_url_and_the_docs_page(live_server):
    index = live_server.call("GET", "/")
    assert index.status == 200 and index.body["docs"] == "/api/docs"
    assert live_server.call("GET", "").body == index.body  # /api as well as /api/
    docs = _raw(live_server, "GET", "/docs")
    assert docs.status == 200 and "'sha256-" in docs.getheader("Content-Security-Policy")


def test_path_ids_arrive_decoded_as_api_gateway_passes_them(live_server):
    token = live_server.login("admin", "admin-password-1")
    assert live_server.call("GET", "/users/%31", token=token).status == 200  # '1'
    for encoded in ("%C2%B2", "%EF%BC%91", "1%3Fx=1", "1%23top", "%ED%A0%80", "1%2Fx"):  # '²', '１', bad UTF-8...
        response = live_server.call("GET", f"/users/{encoded}", token=token)
        assert response.status == 404 and response.body["Code"] == "NotFoundError", (encoded, response)
    # An encoded slash stays inside its segment: no other route is reached.
    assert live_server.call("GET", "/queues/1%2Fposition", token=token).status == 404
