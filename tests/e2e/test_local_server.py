"""The local server (`make run`) as a server: its data survives a restart and a kill -9,
a busy port is one line, idle and half-sent connections are closed, no banner."""
from __future__ import annotations

import http.client
import json
import os
import re
import socket
import stat
import threading
import time
import urllib.error

import pytest

from tests.support.local_process import LocalServer, server_env

ADMIN = ("admin", "admin-password-1")


def start(data_dir, **env) -> LocalServer:
    return LocalServer(server_env(DQS_DATA_DIR=str(data_dir), DQS_ADMIN_PASSWORD=ADMIN[1], **env)).wait_serving()


def register(server: LocalServer, name: str) -> dict:
    status, user = server.call("POST", "/register/", {
        "username": name, "email": f"{name}@example.com", "password": f"{name}-password",
        "role": "patient", "date_of_birth": "1990-01-15"})
    assert status == 201, user
    return user


# -- keeping data --------------------------------------------------------------------

def test_data_and_tokens_survive_a_restart(tmp_path):
    data = tmp_path / "data"
    server = start(data)
    try:
        assert "Admin account 'admin' created" in server.output
        admin = server.login(*ADMIN)
        ann = register(server, "ann")
        token = server.login("ann", "ann-password")
        status, entry = server.call("POST", "/queues/join_queue/", token=token)
        assert status == 201 and entry["token_number"] == 1, entry
        status, department = server.call("POST", "/departments/", {"name": "Cardiology"}, token=admin)
        assert status == 201, department

        # A second server on the same data is refused in one line, and leaves the first alone.
        other = LocalServer(server_env(DQS_DATA_DIR=str(data)))
        assert other.wait_exit() == 1
        assert "Another local server is using the data" in other.output
        assert "Traceback" not in other.output
    finally:
        assert server.stop() == 0

    # The signing key is kept for the owner's eyes only.
    assert stat.S_IMODE(os.stat(data / "jwt-secret").st_mode) == 0o600

    server = start(data)
    try:
        assert "Admin account 'admin' already exists" in server.output
        assert "restored" in server.output
        # Tokens from before the restart still work (the key is kept), and so does everything written.
        status, me = server.call("GET", f"/users/{ann['id']}/", token=token)
        assert status == 200 and me["username"] == "ann", me
        status, again = server.call("GET", f"/queues/{entry['id']}/", token=token)
        assert status == 200 and again["token_number"] == 1 and again["status"] == "waiting", again
        status, departments = server.call("GET", "/departments/", token=token)
        assert [d["name"] for d in departments["results"]] == ["Cardiology"]
        # Counters carried on: the next user and the next token get new numbers.
        bob = register(server, "bob")
        assert bob["id"] == ann["id"] + 1
        status, second = server.call("POST", "/queues/join_queue/", token=server.login("bob", "bob-password"))
        assert status == 201 and second["token_number"] == 2, second
    finally:
        assert server.stop() == 0


def test_every_answered_write_survives_kill_9(tmp_path):
    """Under concurrent writes, kill -9 the server; after a restart every write that was
    answered 2xx is there, and the counters never hand out a number twice."""
    data = tmp_path / "data"
    server = start(data)
    admin = server.login(*ADMIN)
    answered: list[tuple[str, dict]] = []
    stop = threading.Event()

    def worker(n: int) -> None:
        for i in range(500):
            if stop.is_set():
                return
            try:
                if n == 0:  # accounts: a user, its patient record, two uniqueness claims
                    status, body = server.call("POST", "/register/", {
                        "username": f"load{i}", "email": f"load{i}@example.com", "password": "load-password-1",
                        "role": "patient", "date_of_birth": "1990-01-15"}, timeout=10)
                    if status == 201:
                        answered.append(("user", body))
                    continue
                status, patient = server.call("POST", "/patients/", {"name": f"Walk-in {n}-{i}"}, token=admin,
                                              timeout=10)
                if status != 201:
                    continue
                answered.append(("patient", patient))
                status, entry = server.call("POST", "/queues/join_queue/", {"patient_id": patient["id"]},
                                            token=admin, timeout=10)
                if status == 201:
                    answered.append(("entry", entry))
            except (OSError, urllib.error.URLError, http.client.HTTPException, json.JSONDecodeError):
                if server.proc.poll() is not None:
                    return  # killed: whatever was not answered may or may not have been kept

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(answered) < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    server.kill()  # mid-load: the workers are still sending
    stop.set()
    for thread in threads:
        thread.join(30)
    assert len(answered) >= 60, "the load never got going"

    server = start(data)
    try:
        admin = server.login(*ADMIN)
        tokens = set()
        for kind, record in answered:
            if kind == "user":
                status, user = server.call("GET", f"/users/{record['id']}/", token=admin)
                assert status == 200 and user["username"] == record["username"], (record, user)
            elif kind == "patient":
                status, patient = server.call("GET", f"/patients/{record['id']}/", token=admin)
                assert status == 200 and patient["name"] == record["name"], (record, patient)
            else:
                status, entry = server.call("GET", f"/queues/{record['id']}/", token=admin)
                assert status == 200, (record, entry)
                assert (entry["token_number"], entry["patient"]) == (record["token_number"], record["patient"])
                tokens.add(record["token_number"])
        # The day's token counter came back at least as far as every answered join.
        status, patient = server.call("POST", "/patients/", {"name": "After the crash"}, token=admin)
        status, entry = server.call("POST", "/queues/join_queue/", {"patient_id": patient["id"]}, token=admin)
        assert status == 201 and entry["token_number"] > max(tokens, default=0), entry
    finally:
        server.stop()


