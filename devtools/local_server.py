"""`make run`: the API at http://127.0.0.1:PORT/api/ on an embedded DynamoDB.

Starts moto's DynamoDB server in this process (unless DQS_DYNAMODB_ENDPOINT
names another DynamoDB-compatible endpoint), restores its data from the data
folder (`.dqs-data/`, or DQS_DATA_DIR; see devtools.journal), creates the tables
and the first admin, and serves the Chalice app under the `/api` prefix that API
Gateway's stage adds when deployed.
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import signal
import socket
import sys
import threading
from pathlib import Path
from urllib.parse import unquote

from devtools import datadir
from devtools.stage import stage_env

PROJECT_DIR = Path(__file__).resolve().parent.parent
DEFAULT_HTTP_TIMEOUT = 30.0  # seconds a connection may sit idle, or half-sent, before it is closed


class StartupError(Exception):
    """Why the server cannot start, in one line for the person who ran it."""


def _local_environment() -> list[str]:
    """Fill in what a developer's machine lacks; returns notes to print."""
    notes = []
    for key, value in stage_env("dev").items():
        os.environ.setdefault(key, value)
    os.environ.pop("DQS_JWT_SECRET_PARAM", None)
    if not os.environ.get("DQS_DYNAMODB_ENDPOINT"):
        # The embedded DynamoDB accepts any credentials; never send real ones to it.
        for key, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")):
            os.environ[key] = value
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
        os.environ.setdefault("DQS_DYNAMODB_READ_TIMEOUT", "15")  # one request at a time: answers can queue
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return notes


def _local_secret(data: Path) -> list[str]:
    """DQS_JWT_SECRET, or the key kept in the data folder so that tokens outlive a restart."""
    if os.environ.get("DQS_JWT_SECRET"):
        return []
    secret, created = datadir.jwt_secret(data)
    os.environ["DQS_JWT_SECRET"] = secret
    where = datadir.display(data / datadir.SECRET_FILE)
    if created:
        return [f"DQS_JWT_SECRET not set: generated a signing key in {where} (tokens outlive restarts)."]
    return [f"DQS_JWT_SECRET not set: tokens are signed with the key in {where}."]


def _one_request_at_a_time(wsgi_app, journal=None):
    """DynamoDB applies each request atomically; moto's backends take no locks (a
    transaction deep-copies its tables while other threads write them, and fails with
    a 500), so the embedded server handles one request at a time. With a journal,
    each answered write is on disk before its answer leaves (devtools.journal)."""
    import threading

    from devtools.journal import journaling

    return journaling(wsgi_app, journal, threading.Lock())


