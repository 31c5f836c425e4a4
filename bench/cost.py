"""What 1,000 clinic visits cost on AWS, from the calls the code makes and list prices.

  .venv/bin/python -m bench.cost          (also a section of `make bench`)

A visit (VISIT below) is driven through chalice.test.Client on moto: each of its requests is
sent once and its DynamoDB calls are recorded with their parameters, so a transaction's items
and a query's pages are counted as the units DynamoDB bills. The entries' stream is then read
from moto and handed to the stream handler (app.queue_changes), whose calls are counted the
same way. Prices are on-demand list prices, us-east-1, as named below with the date they were
read; what a request costs besides its calls (Lambda's duration) is modelled from its calls.
"""
from __future__ import annotations

import json
import logging
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PROJECT_DIR, ClientTransport, prepare_environment  # noqa: E402

# -- list prices (USD), us-east-1, read 2025-06 from aws.amazon.com/<service>/pricing ------------------
PRICES_READ_ON = "2025-06"
DYNAMODB_PER_MILLION_WRU = 0.625  # on-demand write request units
DYNAMODB_PER_MILLION_RRU = 0.125  # on-demand read request units
LAMBDA_ARM64_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
API_GATEWAY_REST_PER_MILLION = 3.50  # the first 333 million a month
API_GATEWAY_WEBSOCKET_PER_MILLION_MESSAGES = 1.00  # 32 KB each
API_GATEWAY_WEBSOCKET_PER_MILLION_CONNECTION_MINUTES = 0.25
CLOUDWATCH_LOGS_PER_GB = 0.50  # ingestion (standard)
SNS_SMS_PER_MESSAGE_US = 0.00645  # a transactional SMS to a US number, carrier fee included; varies by country

# -- what a visit is ------------------------------------------------------------------------------------
# A patient joins a department's queue at the desk, checks their place on their phone a few times,
# is called to a service point and served. Meanwhile the waiting room's screen revalidates the board
# every 30 s (the display page), and its share of those reads is the visit's.
POSITION_CHECKS = 3
CLINIC_VISITS_PER_DAY = 100
OPENING_HOURS = 8
SCREEN_REVALIDATE_SECONDS = 30
SCREENS = 1
BOARD_READS = SCREENS * OPENING_HOURS * 3600 / SCREEN_REVALIDATE_SECONDS / CLINIC_VISITS_PER_DAY
# The entry changes a visit makes (join, call, serve): each reaches the stream handler, and each
# screen following the queue gets a new board by WebSocket.
SMS_PER_VISIT = 1  # "your turn", for a patient who asked to be told by SMS: shown on its own line

# -- what is modelled rather than counted -----------------------------------------------------------------
LAMBDA_BASE_MS = 10  # the handler's own work per invocation, warm
LAMBDA_MS_PER_CALL = 8  # one DynamoDB round trip in the region
LAMBDA_LOG_BYTES = 330  # Lambda's own START, END and REPORT lines per invocation
ACCESS_LOG_BYTES = 260  # one REST access log line (devtools/package/operations.py's format)
ITEM_KB = 1  # items under 1 KB (a write unit each), query pages under 4 KB (half a read unit)


@dataclass
class Step:
    name: str
    per_visit: float
    requests: int = 0  # REST requests (each one API Lambda invocation)
    invocations: int = 0  # stream handler invocations
    rru: float = 0.0
    wru: float = 0.0
    calls: Counter = field(default_factory=Counter)  # the API's
    stream_calls: Counter = field(default_factory=Counter)  # the stream handler's, for this step's changes
    log_bytes: int = 0
    pushes: int = 0
    answers: list = field(default_factory=list)