def test_journal_drops_a_torn_last_record_and_refuses_a_damaged_one(tmp_path):
    """In-process, on moto's server: what a crash mid-append leaves is dropped, and only that."""
    import boto3
    from moto.moto_api._internal import moto_api_backend

    from devtools.journal import JournalDamaged
    from devtools.local_server import start_embedded_dynamodb

    def client(endpoint):
        return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="local")

    moto_api_backend.reset()
    server, endpoint = start_embedded_dynamodb(tmp_path)
    try:
        db = client(endpoint)
        db.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}])
        for key in ("a", "b", "c"):
            db.put_item(TableName="t", Item={"k": {"S": key}, "n": {"N": "1"}})
        db.update_item(TableName="t", Key={"k": {"S": "a"}}, UpdateExpression="ADD n :one",
                       ExpressionAttributeValues={":one": {"N": "1"}})
        journal = tmp_path / "dynamodb.journal"
        size = journal.stat().st_size
        # Reads, and writes DynamoDB refused, are not journaled.
        db.get_item(TableName="t", Key={"k": {"S": "a"}})
        db.scan(TableName="t")
        with pytest.raises(db.exceptions.ConditionalCheckFailedException):
            db.put_item(TableName="t", Item={"k": {"S": "a"}}, ConditionExpression="attribute_not_exists(k)")
        assert journal.stat().st_size == size
    finally:
        server.stop()

    with open(journal, "ab") as out:  # the process died halfway through a record
        out.write(b'0badc0de {"op":"DeleteItem","region":"us-east-1","body":{"TableName":"t","Ke')
    moto_api_backend.reset()
    server, endpoint = start_embedded_dynamodb(tmp_path)
    try:
        assert server.restored.dropped_tail and server.restored.items == 3 and server.restored.failed == 0
        item = client(endpoint).get_item(TableName="t", Key={"k": {"S": "a"}})["Item"]
        assert item["n"] == {"N": "2"}
    finally:
        server.stop()

    lines = journal.read_bytes().splitlines(keepends=True)
    lines[0] = lines[0].replace(b'"t"', b'"u"')  # changed by something else: the CRC no longer matches
    journal.write_bytes(b"".join(lines))
    moto_api_backend.reset()
    with pytest.raises(JournalDamaged, match="record 1 of"):
        start_embedded_dynamodb(tmp_path)
    moto_api_backend.reset()


def test_reset_data_removes_the_data_unless_a_server_holds_it(tmp_path, monkeypatch):
    from devtools import datadir

    data = tmp_path / "data"
    monkeypatch.setenv("DQS_DATA_DIR", str(data))
    assert datadir.main(["reset"]) == 0  # nothing there yet
    held = datadir.lock(data)
    datadir.jwt_secret(data)
    (data / "dynamodb.journal").write_bytes(b"")
    assert datadir.main(["reset"]) == 1 and data.exists()
    held.close()
    assert datadir.main(["reset"]) == 0 and not data.exists()


# -- behaving like a server --------------------------------------------------------------