def start_embedded_dynamodb(data_dir: Path | str | None = None):
    """moto's server on a free loopback port; returns (server, endpoint URL).

    With `data_dir`, the data is restored from its journal first and every answered
    write is journaled there (`server.restored` reports what was restored); without
    it, the data lasts as long as the process.
    """
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server as make_wsgi_server

    from devtools import moto_transactions
    from devtools.journal import Journal
    from devtools.moto_memory import forget_dynamodb_objects

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    forget_dynamodb_objects()
    moto_transactions.install()  # an undo log, not table copies; ClientRequestToken honoured

    backend_app = DomainDispatcherApplication(create_backend_app)
    journal = restored = None
    if data_dir is not None:
        journal = Journal(datadir.ensure(Path(data_dir)), backend_app)
        restored = journal.restore()
    app = _one_request_at_a_time(backend_app, journal)

    class AtomicMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            self._server = make_wsgi_server(self._ip_address, self._port, app, True,
                                            request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

        def stop(self) -> None:
            super().stop()
            if journal is not None:
                journal.close()

    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.journal = journal
    server.restored = restored
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def start_hourly_queue_reset(interval_seconds: float = 3600):
    """What the deployed scheduled function does, for `make run` (which has no scheduler):
    expire what is left of ended days, now and then every hour, on a daemon thread."""
    import logging
    import threading

    from chalicelib.domain import queue

    stop = threading.Event()

    def run() -> None:
        while True:
            try:
                expired = queue.expire_past_days()
                if expired:
                    print(f"Queue reset: {expired} entries of earlier days expired.", flush=True)
            except Exception:  # keep serving; the next hour tries again
                logging.getLogger("dqs").exception("queue reset failed")
            if stop.wait(interval_seconds):
                return

    threading.Thread(target=run, name="queue-reset", daemon=True).start()
    return stop


def bootstrap_admin() -> list[str]:
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


def _decoded(path: str) -> str:
    """The path as API Gateway passes its parameters: each segment decoded (/patients/%C2%B2 is
    '²'), where a / ? or # stays encoded, part of its segment."""
    special = str.maketrans({"/": "%2F", "?": "%3F", "#": "%23"})
    return "/".join(unquote(part).translate(special) for part in path.split("/"))


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


def make_server(host: str, port: int, *, timeout: float | None = None):
    """A threaded HTTP server for the app under /api, answering unknown paths with a JSON 404.

    A connection that sends nothing for `timeout` seconds (default: DQS_HTTP_TIMEOUT, or 30),
    whether idle between requests or stopped halfway through one, is closed.
    """
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalChalice, LocalDevServer, ThreadedHTTPServer

    from app import app

    app.__class__ = LocalChalice  # a current_request per thread, as `chalice local` does
    idle_seconds = http_timeout() if timeout is None else timeout

    def not_found(handler):
        body = json.dumps({"Code": "NotFoundError", "Message": "No such route."}).encode()
        handler._send_http_response(404, {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff"},
                                    body)

    class ApiPrefixHandler(ChaliceRequestHandler):
        def _generic_handle(self):
            path, sep, query = self.path.partition("?")
            if path != "/api" and not path.startswith("/api/"):
                self._parse_payload()  # drain the body so keep-alive stays in step
                return not_found(self)
            self.path = (_decoded(path[len("/api"):]) or "/") + sep + query
            # requestContext.identity.sourceIp is the socket's peer, as API Gateway's is the client's.
            self.local_gateway.event_converter.LOCAL_SOURCE_IP = self.client_address[0]
            return super()._generic_handle()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

        # Headers and body go out as two writes; without this the body waits for the
        # client's delayed ACK (about 40 ms) on every kept-alive connection.
        disable_nagle_algorithm = True

        # socketserver sets this on each connection: every read waits at most this long, so an
        # idle keep-alive connection, or a request whose headers or body stop coming, is closed
        # instead of holding a thread forever.
        timeout = idle_seconds

        def send_response(self, code, message=None):
            """As http.server's, without the `Server: BaseHTTP/... Python/...` banner."""
            self.log_request(code)
            self.send_response_only(code, message)
            self.send_header("Date", self.date_time_string())

        def version_string(self):
            return ""

        def handle_one_request(self):
            try:
                super().handle_one_request()
            except (TimeoutError, ConnectionError):
                # A body that stopped coming (timeout) or a client that went away: nothing to answer.
                self.close_connection = True

        def send_error(self, code, message=None, explain=None):
            """http.server's own errors (a method with no do_X, a malformed request line) as JSON."""
            if code == 501:  # a method http.server has no handler for (TRACE, QUERY, ...): the app's 405, with Allow
                return self._generic_handle()
            else:
                error = "BadRequestError" if 400 <= code < 500 else "InternalServerError"
            body = json.dumps({"Code": error, "Message": message or "Bad request."}).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD" and code >= 200 and code not in (204, 304):
                self.wfile.write(body)

        def _send_error_response(self, error):
            if isinstance(error, ForbiddenError):  # chalice's stand-in for API Gateway's "no route"
                return not_found(self)
            return super()._send_error_response(error)

        def log_message(self, format, *args):  # the app logs each request as JSON already
            pass

    class Server(ThreadedHTTPServer):
        request_queue_size = 128  # many desks and phones connecting at the same instant

        def handle_error(self, request, client_address):
            """A client that went away or stopped sending is not the server's error: no traceback."""
            if isinstance(sys.exc_info()[1], (TimeoutError, ConnectionError)):
                return
            super().handle_error(request, client_address)

    config = Config.create(chalice_stage="dev", app_name=app.app_name, chalice_app=app,
                           project_dir=str(PROJECT_DIR))
    return LocalDevServer(app, config, host, port, handler_cls=ApiPrefixHandler, server_cls=Server)


def _listen(host: str, port_text: str):
    """The HTTP server, bound; StartupError in one line when the port cannot be had."""
    try:
        port = int(port_text)
        if not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise StartupError(f"PORT={port_text!r} is not a port number: pick one like `make run PORT=8001`.") from None
    try:
        return make_server(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"Port {port} on {host} is already in use (another server, or `make run` "
                               "still running?): stop it, or pick another port: make run PORT=8001") from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"Not allowed to listen on port {port} on {host}: "
                               "pick a port above 1023, e.g. make run PORT=8001") from None
        if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
            raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. "
                               "Use HOST=127.0.0.1 (the default).") from None
        raise


