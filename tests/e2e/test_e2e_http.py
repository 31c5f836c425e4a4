"""End to end: the local server as `make run` starts it, over real HTTP under /api."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQS_")}
    env.update({"PORT": str(port), "DQS_ADMIN_USERNAME": "boss", "DQS_ADMIN_PASSWORD": "boss-password-1",
                "PYTHONUNBUFFERED": "1", "DQS_DATA_DIR": str(tmp_path_factory.mktemp("data"))})
    proc = subprocess.Popen([sys.executable, "-m", "devtools.local_server"], cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(proc.stdout.readline, "")), daemon=True)
    reader.start()
    deadline = time.monotonic() + 60
    while not any("Serving" in line for line in lines) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert any(f"http://127.0.0.1:{port}/api/" in line for line in lines), "".join(lines)
    yield f"http://127.0.0.1:{port}", lines
    proc.terminate()
    proc.wait(timeout=10)


def call(method, url, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers


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
        return [r for r in records if r["path"] == "/users/{user_id}" and r["method"] == "GET"]

    _, login, _ = call("POST", f"{base}/api/auth/login", {"username": "boss", "password": "boss-password-1"})
    seen = len(profile_reads())
    call("GET", f"{base}/api/users/1", token=login["token"])
    # The line is written after the response is sent: wait for this request's own line.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(profile_reads()) == seen:
        time.sleep(0.05)
    profile = profile_reads()[seen]
    assert set(profile) == {"method", "path", "status", "duration_ms", "user_id", "request_id"}
    assert profile["status"] == 200 and profile["user_id"] == 1 and profile["duration_ms"] >= 0
    text = "".join(lines)
    assert "boss-password-1" not in text and login["token"] not in text


def test_generated_admin_credentials_are_printed_when_none_are_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQS_")}
    env.update({"PORT": str(_free_port()), "PYTHONUNBUFFERED": "1", "DQS_DATA_DIR": str(tmp_path)})
    proc = subprocess.Popen([sys.executable, "-m", "devtools.local_server"], cwd=PROJECT_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        output = ""
        deadline = time.monotonic() + 60
        while "Serving" not in output and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
        match = re.search(r"username 'admin', password '([^']+)'", output)
        assert match, output
        base = f"http://127.0.0.1:{env['PORT']}"
        status, login, _ = call("POST", f"{base}/api/auth/login", {"username": "admin", "password": match[1]})
        assert status == 200 and login["user"]["role"] == "admin"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