def taken_ports(*offsets: int) -> tuple[int, list[socket.socket]]:
    """A base port with each of base+offset listened on here (the caller closes them)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + max(offsets) + 2 > 65535:
            continue
        held = []
        try:
            for offset in offsets:
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", base + offset))
                sock.listen()
        except OSError:
            for sock in held:
                sock.close()
            continue
        return base, held
    raise AssertionError("no run of free ports found")


def suggested_port(line: str) -> int:
    return int(re.search(r"make run PORT=(\d+)", line).group(1))


def test_busy_port_is_one_line_and_a_failure_and_the_hint_names_no_websocket_port(tmp_path):
    # As when `make run` already runs on `port`: its WebSocket holds port+1. Also port+3 is taken,
    # so port+2 (whose WebSocket would need port+3) is no answer either.
    port, held = taken_ports(0, 1, 3)
    try:
        server = LocalServer(server_env(DQS_DATA_DIR=str(tmp_path / "data")), port=port)
        assert server.wait_exit() != 0
    finally:
        for sock in held:
            sock.close()
    lines = server.output.strip().splitlines()
    assert len(lines) == 1, server.output
    assert f"Port {port}" in lines[0] and "already in use" in lines[0], lines[0]
    suggested = suggested_port(lines[0])
    assert suggested >= port + 4, lines[0]
    assert f"make run PORT={suggested} (its WebSocket then takes {suggested + 1})" in lines[0]


def test_the_port_hint_wants_the_websocket_port_free_unless_dqs_ws_port_names_one(monkeypatch):
    from devtools.local_settings import port_hint

    port, held = taken_ports(1)
    try:
        monkeypatch.delenv("DQS_WS_PORT", raising=False)
        assert suggested_port(port_hint("127.0.0.1", port)) > port + 1  # port's WebSocket port is taken
        monkeypatch.setenv("DQS_WS_PORT", "9999")
        assert port_hint("127.0.0.1", port) == f"make run PORT={port}"  # the WebSocket is elsewhere
    finally:
        for sock in held:
            sock.close()


@pytest.fixture
def quick_timeout_server():
    """The HTTP server alone (no request here touches DynamoDB), closing connections idle for 0.5 s."""
    from devtools.local_server import make_server

    server = make_server("127.0.0.1", 0, timeout=0.5)
    thread = threading.Thread(target=server.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server.server.server_address[:2]
    server.server.shutdown()
    server.server.server_close()


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True if the server closes the connection within `seconds` (reading whatever it sends first)."""
    sock.settimeout(seconds)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        return True
    return True


@pytest.mark.parametrize("sent", [
    b"",  # connected, and never said anything
    b"GET /api/docs HTTP/1.1\r\nHost: x\r\n",  # headers that stop halfway
    b"POST /api/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n{\"user",
], ids=["idle", "half-sent headers", "half-sent body"])
def test_idle_and_half_sent_connections_are_closed(quick_timeout_server, sent, capfd):
    started = time.monotonic()
    with socket.create_connection(quick_timeout_server) as sock:
        sock.sendall(sent)
        assert closed_within(sock, 5), "the connection was kept open"
    assert time.monotonic() - started < 4
    # A kept-alive connection that goes quiet after a request is closed too.
    with socket.create_connection(quick_timeout_server) as sock:
        sock.sendall(b"GET /api/nowhere HTTP/1.1\r\nHost: x\r\n\r\n")
        assert closed_within(sock, 5)
    # The server goes on serving, and printed no traceback about any of it.
    host, port = quick_timeout_server
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("GET", "/api/nowhere")
    assert connection.getresponse().status == 404
    connection.close()
    assert "Traceback" not in capfd.readouterr().err


def test_no_server_banner(quick_timeout_server):
    host, port = quick_timeout_server
    for method, path, expected in (("GET", "/api/docs", 200), ("GET", "/nowhere", 404), ("TRACE", "/api/", 405)):
        connection = http.client.HTTPConnection(host, port, timeout=5)
        connection.request(method, path)
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == expected
        assert response.getheader("Server") is None, response.getheaders()
        assert "Python" not in str(response.getheaders())
        assert response.getheader("Date")


def test_a_head_answer_has_no_body_and_the_connection_goes_on(quick_timeout_server):
    host, port = quick_timeout_server
    connection = http.client.HTTPConnection(host, port, timeout=5)
    connection.request("HEAD", "/api/docs")
    head = connection.getresponse()
    assert head.read() == b"" and int(head.getheader("Content-Length")) > 0
    connection.request("GET", "/nowhere")  # the same connection: nothing of the HEAD's body in the way
    after = connection.getresponse()
    assert after.status == 404 and json.loads(after.read())["Code"] == "NotFoundError"
    connection.close()


