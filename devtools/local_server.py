"""`make run`: the API at http://127.0.0.1:PORT/api/ on an embedded DynamoDB.

Starts moto's DynamoDB server in this process (unless DQS_DYNAMODB_ENDPOINT
names another DynamoDB-compatible endpoint), creates the tables and the first
admin, and serves the Chalice app under the `/api` prefix that API Gateway's
stage adds when deployed.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from urllib.parse import unquote

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _local_environment() -> list[str]:
    """Fill in what a developer's machine lacks; returns notes to print."""
    notes = []
    stage_env = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())["stages"]["dev"].get(
        "environment_variables", {})
    for key, value in stage_env.items():
        os.environ.setdefault(key, value)
    os.environ.pop("DQS_JWT_SECRET_PARAM", None)
    if not os.environ.get("DQS_JWT_SECRET"):
        os.environ["DQS_JWT_SECRET"] = secrets.token_urlsafe(48)
        notes.append("DQS_JWT_SECRET not set: generated one for this run (tokens end when the server stops).")
    if not os.environ.get("DQS_DYNAMODB_ENDPOINT"):
        # The embedded DynamoDB accepts any credentials; never send real ones to it.
        for key, value in (("AWS_ACCESS_KEY_ID", "local"), ("AWS_SECRET_ACCESS_KEY", "local")):
            os.environ[key] = value
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return notes


def _one_request_at_a_time(wsgi_app):
    """DynamoDB applies each request atomically; moto's backends take no locks (a
    transaction deep-copies its tables while other threads write them, and fails with
    a 500), so the embedded server handles one request at a time."""
    import threading

    lock = threading.Lock()

    def app(environ, start_response):
        with lock:
            return list(wsgi_app(environ, start_response))

    return app


def start_embedded_dynamodb():
    """moto's server on a free loopback port; returns (server, endpoint URL)."""
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server as make_wsgi_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)

    class AtomicMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = _one_request_at_a_time(DomainDispatcherApplication(create_backend_app))
            self._server = make_wsgi_server(self._ip_address, self._port, app, True,
                                            request_handler=MotoRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    server = AtomicMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
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


def make_server(host: str, port: int):
    """A threaded HTTP server for the app under /api, answering unknown paths with a JSON 404."""
    from chalice.config import Config
    from chalice.local import ChaliceRequestHandler, ForbiddenError, LocalChalice, LocalDevServer, ThreadedHTTPServer

    from app import app

    app.__class__ = LocalChalice  # a current_request per thread, as `chalice local` does

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
            return super()._generic_handle()

        do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle

        # Headers and body go out as two writes; without this the body waits for the
        # client's delayed ACK (about 40 ms) on every kept-alive connection.
        disable_nagle_algorithm = True

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

    config = Config.create(chalice_stage="dev", app_name=app.app_name, chalice_app=app,
                           project_dir=str(PROJECT_DIR))
    return LocalDevServer(app, config, host, port, handler_cls=ApiPrefixHandler, server_cls=Server)


def main() -> int:
    sys.path.insert(0, str(PROJECT_DIR))
    notes = _local_environment()
    embedded = None
    if not os.environ.get("DQS_DYNAMODB_ENDPOINT"):
        embedded, endpoint = start_embedded_dynamodb()
        os.environ["DQS_DYNAMODB_ENDPOINT"] = endpoint
        notes.append(f"Embedded DynamoDB (moto) at {endpoint}; its data lasts until the server stops.")
    else:
        notes.append(f"DynamoDB at {os.environ['DQS_DYNAMODB_ENDPOINT']}.")

    from chalicelib import storage

    storage.bind()
    storage.create_tables()
    notes += bootstrap_admin()
    start_hourly_queue_reset()

    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    server = make_server(host, port)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
