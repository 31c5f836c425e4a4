"""The local server as `make run` starts it, in a subprocess, with its output collected line by
line: for the benchmark (bench/waiting_room.py) and the tests of the server itself
(tests/support/local_process.py re-exports this)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**overrides: str) -> dict[str, str]:
    """This environment without the project's own settings (the server fills them in), plus overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DQS_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(overrides)
    return env


class LocalServer:
    """`python -m devtools.local_server` with its output collected line by line."""

    def __init__(self, env: dict[str, str], port: int | None = None):
        self.port = port or free_port()
        self.env = dict(env, PORT=str(self.port))
        self.base = f"http://127.0.0.1:{self.port}/api"
        self.lines: list[str] = []
        self.proc = subprocess.Popen([sys.executable, "-m", "devtools.local_server"], cwd=PROJECT_DIR,
                                     env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in iter(self.proc.stdout.readline, ""):
            self.lines.append(line)

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_serving(self, timeout: float = 90) -> LocalServer:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any("Serving" in line for line in self.lines):
                return self
            if self.proc.poll() is not None:
                self._reader.join(5)
                raise AssertionError(f"the server exited with {self.proc.returncode}:\n{self.output}")
            time.sleep(0.05)
        raise AssertionError(f"the server did not start within {timeout} s:\n{self.output}")

    def wait_exit(self, timeout: float = 30) -> int:
        code = self.proc.wait(timeout=timeout)
        self._reader.join(5)
        return code

    def stop(self) -> int:
        """As Ctrl-C or `kill` would: SIGTERM, then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit()

    def kill(self) -> None:
        """kill -9: no chance to clean up."""
        self.proc.kill()
        self.wait_exit()

    def call(self, method: str, path: str, body=None, token: str | None = None, timeout: float = 30):
        return call(method, self.base + path, body, token, timeout)

    def login(self, username: str, password: str) -> str:
        status, body = self.call("POST", "/auth/login/", {"username": username, "password": password})
        assert status == 200, (status, body)
        return body["token"]


def call(method: str, url: str, body=None, token: str | None = None, timeout: float = 30):
    """(status, JSON body) of one request."""
    return request(method, url, body, token, timeout)[:2]


def request(method: str, url: str, body=None, token: str | None = None, timeout: float = 30):
    """(status, JSON body, headers) of one request."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    data = json.dumps(body).encode() if body is not None else None
    sent = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(sent, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null"), response.headers
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null"), error.headers
