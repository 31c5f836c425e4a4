"""End to end: the local server as `make run` starts it, over real HTTP under /api."""
from __future__ import annotations

import json
import re
import time

import pytest

from tests.support.local_process import LocalServer, server_env
from tests.support.local_process import request as call


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    server = LocalServer(server_env(DQS_ADMIN_USERNAME="boss", DQS_ADMIN_PASSWORD="boss-password-1",
                                    DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving(60)
    assert any(f"http://127.0.0.1:{server.port}/api/" in line for line in server.lines), server.output
    yield f"http://127.0.0.1:{server.port}", server.lines
    server.stop()


@pytest.mark.parametrize("slash", ["/", ""])
def test_register_login_profile_logout_over_http(served, slash):
    base, _ = served
    name = "walker" + ("slash" if slash else "plain")
    status, user, _ = call("POST", f"{base}/api/register{slash}", {
        "username": name, "email": f"{name}@example.com", "password": "securepassword123",
        "role": "patient", "date_of_birth": "1990-01-15"})
    assert status == 201, user
    status, login, _ = call("POST", f"{base}/api/auth/login{slash}",
                            {"username": name, "password": "securepassword123"})
    assert status == 200 and login["user"]["role"] == "patient"
    token = login["token"]
    status, profile, headers = call("GET", f"{base}/api/users/{user['id']}{slash}", token=token)
    assert status == 200 and profile["username"] == name
    assert headers["Content-Type"] == "application/json"
    assert call("POST", f"{base}/api/auth/logout{slash}", token=token)[0] == 200
    status, body, _ = call("GET", f"{base}/api/users/{user['id']}{slash}", token=token)
    assert status == 401 and body["Code"] == "UnauthorizedError"


def test_admin_from_environment_can_log_in(served):
    base, lines = served
    assert any("'boss' created" in line for line in lines)
    status, login, _ = call("POST", f"{base}/api/auth/login", {"username": "boss", "password": "boss-password-1"})
    assert status == 200 and login["user"]["role"] == "admin"
    status, users, _ = call("GET", f"{base}/api/users/", token=login["token"])
    assert status == 200 and users["results"][0]["username"] == "boss"


def test_unknown_paths_and_methods_are_json_errors(served):
    base, _ = served
    for url in (f"{base}/api/nowhere", f"{base}/nowhere", f"{base}/api/users/1/extra"):
        status, body, _ = call("GET", url)
        assert status == 404 and body["Code"] == "NotFoundError"
    status, body, _ = call("DELETE", f"{base}/api/register/")
    assert status == 405 and body["Code"] == "MethodNotAllowedError"
    # Methods Python's http.server has no handler for answer the same JSON 405, not a 501 page.
    for method in ("TRACE", "QUERY", "BREW"):
        status, body, headers = call(method, f"{base}/api/queues")
        assert status == 405 and body["Code"] == "MethodNotAllowedError", (method, status, body)
        assert headers["Content-Type"] == "application/json"


def test_request_log_is_one_json_line_without_secrets(served):
    base, lines = served

    def profile_reads() -> list[dict]:
        records = [json.loads(line) for line in list(lines) if line.startswith("{")]
        return [r for r in records if r.get("path") == "/users/{user_id}" and r.get("method") == "GET"]

    _, login, _ = call("POST", f"{base}/api/auth/login", {"username": "boss", "password": "boss-password-1"})
    seen = len(profile_reads())
    call("GET", f"{base}/api/users/1", token=login["token"])
    # The line is written after the response is sent: wait for this request's own line.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(profile_reads()) == seen:
        time.sleep(0.05)
    profile = profile_reads()[seen]
    assert set(profile) == {"function", "method", "path", "status", "outcome", "duration_ms", "user_id", "request_id"}
    assert profile["status"] == 200 and profile["user_id"] == 1 and profile["duration_ms"] >= 0
    assert profile["function"] == "api" and profile["outcome"] == "ok"
    text = "".join(lines)
    assert "boss-password-1" not in text and login["token"] not in text


def test_generated_admin_credentials_are_printed_when_none_are_set(tmp_path):
    server = LocalServer(server_env(DQS_DATA_DIR=str(tmp_path)))
    try:
        server.wait_serving(60)
        match = re.search(r"username 'admin', password '([^']+)'", server.output)
        assert match, server.output
        status, login, _ = call("POST", f"{server.base}/auth/login", {"username": "admin", "password": match[1]})
        assert status == 200 and login["user"]["role"] == "admin"
    finally:
        server.stop()
