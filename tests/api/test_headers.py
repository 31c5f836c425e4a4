"""Headers and browsers (API-CONTRACT.md): nosniff everywhere, no-store for what is private,
a Content-Security-Policy on HTML pages, CORS for the origins DQS_CORS_ORIGINS names,
an `Allow` that lists a path's own methods, and the API's index at its base URL."""
from __future__ import annotations

import base64
import hashlib
import re

import pytest

from chalicelib.api import openapi

DESK = "https://desk.clinic.example"


def test_every_answer_says_nosniff(api, people):
    admin = people.admin()
    answers = [
        api.get("/"), api.client.http.get("/docs"), api.get("/openapi.json"),  # 200s, open
        api.get("/users/1", token=admin.token),                               # 200, logged in
        api.post("/register", {"username": "x"}),                             # 400
        api.get("/users"),                                                    # 401
        api.get("/users/99", token=admin.token),                              # 404
        api.call("DELETE", "/auth/login"), api.call("HEAD", "/patients"),     # 405, ours and Chalice's
        api.call("OPTIONS", "/patients"),                                     # 204
    ]
    for answer in answers:
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer


def test_logged_in_answers_and_tokens_are_not_stored(api, people):
    admin = people.admin()
    login = api.post("/auth/login", {"username": "admin", "password": "admin-password-1"})
    assert login.status == 200 and login.headers["Cache-Control"] == "no-store"
    for answer in (api.get("/users", token=admin.token), api.get("/users/1", token=admin.token),
                   api.get("/users/99", token=admin.token), api.get("/users", token="forged")):
        assert answer.headers["Cache-Control"] == "no-store", answer
    # The description is the same for everyone: it may be cached.
    assert api.get("/openapi.json").headers["Cache-Control"] == "max-age=300"


def test_the_docs_page_runs_only_its_own_inline_script_and_style(api):
    response = api.client.http.get("/docs")
    page = response.body.decode()
    policy = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'self'" and policy["frame-ancestors"] == "'none'"
    for kind in ("script", "style"):
        inline = re.findall(rf"<{kind}>(.*?)</{kind}>", page, re.S)
        assert len(inline) == 1
        digest = base64.b64encode(hashlib.sha256(inline[0].encode()).digest()).decode()
        assert policy[f"{kind}-src"] == f"'self' 'sha256-{digest}'"
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    # JSON answers carry no policy: there is nothing in them to run.
    assert "Content-Security-Policy" not in api.get("/").headers


def test_a_405_lists_only_the_methods_the_path_has(api):
    for method in ("HEAD", "PUT", "PATCH", "DELETE"):
        response = api.call(method, "/patients")
        assert response.status == 405 and response.headers["Allow"] == "GET, POST", method
    assert api.call("HEAD", "/users/1").headers["Allow"] == "DELETE, GET, PATCH, PUT"
    options = api.call("OPTIONS", "/patients")
    assert options.status == 204 and options.headers["Allow"] == "GET, POST"


@pytest.fixture
def cors(monkeypatch):
    monkeypatch.setenv("DQS_CORS_ORIGINS", f"{DESK}, http://localhost:3000")


def test_a_preflight_from_an_allowed_origin_is_answered(api, cors):
    response = api.call("OPTIONS", "/queues/join_queue", headers={
        "Origin": DESK, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert response.status == 204
    assert response.headers["Access-Control-Allow-Origin"] == DESK
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Authorization, Content-Type"
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert response.headers["Vary"] == "Origin"


def test_answers_to_an_allowed_origin_say_so(api, people, cors):
    admin = people.admin()
    for response in (api.get("/users", token=admin.token, headers={"Origin": DESK}),
                     api.get("/users", headers={"Origin": DESK}),                    # 401
                     api.call("PUT", "/users", headers={"Origin": DESK})):          # 405
        assert response.headers["Access-Control-Allow-Origin"] == DESK, response
        assert "Retry-After" in response.headers["Access-Control-Expose-Headers"]
        assert response.headers["Vary"] == "Origin"


def test_other_origins_get_no_cors_headers(api, people, cors):
    for origin in ("https://evil.example", "https://desk.clinic.example.evil.example", "null"):
        preflight = api.call("OPTIONS", "/users", headers={"Origin": origin, "Access-Control-Request-Method": "GET"})
        answer = api.get("/users", token=people.admin().token, headers={"Origin": origin})
        for response in (preflight, answer):
            assert not any(name.lower().startswith("access-control-") for name in response.headers), response
            assert response.headers["Vary"] == "Origin"


def test_without_configured_origins_there_is_no_cors_at_all(api, monkeypatch):
    monkeypatch.delenv("DQS_CORS_ORIGINS", raising=False)
    response = api.call("OPTIONS", "/users", headers={"Origin": DESK, "Access-Control-Request-Method": "GET"})
    assert response.status == 204
    assert not any(name.lower().startswith("access-control-") for name in response.headers)
    assert "Vary" not in response.headers


def test_the_base_url_names_the_api_and_its_pages(api):
    response = api.get("/")
    assert response.status == 200
    assert response.body == {"name": openapi.TITLE, "version": openapi.VERSION, "docs": "/api/docs",
                             "openapi": "/api/openapi.json", "board": "/api/queues/board/", "display": "/api/display/"}
    operation = openapi.describe()["paths"]["/"]["get"]
    assert operation["x-roles"] == ["anonymous"] and operation["security"] == []