def units(operation: str, params: dict) -> tuple[float, float]:
    """(read units, write units) of one call, eventually consistent reads, items under 1 KB."""
    consistent = params.get("ConsistentRead", False)
    read = 1.0 if consistent else 0.5
    if operation in ("GetItem", "Query", "Scan"):
        return read, 0.0
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 0.0, 1.0 * ITEM_KB
    if operation == "TransactWriteItems":
        return 0.0, 2.0 * len(params.get("TransactItems", []))  # transactional: twice the units
    if operation == "TransactGetItems":
        return 2.0 * len(params.get("TransactItems", [])), 0.0
    if operation == "BatchGetItem":
        return sum(read * len(t.get("Keys", [])) for t in params.get("RequestItems", {}).values()), 0.0
    if operation == "BatchWriteItem":
        return 0.0, float(sum(len(items) for items in params.get("RequestItems", {}).values()))
    return 0.0, 0.0  # DescribeTable and the like: not billed


class Recorder:
    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.lines: list[str] = []

    def __enter__(self):
        from devtools.calls import listening

        self._listening = listening(lambda name, params: self.calls.append((name, params)))
        self._listening.__enter__()
        recorder = self

        class Lines(logging.Handler):
            def emit(self, record):
                recorder.lines.append(record.getMessage())

        self._handler = Lines(logging.INFO)
        self._logger = logging.getLogger("dqs.invocations")
        self._saved = self._logger.level, self._logger.handlers, self._logger.propagate
        self._logger.setLevel(logging.INFO)
        self._logger.handlers, self._logger.propagate = [self._handler], False  # counted, not printed
        return self

    def __exit__(self, *exc):
        self._listening.__exit__(*exc)
        self._logger.level, self._logger.handlers, self._logger.propagate = self._saved

    def add_to(self, step: Step, calls: Counter) -> None:
        for name, params in self.calls:
            rru, wru = units(name, params)
            step.rru += rru
            step.wru += wru
            calls[name] += 1
        step.log_bytes += sum(len(line.encode()) + 1 for line in self.lines)


class Stream:
    """The entries table's stream in moto, read after each step and handed to the stream handler."""

    def __init__(self):
        import boto3

        from devtools.stream_feed import ensure_stream, entries_table

        self.arn = ensure_stream(boto3.client("dynamodb", region_name="us-east-1"), entries_table())
        # In-process moto answers streams at their classic address only (botocore's newer one: 404).
        self.streams = boto3.client("dynamodbstreams", region_name="us-east-1",
                                    endpoint_url="https://streams.dynamodb.us-east-1.amazonaws.com")
        self.last: dict[str, str] = {}
        self.records()  # what came before is not the visit's

    def records(self) -> list[dict]:
        found = []
        for shard in self.streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            if shard_id in self.last:
                where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self.last[shard_id]}
            else:
                where = {"ShardIteratorType": "TRIM_HORIZON"}
            iterator = self.streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id, **where)["ShardIterator"]
            for record in self.streams.get_records(ShardIterator=iterator, Limit=1000)["Records"]:
                record["eventSourceARN"] = self.arn
                found.append(json.loads(json.dumps(record, default=str)))
                self.last[shard_id] = record["dynamodb"]["SequenceNumber"]
        return found


def _step(transport: ClientTransport, stream: Stream, name: str, per_visit: float, requests) -> Step:
    """Send a step's requests once, then hand the stream's new records to the stream handler."""
    step = Step(name, per_visit)
    with Recorder() as recorder:
        for method, path, body, token in requests():
            step.answers.append(transport.ok(method, path, body, token))
            step.requests += 1
    recorder.add_to(step, step.calls)
    for record in stream.records():
        with Recorder() as recorder:
            transport._client.lambda_.invoke("queue_changes", {"Records": [record]})
        recorder.add_to(step, step.stream_calls)
        step.invocations += 1
        step.pushes += SCREENS
    return step


