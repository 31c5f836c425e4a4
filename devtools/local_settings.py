"""What `make run` reads from its environment, and fills in where a developer's machine lacks it:
the dev stage's settings, fake AWS credentials for the embedded DynamoDB, the token-signing key
kept in the data folder, the HTTP idle timeout, and the ports (PORT, DQS_WS_PORT)."""
from __future__ import annotations

import os
import socket
from pathlib import Path

from devtools import datadir
from devtools.stage import stage_env

DEFAULT_HTTP_TIMEOUT = 30.0  # seconds a connection may sit idle, or half-sent, before it is closed
DEFAULT_PORT = 8000


class StartupError(Exception):
    """Why the server cannot start, in one line for the person who ran it."""


def fill_environment() -> None:
    """The dev stage's settings where none are set; fake credentials for the embedded DynamoDB."""
    for key, value in stage_env("dev").items():
        os.environ.setdefault(key, value)
    os.environ.pop("DQS_JWT_SECRET_PARAM", None)
    if not os.environ.get("DQS_DYNAMODB_ENDPOINT"):
        # The embedded DynamoDB accepts any credentials; never send real ones to it.
        for key, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")):
            os.environ[key] = value
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")


def local_secret(data: Path) -> list[str]:
    """DQS_JWT_SECRET, or the key kept in the data folder so that tokens outlive a restart."""
    if os.environ.get("DQS_JWT_SECRET"):
        return []
    secret, created = datadir.jwt_secret(data)
    os.environ["DQS_JWT_SECRET"] = secret
    where = datadir.display(data / datadir.SECRET_FILE)
    if created:
        return [f"DQS_JWT_SECRET not set: generated a signing key in {where} (tokens outlive restarts)."]
    return [f"DQS_JWT_SECRET not set: tokens are signed with the key in {where}."]


def http_timeout() -> float:
    """DQS_HTTP_TIMEOUT: seconds an idle or half-sent connection is kept (default 30)."""
    value = os.environ.get("DQS_HTTP_TIMEOUT") or ""
    try:
        seconds = float(value) if value else DEFAULT_HTTP_TIMEOUT
    except ValueError:
        raise StartupError(f"DQS_HTTP_TIMEOUT={value!r} is not a number of seconds.") from None
    if seconds <= 0:
        raise StartupError(f"DQS_HTTP_TIMEOUT={value!r} must be more than 0 seconds.")
    return seconds


def http_port(text: str) -> int:
    """PORT as a port number; StartupError in one line otherwise."""
    try:
        port = int(text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise StartupError(f"PORT={text!r} is not a port number: pick one like `make run PORT={DEFAULT_PORT}`.") \
            from None
    return port


def websocket_port(http_port: int) -> tuple[int, bool]:
    """(the waiting room's WebSocket port, whether DQS_WS_PORT chose it): DQS_WS_PORT, or PORT+1."""
    text = os.environ.get("DQS_WS_PORT")
    if not text:
        return http_port + 1, False
    try:
        return int(text), True
    except ValueError:
        raise StartupError(f"DQS_WS_PORT={text!r} is not a port number.") from None


def _free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def suggest_port(host: str, start: int) -> int | None:
    """A port to suggest: the first from `start` on (and above 1023) that is free and, unless
    DQS_WS_PORT names the WebSocket's, whose next port (its WebSocket's) is free too."""
    pair = not os.environ.get("DQS_WS_PORT")
    first = max(start, 1024)
    for port in range(first, min(first + 200, 65535)):
        if _free(host, port) and (not pair or _free(host, port + 1)):
            return port
    return None


def port_hint(host: str, start: int) -> str:
    """`make run PORT=<p>` for a port that can be had now, naming the WebSocket's port beside it.
    After a busy PORT, start from PORT+2: PORT+1 is the WebSocket of whatever holds PORT."""
    port = suggest_port(host, start)
    if port is None:
        return "make run PORT=<a free port> (its WebSocket takes the port after it)"
    if os.environ.get("DQS_WS_PORT"):
        return f"make run PORT={port}"
    return f"make run PORT={port} (its WebSocket then takes {port + 1})"
