"""`make run`'s HTTP server: the Chalice app under the `/api` prefix that API Gateway's stage adds
when deployed, on chalice's LocalGateway (routing, CORS preflights, authorizers, the Lambda event)
behind a threaded http.server handler of this module's own.

Every other path answers a JSON 404, as do chalice's "no route" answers (API Gateway's own
MISSING_AUTHENTICATION_TOKEN, mapped to a 404 when deployed). http.server's own errors are JSON too.
A connection that sends nothing for DQS_HTTP_TIMEOUT seconds is closed; there is no Server banner.
"""
from __future__ import annotations

import base64
import errno
import json
import re
import socket
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

from devtools.local_settings import DEFAULT_PORT, StartupError, http_port, http_timeout, port_hint

PROJECT_DIR = Path(__file__).resolve().parent.parent
PREFIX = "/api"
_NOT_FOUND = json.dumps({"Code": "NotFoundError", "Message": "No such route."}).encode()
# The server's own answers (a 404 outside the app's routes, an error of http.server) are never
# stored by a cache: a logged-in caller may be asking.
_JSON = {"Content-Type": "application/json", "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def _decoded(path: str) -> str:
    """The path as API Gateway passes its parameters: each segment decoded (/patients/%C2%B2 is
    '²'), where a / ? or # stays encoded, part of its segment."""
    special = str.maketrans({"/": "%2F", "?": "%3F", "#": "%23"})
    return "/".join(unquote(part).translate(special) for part in path.split("/"))


class ApiHandler(BaseHTTPRequestHandler):
    """One connection: each request under /api goes to chalice's LocalGateway, as API Gateway's would."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as two writes; without this the body waits for the
    # client's delayed ACK (about 40 ms) on every kept-alive connection.
    disable_nagle_algorithm = True
    # socketserver sets this on each connection: every read waits at most this long, so an
    # idle keep-alive connection, or a request whose headers or body stop coming, is closed
    # instead of holding a thread forever. make_server sets it from DQS_HTTP_TIMEOUT.
    timeout = None

    def __init__(self, request, client_address, server, *, app_object, config):
        from chalice.local import LocalGateway

        self.gateway = LocalGateway(app_object, config)
        super().__init__(request, client_address, server)

    def handle_api(self) -> None:
        from chalice.local import ForbiddenError, LocalGatewayException

        from devtools.overrides import set_source_ip

        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return self.send_error(400, "Content-Length is not a number.")
        body = self.rfile.read(length) if length > 0 else None  # read even when unrouted: keep-alive stays in step
        path, sep, query = self.path.partition("?")
        if path != PREFIX and not path.startswith(PREFIX + "/"):
            return self.reply(404, _JSON, _NOT_FOUND)
        # requestContext.identity.sourceIp is the socket's peer, as API Gateway's is the client's.
        set_source_ip(self.gateway, self.client_address[0])
        # Repeated slashes route as one, as API Gateway does (chalice would read `//x` as a host).
        routed = re.sub("/{2,}", "/", _decoded(path[len(PREFIX):])) or "/"
        try:
            response = self.gateway.handle_request(method=self.command, headers=dict(self.headers), body=body,
                                                   path=routed + sep + query)
        except ForbiddenError:  # chalice's stand-in for API Gateway's "no route"
            return self.reply(404, _JSON, _NOT_FOUND)
        except LocalGatewayException as error:
            return self.reply(error.CODE, dict(error.headers), error.body)
        content = response["body"]
        if response.get("isBase64Encoded"):
            content = base64.b64decode(content)
        self.reply(response["statusCode"], {**response["headers"], **response["multiValueHeaders"]}, content)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = handle_api

    def reply(self, status: int, headers: dict, body: str | bytes | None) -> None:
        """The answer as chalice's local server writes it (a body's type defaults to JSON; a header
        with a list of values is sent once per value), without a body for HEAD."""
        headers = dict(headers)
        data = body.encode() if isinstance(body, str) else (body or b"")
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        if body is not None:
            self.send_header("Content-Type", headers.pop("Content-Type", "application/json"))
        for name, value in headers.items():
            for one in value if isinstance(value, list) else [value]:
                self.send_header(name, one)
        self.end_headers()
        if data and self.command != "HEAD":
            self.wfile.write(data)

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

    def parse_request(self) -> bool:
        """As http.server's, refusing HTTP/0.9's request line with no version (`GET /path`), whose
        answers http.server writes with no status line or headers: a 400 like any malformed line."""
        if not super().parse_request():
            return False
        if self.request_version == "HTTP/0.9":
            self.send_error(400, "Bad request line: no HTTP version.")
            return False
        return True

    def send_error(self, code, message=None, explain=None):
        """http.server's own errors (a method with no do_X, a malformed request line) as JSON, always with
        a status line and the usual headers (http.server writes none for a line it read as HTTP/0.9)."""
        if code == 501 and self.request_version != "HTTP/0.9" and self.command:
            # A method http.server has no handler for (TRACE, QUERY, ...): the app's 405, with Allow.
            return self.handle_api()
        self.request_version = "HTTP/1.1"  # whatever the line said: a proper status line and headers
        self.close_connection = True
        error = "BadRequestError" if 400 <= code < 500 else "InternalServerError"
        body = json.dumps({"Code": error, "Message": message or "Bad request."}).encode()
        self.send_response(code)
        for name, value in _JSON.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and code >= 200 and code not in (204, 304):
            self.wfile.write(body)

    def log_message(self, format, *args):  # the app logs each request as JSON already
        pass


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # many desks and phones connecting at the same instant

    def handle_error(self, request, client_address):
        """A client that went away or stopped sending is not the server's error: no traceback."""
        if isinstance(sys.exc_info()[1], (TimeoutError, ConnectionError)):
            return
        super().handle_error(request, client_address)


def make_server(host: str, port: int, *, timeout: float | None = None):
    """The app under /api on a threaded HTTP server, bound (chalice's LocalDevServer: `.server` is
    the socketserver). A connection that sends nothing for `timeout` seconds (default:
    DQS_HTTP_TIMEOUT, or 30), whether idle between requests or stopped halfway through one, is closed.
    """
    from chalice.config import Config
    from chalice.local import LocalDevServer

    from app import app
    from devtools.overrides import thread_local_requests

    thread_local_requests(app)
    handler = type("ApiHandler", (ApiHandler,), {"timeout": http_timeout() if timeout is None else timeout})
    config = Config.create(chalice_stage="dev", app_name=app.app_name, chalice_app=app,
                           project_dir=str(PROJECT_DIR))
    return LocalDevServer(app, config, host, port, handler_cls=handler, server_cls=Server)


def listen(host: str, port_text: str):
    """make_server on PORT; StartupError in one line when the port cannot be had."""
    port = http_port(port_text)
    try:
        return make_server(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise StartupError(f"Port {port} on {host} is already in use (another server, or `make run` "
                               f"still running?): stop it, or pick another port: {port_hint(host, port + 2)}") \
                from None
        if exc.errno == errno.EACCES:
            raise StartupError(f"Not allowed to listen on port {port} on {host}: "
                               f"pick a port above 1023, e.g. {port_hint(host, DEFAULT_PORT)}") from None
        if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
            raise StartupError(f"Cannot listen on {host}:{port}: {exc.strerror or exc}. "
                               "Use HOST=127.0.0.1 (the default).") from None
        raise