def measure() -> list[Step]:
    import os

    from app import app
    from bench.endpoints import World
    from chalicelib import storage
    from chalicelib.domain import clock
    from chalicelib.domain.entities import queue_name
    from chalicelib.domain.waiting_room import CONNECTION_LIFETIME
    from chalicelib.storage.connections import ConnectionModel

    # The stream handler posts boards here: not sent (the Management API is not there), counted (SCREENS).
    os.environ.setdefault("DQS_WEBSOCKET_URL", "wss://websocket.invalid/api")
    transport = ClientTransport()
    logging.getLogger("dqs.invocations").setLevel(logging.WARNING)
    try:
        world = World(transport)
        # The screen following the visit's queue (the general one), so each entry change builds its board.
        storage.bind()
        ConnectionModel("bench-screen", queue=queue_name(None), expires_at=clock.now() + CONNECTION_LIFETIME).save()
        app.websocket_api.send = lambda connection_id, text: None
        stream = Stream()
        while "id" in transport.ok("POST", "/queues/call_next", {}, world.staff):
            pass  # until the queue is empty: this visit's patient is the one called
        patient = world.new_patient()
        stream.records()
        steps = [
            _step(transport, stream, "join", 1, lambda: [("POST", "/queues/join_queue", {"patient_id": patient},
                                                          world.staff)]),
        ]
        entry_id = steps[0].answers[0]["id"]
        steps.append(_step(transport, stream, "position check", POSITION_CHECKS,
                           lambda: [("GET", f"/queues/{entry_id}/position", None, world.staff)]))
        steps.append(_step(transport, stream, "call", 1, lambda: [("POST", "/queues/call_next", {}, world.staff)]))
        steps.append(_step(transport, stream, "serve", 1,
                           lambda: [("POST", f"/queues/{entry_id}/mark_served", {}, world.staff)]))
        department = transport.ok("GET", f"/queues/{entry_id}", None, world.staff).get("department")
        board = "/queues/board" + (f"?department={department}" if department is not None else "")
        steps.append(_step(transport, stream, "board read (screen)", BOARD_READS,
                           lambda: [("GET", board, None, None)]))
        return steps
    finally:
        vars(app.websocket_api).pop("send", None)
        transport.close()


def lambda_memory_mb(function: str = "api_handler") -> int:
    config = json.loads((PROJECT_DIR / ".chalice" / "config.json").read_text())
    return config.get("lambda_functions", {}).get(function, {}).get("lambda_memory_size",
                                                                   config.get("lambda_memory_size", 128))


def costs(steps: list[Step]) -> dict[str, float]:
    """USD per 1,000 visits, by line."""
    visits = 1000
    api_gb = lambda_memory_mb("api_handler") / 1024
    stream_gb = lambda_memory_mb("queue_changes") / 1024
    rru = wru = requests = invocations = pushes = log_bytes = gb_seconds = 0.0
    for step in steps:
        n = step.per_visit * visits
        rru += step.rru * n
        wru += step.wru * n
        requests += step.requests * n
        invocations += step.invocations * n
        pushes += step.pushes * n
        invoked = step.requests + step.invocations
        log_bytes += (step.log_bytes + invoked * LAMBDA_LOG_BYTES + step.requests * ACCESS_LOG_BYTES) * n
        api_ms = step.requests * LAMBDA_BASE_MS + sum(step.calls.values()) * LAMBDA_MS_PER_CALL
        stream_ms = step.invocations * LAMBDA_BASE_MS + sum(step.stream_calls.values()) * LAMBDA_MS_PER_CALL
        gb_seconds += (api_ms * api_gb + stream_ms * stream_gb) / 1000 * n
    connection_minutes = SCREENS * OPENING_HOURS * 60 / CLINIC_VISITS_PER_DAY * visits
    return {
        "DynamoDB reads": rru / 1e6 * DYNAMODB_PER_MILLION_RRU,
        "DynamoDB writes": wru / 1e6 * DYNAMODB_PER_MILLION_WRU,
        "Lambda requests": (requests + invocations) / 1e6 * LAMBDA_PER_MILLION_REQUESTS,
        "Lambda duration (arm64)": gb_seconds * LAMBDA_ARM64_PER_GB_SECOND,
        "API Gateway REST requests": requests / 1e6 * API_GATEWAY_REST_PER_MILLION,
        "API Gateway WebSocket messages and connection minutes": (
            pushes / 1e6 * API_GATEWAY_WEBSOCKET_PER_MILLION_MESSAGES
            + connection_minutes / 1e6 * API_GATEWAY_WEBSOCKET_PER_MILLION_CONNECTION_MINUTES),
        "CloudWatch Logs ingestion": log_bytes / 1e9 * CLOUDWATCH_LOGS_PER_GB,
        "_units": (rru, wru, requests, invocations, pushes, log_bytes),
    }


