"""`make run`'s DynamoDB: moto's server in this process, on a loopback port, one request at a time,
its data kept in the data folder by the journal (devtools.journal) across restarts and crashes.

`start_embedded_dynamodb` is the engine alone (the tests and the benchmark start it too);
`open_data` is what `make run` does around it: hold the data folder, restore, say what it found.

Other local processes cannot use it (issue 23): every request must name the server's access key
(the AWS access key id its own clients sign with; `make run` draws a random one per run and puts
it in this process's environment only), or send it as `X-Dqs-Engine-Key`; anything else gets 403.
moto's dashboard and other `/moto-api/` paths are never served, except `/moto-api/reset`, with the key.
"""
from __future__ import annotations

import hmac
import json
import os
import re
import secrets
import threading
from pathlib import Path

from devtools import datadir
from devtools.local_settings import StartupError

RESTORE_NOTICE_BYTES = 2_000_000  # a journal this large (about 5,000 items) takes a moment: say so


def _one_request_at_a_time(wsgi_app, journal=None):
    """DynamoDB applies each request atomically; moto's backends take no locks (a
    transaction deep-copies its tables while other threads write them, and fails with
    a 500), so the embedded server handles one request at a time. With a journal,
    each answered write is on disk before its answer leaves (devtools.journal)."""
    from devtools.journal import journaling

    return journaling(wsgi_app, journal, threading.Lock())


_CREDENTIAL = r"Credential=([^/,\s]+)/"
_REFUSED = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
                       "message": "This local DynamoDB answers only the server that started it."}).encode()


def _gate(wsgi_app, access_key: str):
    """Only requests that carry `access_key` (as the access key id of their signature, or in
    X-Dqs-Engine-Key) reach the engine; no /moto-api/ path but the reset is served at all."""
    expected = access_key.encode()

    def gated(environ, start_response):
        path = environ.get("PATH_INFO") or ""
        found = re.search(_CREDENTIAL, environ.get("HTTP_AUTHORIZATION") or "")
        given = (environ.get("HTTP_X_DQS_ENGINE_KEY") or (found.group(1) if found else "")).encode()
        allowed = hmac.compare_digest(given, expected) and (
            not path.startswith("/moto-api") or path.rstrip("/") == "/moto-api/reset")
        if not allowed:
            start_response("403 Forbidden", [("Content-Type", "application/x-amz-json-1.0"),
                                             ("Content-Length", str(len(_REFUSED)))])
            return [_REFUSED]
        return wsgi_app(environ, start_response)

    return gated


class EmbeddedDynamoDB:
    """moto's WSGI app behind werkzeug's threaded server, as moto's own ThreadedMotoServer
    serves it, with the app wrapped (one request at a time, journaled) and the journal closed on stop."""

    def __init__(self, app, journal=None, restored=None, host: str = "127.0.0.1", port: int = 0):
        from moto.moto_server.werkzeug_app import MotoRequestHandler
        from werkzeug.serving import make_server

        self.journal = journal
        self.restored = restored
        self.access_key: str | None = None  # the key requests must carry (start_embedded_dynamodb sets it)
        self._server = make_server(host, port, app, threaded=True, request_handler=MotoRequestHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="embedded-dynamodb", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> EmbeddedDynamoDB:
        self._thread.start()
        return self

    def client(self, region: str = "us-east-1"):
        """A DynamoDB client of this server, signed with the key it answers."""
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=self.access_key, aws_secret_access_key=self.access_key)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        if self.journal is not None:
            self.journal.close()


def start_embedded_dynamodb(data_dir: Path | str | None = None, access_key: str | None = None):
    """moto's server on a free loopback port; returns (server, endpoint URL).

    Only requests carrying `access_key` are served (default: this process's AWS_ACCESS_KEY_ID,
    which its own clients sign with; `server.access_key` says which).

    With `data_dir`, the data is restored from its journal first and every answered
    write is journaled there (`server.restored` reports what was restored); without
    it, the data lasts as long as the process.
    """
    import logging

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    from devtools import moto_transactions, overrides
    from devtools.journal import Journal
    from devtools.moto_memory import forget_dynamodb_objects

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    forget_dynamodb_objects()
    moto_transactions.install()  # transactions undone item by item, ClientRequestToken honoured
    overrides.fast_dynamodb_results()  # item operations answered without moto's per-value walk

    backend_app = DomainDispatcherApplication(create_backend_app)
    journal = restored = None
    if data_dir is not None:
        journal = Journal(datadir.ensure(Path(data_dir)), backend_app)
        restored = journal.restore()
    key = access_key or os.environ.get("AWS_ACCESS_KEY_ID") or new_access_key()
    server = EmbeddedDynamoDB(_gate(_one_request_at_a_time(backend_app, journal), key), journal, restored).start()
    server.access_key = key
    return server, server.endpoint


def new_access_key() -> str:
    """A random access key for one run of the local server: what other local processes cannot guess."""
    return "LOCAL" + secrets.token_hex(16).upper()


def open_data(data: Path) -> tuple[EmbeddedDynamoDB, str, list[str]]:
    """`make run`'s embedded DynamoDB on the data folder, which must be held already
    (datadir.lock): (server, endpoint, notes to print). StartupError on a damaged journal."""
    from devtools.journal import JOURNAL_FILE, JournalDamaged

    journal_file = data / JOURNAL_FILE
    if journal_file.exists() and journal_file.stat().st_size > RESTORE_NOTICE_BYTES:
        print(f"Restoring the data in {datadir.display(data)}/ "
              f"({journal_file.stat().st_size / 1e6:.0f} MB)...", flush=True)
    # This process's clients (the app's, the stream feed's, messaging's) sign with a key drawn for
    # this run: the engine serves nobody else.
    os.environ["AWS_ACCESS_KEY_ID"] = new_access_key()
    os.environ["AWS_SECRET_ACCESS_KEY"] = secrets.token_hex(20)
    try:
        embedded, endpoint = start_embedded_dynamodb(data, os.environ["AWS_ACCESS_KEY_ID"])
    except JournalDamaged as exc:
        raise StartupError(str(exc)) from None
    restored = embedded.restored
    kept = f"{restored.items} items in {restored.tables} tables" if restored.tables else "no data yet"
    notes = [f"Embedded DynamoDB (moto) at {endpoint}, kept in {datadir.display(data)}/: "
             f"{kept}, restored in {restored.seconds:.1f} s (`make reset-data` empties it)."]
    if restored.dropped_tail:
        notes.append("The last journal record was unfinished when the server stopped (its request "
                     "was never answered): dropped.")
    if restored.failed:
        notes.append(f"Warning: {restored.failed} journal records could not be replayed (see above).")
    return embedded, endpoint, notes