def test_http_timeout_setting(monkeypatch):
    from devtools.local_server import DEFAULT_HTTP_TIMEOUT, StartupError, http_timeout

    monkeypatch.delenv("DQS_HTTP_TIMEOUT", raising=False)
    assert http_timeout() == DEFAULT_HTTP_TIMEOUT == 30
    monkeypatch.setenv("DQS_HTTP_TIMEOUT", "2.5")
    assert http_timeout() == 2.5
    for bad in ("soon", "0"):
        monkeypatch.setenv("DQS_HTTP_TIMEOUT", bad)
        with pytest.raises(StartupError):
            http_timeout()



def test_a_record_that_cannot_be_replayed_is_kept_aside(tmp_path, capsys):
    from moto.moto_api._internal import moto_api_backend

    from devtools.journal import encode
    from devtools.local_server import start_embedded_dynamodb

    (tmp_path / "dynamodb.journal").write_bytes(encode("PutItem", "us-east-1", {
        "TableName": "no-such-table", "Item": {"k": {"S": "a"}}}))
    moto_api_backend.reset()
    server, _ = start_embedded_dynamodb(tmp_path)
    server.stop()
    assert server.restored.failed == 1
    kept = list(tmp_path.glob("dynamodb.journal.unreplayed-*"))
    assert len(kept) == 1 and b"no-such-table" in kept[0].read_bytes()
    assert "replaying PutItem (record 1) answered 400" in capsys.readouterr().err


def _raw_answer(address, sent: bytes) -> bytes:
    with socket.create_connection(address) as sock:
        sock.sendall(sent)
        sock.settimeout(5)
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except (TimeoutError, ConnectionError):
            pass
    return answer


@pytest.mark.parametrize("line", [
    b"GARBAGE\r\n\r\n", b"GET /api/\r\n\r\n", b"GET /api/ HTTP/1.1 extra\r\n\r\n", b"GET /api/ HTTP/x.y\r\n\r\n",
    b"POST /api/register\r\n\r\n",
], ids=["one word", "no version (HTTP/0.9)", "four words", "bad version", "HTTP/0.9 POST"])
def test_a_malformed_request_line_gets_a_proper_json_400(quick_timeout_server, line):
    answer = _raw_answer(quick_timeout_server, line)
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request", answer
    headers = {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in lines[1:])}
    assert headers["content-type"] == "application/json" and headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store" and int(headers["content-length"]) == len(body)
    assert json.loads(body)["Code"] == "BadRequestError"


def test_a_logged_in_request_for_no_route_is_not_stored(quick_timeout_server):
    host, port = quick_timeout_server
    for path in ("/nowhere", "/api/nowhere/at/all"):
        connection = http.client.HTTPConnection(host, port, timeout=5)
        connection.request("GET", path, headers={"Authorization": "Token abc.def.ghi"})
        response = connection.getresponse()
        response.read()
        connection.close()
        assert response.status == 404 and response.getheader("Cache-Control") == "no-store", path
        assert response.getheader("X-Content-Type-Options") == "nosniff"


def test_the_embedded_dynamodb_serves_only_its_own_process_and_no_dashboard():
    """Another local process (another key, or none) gets 403; moto's dashboard is never served."""
    import urllib.request

    import boto3

    from devtools.embedded_dynamodb import new_access_key, start_embedded_dynamodb

    key = new_access_key()
    server, endpoint = start_embedded_dynamodb(access_key=key)
    try:
        def client(access_key):
            return boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                                aws_access_key_id=access_key, aws_secret_access_key="anything")

        assert "TableNames" in client(key).list_tables()
        for stranger in ("local", "testing", key[:-1]):
            with pytest.raises(client(stranger).exceptions.ClientError) as refused:
                client(stranger).list_tables()
            assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        for path, headers in (("/moto-api/", {}), ("/moto-api/", {"X-Dqs-Engine-Key": key}),
                              ("/moto-api/data.json", {"X-Dqs-Engine-Key": key}), ("/", {})):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(urllib.request.Request(endpoint + path, headers=headers), timeout=5)
            assert refused.value.code == 403, path
        assert new_access_key() != key
    finally:
        server.stop()


def test_the_restore_benchmark_runs_against_the_embedded_dynamodb():
    """`python -m devtools.restore_bench` (docs/OPERATIONS.md's restart figures) still runs: its own
    process, because it resets moto's backends between measurements."""
    import subprocess
    import sys
    from pathlib import Path

    project = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-m", "devtools.restore_bench", "120"], cwd=project,
                            capture_output=True, text=True, timeout=120,
                            env={**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert result.returncode == 0, result.stderr[-2000:]
    row = r"^\| 120 \| [\d.]+ MB \| [\d.]+ s \| [\d.]+ MB \| [\d.]+ s \|$"
    assert re.search(row, result.stdout, re.M), result.stdout
