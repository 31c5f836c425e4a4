"""`make run`: the API at http://127.0.0.1:PORT/api/ on an embedded DynamoDB.

Startup, in order, each job in a module of its own:
  devtools.local_settings     the dev stage's settings, fake credentials, the signing key, ports;
  devtools.http_server        the app under /api, bound first (a busy port fails in a second);
  devtools.embedded_dynamodb  moto's DynamoDB in this process (unless DQS_DYNAMODB_ENDPOINT names
                              another), its data restored from the data folder (`.dqs-data/`, or
                              DQS_DATA_DIR; devtools.journal);
  here                        the tables and the first admin;
  devtools.queue_reset        the hourly reset the deployed scheduler runs;
  devtools.messaging          "your turn" messages to the embedded SNS and SES, logged;
  devtools.waiting_room       the WebSocket (devtools.websocket) fed by the entries table's stream.
Then it serves until Ctrl-C or SIGTERM.
"""
from __future__ import annotations

import os
import secrets
import signal
import sys
from pathlib import Path

from devtools import datadir
from devtools.embedded_dynamodb import start_embedded_dynamodb
from devtools.http_server import make_server
from devtools.local_settings import DEFAULT_HTTP_TIMEOUT, StartupError, http_timeout
from devtools.queue_reset import start_hourly_queue_reset

PROJECT_DIR = Path(__file__).resolve().parent.parent

# Where the tests and the benchmark have always found them.
__all__ = ["DEFAULT_HTTP_TIMEOUT", "StartupError", "bootstrap_admin", "http_timeout", "main", "make_server",
           "start_embedded_dynamodb", "start_hourly_queue_reset"]


def bootstrap_admin() -> list[str]:
    """The first admin account: DQS_ADMIN_USERNAME / DQS_ADMIN_PASSWORD, or a generated password."""
    from chalicelib.domain import accounts

    username = os.environ.get("DQS_ADMIN_USERNAME") or "admin"
    password = os.environ.get("DQS_ADMIN_PASSWORD")
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    email = os.environ.get("DQS_ADMIN_EMAIL") or f"{username}@clinic.local"
    _, created = accounts.ensure_admin(username, email, password)
    if not created:
        return [f"Admin account {username!r} already exists."]
    if generated:
        return [f"Admin account created: username {username!r}, password {password!r} "
                "(set DQS_ADMIN_USERNAME / DQS_ADMIN_PASSWORD to choose them)."]
    return [f"Admin account {username!r} created from DQS_ADMIN_USERNAME / DQS_ADMIN_PASSWORD."]


class Started:
    """What runs once startup is done, and how it all stops."""

    def __init__(self, server):
        self.server = server  # the HTTP server (chalice's LocalDevServer; .server is the socketserver)
        self.embedded = None  # the embedded DynamoDB, unless DQS_DYNAMODB_ENDPOINT names another
        self.held = None  # the data folder's lock
        self.websocket = None  # the waiting room's WebSocket listener

    def stop(self) -> None:
        self.server.server.server_close()
        if self.websocket is not None:
            self.websocket.stop()  # its connection threads would keep the process alive
        if self.embedded is not None:
            self.embedded.stop()
        if self.held is not None:
            self.held.close()


def _start(notes: list[str]) -> Started:
    """Everything before serving; on any failure, what was started is stopped again."""
    from devtools.embedded_dynamodb import open_data
    from devtools.http_server import listen
    from devtools.local_settings import local_secret
    from devtools.messaging import local_messaging
    from devtools.waiting_room import start_waiting_room

    host = os.environ.get("HOST", "127.0.0.1")
    started = Started(listen(host, os.environ.get("PORT", "8000")))  # first: a busy port fails in a second
    try:
        data = datadir.data_dir()
        if not os.environ.get("DQS_DYNAMODB_ENDPOINT"):
            try:
                started.held = datadir.lock(data)
            except datadir.DataDirBusy:
                raise StartupError(f"Another local server is using the data in {datadir.display(data)}: stop it "
                                   "first, or give this one other data with DQS_DATA_DIR=<folder>.") from None
            notes += local_secret(data)
            started.embedded, endpoint, restored = open_data(data)
            os.environ["DQS_DYNAMODB_ENDPOINT"] = endpoint
            notes += restored
        else:
            notes += local_secret(data)
            notes.append(f"DynamoDB at {os.environ['DQS_DYNAMODB_ENDPOINT']}.")

        from chalicelib import storage

        storage.bind()
        storage.create_tables()
        notes += bootstrap_admin()
        start_hourly_queue_reset()
        messages = local_messaging()  # before the stream feed starts sending them
        started.websocket, live = start_waiting_room(host, started.server.server.server_address[1])
        notes += live + messages
        from devtools.webhooks import start_local_webhooks

        notes += start_local_webhooks()
    except BaseException:
        started.stop()
        raise
    return started


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    from devtools.local_settings import fill_environment

    sys.path.insert(0, str(PROJECT_DIR))
    # `kill` (SIGTERM) stops the server as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    fill_environment()
    notes: list[str] = []
    try:
        started = _start(notes)
    except StartupError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    host, port = started.server.server.server_address[:2]
    for note in notes:
        print(note, flush=True)
    print(f"Serving the Digital Queue System API on http://{host}:{port}/api/ (Ctrl-C to stop)", flush=True)
    try:
        started.server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        started.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