def section(steps: list[Step] | None = None) -> list[str]:
    steps = measure() if steps is None else steps
    priced = costs(steps)
    rru, wru, requests, invocations, pushes, log_bytes = priced.pop("_units")
    total = sum(priced.values())
    sms = SMS_PER_VISIT * 1000 * SNS_SMS_PER_MESSAGE_US
    lines = [
        "## Cost per 1,000 visits",
        "",
        f"A visit: a patient joins, checks their place {POSITION_CHECKS} times, is called and served; the "
        f"waiting room's screen revalidates the board every {SCREEN_REVALIDATE_SECONDS} s, {BOARD_READS:.1f} reads "
        f"a visit at {CLINIC_VISITS_PER_DAY} visits in {OPENING_HOURS} hours ({SCREENS} screen). Each step was sent "
        "once through chalice.test.Client on moto, with its DynamoDB calls counted and priced as units (items under "
        f"{ITEM_KB} KB, eventually consistent reads, transactions at twice the units); each entry change was read "
        "from the stream and handed to the stream handler, whose calls are counted too. On-demand list prices, "
        f"us-east-1, read {PRICES_READ_ON} (bench/cost.py). Lambda's duration is modelled: {LAMBDA_BASE_MS} ms an "
        f"invocation plus {LAMBDA_MS_PER_CALL} ms a DynamoDB call, at the configured memory "
        f"({lambda_memory_mb()} MB), arm64.",
        "",
        "| step | per visit | REST requests | the API's DynamoDB calls | stream invocations | the stream handler's "
        "calls | RRU | WRU |",
        "|---|---:|---:|---|---:|---|---:|---:|",
    ]

    def listed(calls: Counter) -> str:
        return ", ".join(f"{name}×{n}" if n > 1 else name for name, n in sorted(calls.items())) or "none"

    for step in steps:
        lines.append(f"| {step.name} | {step.per_visit:g} | {step.requests} | {listed(step.calls)} | "
                     f"{step.invocations} | {listed(step.stream_calls)} | {step.rru:g} | {step.wru:g} |")
    lines += [
        "",
        f"Per 1,000 visits: {rru:,.0f} read units, {wru:,.0f} write units, {requests:,.0f} REST requests, "
        f"{invocations:,.0f} stream invocations, {pushes:,.0f} WebSocket messages, {log_bytes / 1e6:.1f} MB of logs.",
        "",
        "| per 1,000 visits | USD |",
        "|---|---:|",
    ]
    lines += [f"| {name} | {usd:.4f} |" for name, usd in priced.items()]
    lines += [f"| **total, without SMS** | **{total:.4f}** |",
              f"| SMS: {SMS_PER_VISIT} \"your turn\" message a visit, US destination | {sms:.2f} |",
              "",
              "Not per visit: the alarms (about 0.10 USD a metric a month), the alarm topic's KMS key (1 USD a month), "
              "the custom EMF metrics (0.30 USD each a month) and PITR storage.",
              ""]
    return lines


def write_into(path: Path, lines: list[str]) -> None:
    """Put the section into docs/BENCHMARKS.md in place of the one there (or at its end)."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    title = lines[0]
    if title in text:
        before, after = text.split(title, 1)
        rest = after.split("\n## ", 1)
        text = before + "\n".join(lines).rstrip() + "\n" + ("\n## " + rest[1] if len(rest) > 1 else "")
    else:
        text = text.rstrip() + "\n\n" + "\n".join(lines).rstrip() + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m bench.cost", description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace this section of docs/BENCHMARKS.md")
    args = parser.parse_args(argv)
    prepare_environment()
    lines = section()
    print("\n".join(lines))
    if args.write:
        write_into(PROJECT_DIR / "docs" / "BENCHMARKS.md", lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