def _start(notes: list[str]):
    """Everything before serving: (http server, embedded DynamoDB or None, data lock or None)."""
    host = os.environ.get("HOST", "127.0.0.1")
    server = _listen(host, os.environ.get("PORT", "8000"))  # first: a busy port fails in a second
    embedded = held = None
    try:
        data = datadir.data_dir()
        if not os.environ.get("DQS_DYNAMODB_ENDPOINT"):
            try:
                held = datadir.lock(data)
            except datadir.DataDirBusy:
                raise StartupError(f"Another local server is using the data in {datadir.display(data)}: stop it "
                                   "first, or give this one other data with DQS_DATA_DIR=<folder>.") from None
            notes += _local_secret(data)
            from devtools.journal import JOURNAL_FILE, JournalDamaged

            journal_file = data / JOURNAL_FILE
            if journal_file.exists() and journal_file.stat().st_size > 2_000_000:  # about 5,000 items
                print(f"Restoring the data in {datadir.display(data)}/ "
                      f"({journal_file.stat().st_size / 1e6:.0f} MB)...", flush=True)
            try:
                embedded, endpoint = start_embedded_dynamodb(data)
            except JournalDamaged as exc:
                raise StartupError(str(exc)) from None
            os.environ["DQS_DYNAMODB_ENDPOINT"] = endpoint
            restored = embedded.restored
            kept = f"{restored.items} items in {restored.tables} tables" if restored.tables else "no data yet"
            notes.append(f"Embedded DynamoDB (moto) at {endpoint}, kept in {datadir.display(data)}/: "
                         f"{kept}, restored in {restored.seconds:.1f} s (`make reset-data` empties it).")
            if restored.dropped_tail:
                notes.append("The last journal record was unfinished when the server stopped (its request "
                             "was never answered): dropped.")
            if restored.failed:
                notes.append(f"Warning: {restored.failed} journal records could not be replayed (see above).")
        else:
            notes += _local_secret(data)
            notes.append(f"DynamoDB at {os.environ['DQS_DYNAMODB_ENDPOINT']}.")

        from chalicelib import storage

        storage.bind()
        storage.create_tables()
        notes += bootstrap_admin()
        start_hourly_queue_reset()
        notes += start_waiting_room(host, server.server.server_address[1])
    except BaseException:
        server.server.server_close()
        if embedded:
            embedded.stop()
        raise
    return server, embedded, held


def start_waiting_room(host: str, http_port: int) -> list[str]:
    """The waiting room's WebSocket (DQS_WS_PORT, default PORT+1 or a free one) fed by the entries table's stream,
    as deployed. SIGUSR1 drops every WebSocket client and stops listening, SIGUSR2 listens again
    (screens then poll the board meanwhile: how the tests cut the WebSocket)."""
    from chalicelib.settings import get_settings
    from chalicelib.storage.queue_entries import QueueEntryModel
    from devtools.stream_feed import StreamFeed, board_of, push_boards
    from devtools.websocket import Hub, WebSocketServer

    port_text = os.environ.get("DQS_WS_PORT")
    try:
        port = int(port_text) if port_text else http_port + 1
    except ValueError:
        raise StartupError(f"DQS_WS_PORT={port_text!r} is not a port number.") from None
    hub = Hub(board_of)
    try:
        listener = WebSocketServer(hub, host, port).start()
    except OSError as exc:
        if port_text:
            raise StartupError(f"Cannot listen for the waiting room's WebSocket on {host}:{port}: "
                               f"{exc.strerror or exc}. Pick another with DQS_WS_PORT=<port>.") from None
        listener = WebSocketServer(hub, host, 0).start()  # PORT+1 is taken: any free port (printed)
    url = f"ws://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{listener.port}/"
    os.environ.setdefault("DQS_WEBSOCKET_URL", url)
    notes = [f"Waiting room WebSocket at {url}"]
    notes += _local_messaging()
    settings = get_settings()
    try:
        StreamFeed(settings.dynamodb_endpoint, settings.region, push_boards(hub), QueueEntryModel).start()
        fed = "fed by the entries table's stream"
    except Exception as exc:  # a DynamoDB without streams: the screens still poll the board
        fed = f"NOT fed (the entries table's stream cannot be read: {exc}); screens poll the board"

    def toggle(signum, frame):
        if signum == signal.SIGUSR1 and listener.running:
            threading.Thread(target=listener.stop, daemon=True).start()
        elif signum == signal.SIGUSR2 and not listener.running:
            listener.start()

    signal.signal(signal.SIGUSR1, toggle)
    signal.signal(signal.SIGUSR2, toggle)
    notes[0] += f" ({fed}); screen: http://{host}:{http_port}/api/display/"
    return notes


def _local_messaging() -> list[str]:
    """"Your turn" messages go to the embedded moto's SNS and SES (moto serves them too), each logged
    here; DQS_MESSAGING_ENDPOINT may name another endpoint."""
    import logging

    endpoint = os.environ.setdefault("DQS_MESSAGING_ENDPOINT", os.environ["DQS_DYNAMODB_ENDPOINT"])
    sender = os.environ.setdefault("DQS_EMAIL_SENDER", "queue@clinic.local")
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("Message: %(message)s"))
    messages = logging.getLogger("dqs.messages")
    messages.addHandler(handler)
    messages.setLevel(logging.INFO)
    try:
        import boto3

        boto3.client("ses", endpoint_url=endpoint, region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
                     ).verify_email_identity(EmailAddress=sender)
    except Exception as exc:  # SMS still go; email needs the sender verified
        return [f"Could not verify the email sender {sender} at {endpoint}: {exc}"]
    return [f"Patients' messages go to the SNS and SES of {endpoint} (sender {sender}), each logged here."]


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    # `kill` (SIGTERM) stops the server as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    notes = _local_environment()
    try:
        server, embedded, held = _start(notes)
    except StartupError as exc:
        print(exc, file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    host, port = server.server.server_address[:2]
    for note in notes:
        print(note, flush=True)
    print(f"Serving the Digital Queue System API on http://{host}:{port}/api/ (Ctrl-C to stop)", flush=True)
    try:
        server.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server.server_close()
        if embedded:
            embedded.stop()
        if held:
            held.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
