"""The stream handler's pushes, measured: one invocation of app.queue_changes pushing a queue's board
to N connections (2,000 by default) through the Management API, against a local stub of it that
answers each POST /@connections/{id} after LATENCY (20 ms, about API Gateway's), and the DynamoDB
calls of the stream handling per entry change, and per batch of 10 changes of one queue, with no
screen watching and with one (`make bench` writes them to docs/BENCHMARKS.md: `section`).

  .venv/bin/python -m bench.live_push [--connections 2000] [--latency 0.02]

DynamoDB is moto's server on a loopback port (as `make run`), so the Management API's client posts
for real to the stub; the connections' items are batch-written first.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import prepare_environment  # noqa: E402


def _serve(latency: float, posts, ready) -> None:
    """The stub, in its own process (as API Gateway is not in the Lambda's): 200 after `latency`, 410
    (GoneException) for connection ids ending in "-gone"."""
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(latency)
            with posts.get_lock():
                posts.value += 1
            gone = self.path.rstrip("/").endswith("-gone")
            body = b'{"message":"Gone"}' if gone else b""
            self.send_response(410 if gone else 200)
            if gone:
                self.send_header("x-amzn-ErrorType", "GoneException")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ready.send(server.server_address[1])
    server.serve_forever()


class ManagementApiStub:
    """A local stand-in for API Gateway's Management API (PostToConnection only)."""

    def __init__(self, latency: float):
        context = multiprocessing.get_context("spawn")
        self.counter = context.Value("i", 0)
        mine, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(latency, self.counter, theirs), daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{mine.recv()}"

    @property
    def posts(self) -> int:
        return self.counter.value

    def close(self) -> None:
        self.process.terminate()
        self.process.join(5)


def _stream_records(endpoint: str, change) -> list[dict]:
    """The entries stream's records of `change()`."""
    import boto3

    from chalicelib.storage.queue_entries import QueueEntryModel

    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint)
    streams = boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url=endpoint)
    arn = dynamodb.describe_table(TableName=QueueEntryModel.Meta.table_name)["Table"]["LatestStreamArn"]
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                          ShardIteratorType="LATEST")["ShardIterator"]
    change()
    return streams.get_records(ShardIterator=iterator)["Records"]


def measure(endpoint: str, connections: int, latency: float) -> list[str]:
    """The table's rows: the calls of each change, then the timed invocation."""
    import app as handlers
    from app import app
    from chalicelib import storage
    from chalicelib.domain import clock, departments, entities, queue
    from chalicelib.domain.waiting_room import CONNECTION_LIFETIME
    from chalicelib.storage.connections import ConnectionModel
    from devtools.calls import recording
    from devtools.seed import add_patients, desk, waiting_entries

    storage.bind()
    storage.create_tables()
    department = departments.ensure_department("Bench push")
    waiting_entries(26, department=department)
    rows = ["| entry change | DynamoDB calls | which |", "|---|---:|---|"]

    def costs(change) -> str:
        records = _stream_records(endpoint, change)
        with recording() as calls:
            assert handlers.queue_changes({"Records": records}, None) == {"batchItemFailures": []}
        return f"{len(calls)} | {', '.join(_counted(calls))}"

    call = lambda: queue.call_next(desk(), department)  # noqa: E731

    def ten_calls() -> None:
        for _ in range(10):
            call()

    def join() -> None:
        queue.join(desk(), queue.JoinRequest(patient_id=add_patients(1)[0], department=department))

    rows.append(f"| a call, no screen watching | {costs(call)} |")
    rows.append(f"| a join, no screen watching | {costs(join)} |")
    rows.append(f"| a batch of 10 calls of one queue, no screen watching | {costs(ten_calls)} |")
    queue_name = entities.queue_name(department)
    expires = clock.now() + CONNECTION_LIFETIME
    ConnectionModel("bench-one", queue=queue_name, expires_at=expires).save()
    stub = ManagementApiStub(latency)
    try:
        app.websocket_api._endpoint = stub.url  # the Management API's stub (configure() then keeps it)
        rows.append(f"| a call, one screen watching, 15 waiting after it (the board counts them) | {costs(call)} |")
        rows.append(f"| a batch of 10 calls of one queue, one screen watching, 5 waiting after it | "
                    f"{costs(ten_calls)} |")
        rows.append(f"| a call, one screen watching, 4 waiting after it | {costs(call)} |")
        rows.append(f"| a join, one screen watching | {costs(join)} |")
        with ConnectionModel.batch_write() as batch:
            for n in range(connections - 1):
                suffix = "-gone" if n % 100 == 99 else ""
                batch.save(ConnectionModel(f"bench-{n}{suffix}", queue=queue_name, expires_at=expires))
        rows += ["", "| pushing | figure |", "|---|---:|"]
        records = _stream_records(endpoint, call)
        before = stub.posts
        started = time.perf_counter()
        assert handlers.queue_changes({"Records": records}, None) == {"batchItemFailures": []}
        seconds = time.perf_counter() - started
        rows.append(f"| one invocation pushing to {connections:,} connections ({latency * 1000:.0f} ms each, "
                    f"1 in 100 gone) | {seconds:.1f} s ({stub.posts - before:,} posts) |")
        left = sum(1 for _ in ConnectionModel.by_queue.query(queue_name))
        rows.append(f"| connections left after it (the gone ones deleted) | {left:,} |")
    finally:
        stub.close()
    return rows


def _counted(calls: list[str]) -> list[str]:
    """Operation names with their counts, in first-seen order: Query×4, TransactGetItems."""
    counts: dict[str, int] = {}
    for name in calls:
        counts[name] = counts.get(name, 0) + 1
    return [name if n == 1 else f"{name}×{n}" for name, n in counts.items()]


def run(connections: int = 2000, latency: float = 0.02) -> list[str]:
    """`measure` on a fresh embedded DynamoDB (moto's server), the environment restored after."""
    import os

    from devtools.embedded_dynamodb import start_embedded_dynamodb

    server, endpoint = start_embedded_dynamodb()
    saved = {key: os.environ.get(key) for key in ("DQS_DYNAMODB_ENDPOINT", "DQS_WEBSOCKET_URL")}
    os.environ["DQS_DYNAMODB_ENDPOINT"] = endpoint
    os.environ["DQS_WEBSOCKET_URL"] = "wss://bench.execute-api.us-east-1.amazonaws.com/api"
    try:
        return measure(endpoint, connections, latency)
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def section(rows: list[str]) -> list[str]:
    return ["## The live path", "",
            "The entries stream's handler (app.queue_changes) on moto's server, fed the stream's real records: "
            "the DynamoDB calls it makes for a change of one entry, and for 10 changes of one queue in one batch. "
            "With no screen watching: the queue's connections (a Query of their queue index) and, after a change "
            "that can bring someone near, the entries still to be told (a Query of the sparse notify index). "
            "With a screen: the connections and the board (the numbers called now, the waiting list's head read "
            "whole, a COUNT of the waiting only when that head is full, the day's closed flag and names in one "
            "TransactGetItems, the latest calls for the estimate); the messages find their candidates in the "
            "board's head. Then one invocation pushing a board to many connections through a local stub of the "
            "Management API.", "", *rows, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.02)
    args = parser.parse_args()
    prepare_environment()
    print("\n".join(section(run(args.connections, args.latency))))


if __name__ == "__main__":
    main()
