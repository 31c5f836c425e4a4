"""Keeps the embedded DynamoDB's data across restarts and crashes (`make run`).

moto's DynamoDB lives in memory. The local server serves it one request at a time
(devtools.local_server); with a journal, every write request it answered with a 2xx is
appended to `<data dir>/dynamodb.journal`, flushed and fsync'ed *before* the answer goes
back. So a write whose answer anyone has seen is on disk, even if the process is killed
the next instant (`kill -9`, a crash, a power cut after the fsync).

On start the journal is replayed, in its order, into the fresh in-memory backend: the
same requests on the same state give the same results, so atomic counters (ADD) and
conditional writes come out as they were. Then it is compacted: the tables and their
items are written to a new file as CreateTable / UpdateTimeToLive records and chunks of
items, which atomically replaces the old one (fsync, rename, fsync of the folder). While
the server runs, the journal is compacted again whenever the writes appended since hold
more records than a tenth of the items it last held (at least COMPACT_MIN_RECORDS), or
more bytes than twice its last compacted size (plus a few MB): so restoring takes time in
proportion to the data, not to its history.

Items whose Time to Live has passed are deleted as DynamoDB's TTL deletes them
(devtools.moto_ttl): at most once a minute, before a request, under the server's lock, each
deletion journaled as a DeleteItem; and at every start, before the journal is compacted.

Each record is one line: the CRC-32 of its JSON, a space, the JSON
`{"op": "<DynamoDB operation>", "region": "...", "body": {<the request>}}`. A last line
that is incomplete or fails its CRC was being written when the process died, and its
request was never answered: it is dropped. A damaged line before the last one is an
error (the file was changed by something else), and the server refuses to start.

Reads (GetItem, Query, Scan, Describe*, List*, ...) are not journaled. Only DynamoDB is
kept; the moto server's other services are not used by the app.
"""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import sys
import threading
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

JOURNAL_FILE = "dynamodb.journal"
TARGET_PREFIX = "DynamoDB_20120810."
READ_PREFIXES = ("Get", "BatchGet", "TransactGet", "Query", "Scan", "Describe", "List")
COMPACT_SLACK_BYTES = 8 * 1024 * 1024
# Compact when the records appended since the last compaction outnumber this share of the items
# it held (or COMPACT_MIN_RECORDS): a restart replays at most that many requests.
# Replaying a request costs a few ms (moto parses and checks it again); restoring a compacted
# item, some µs: at 10,000 items a restart replays at most 1,000 requests.
COMPACT_RECORDS_PER_ITEM = 0.1
COMPACT_MIN_RECORDS = 500
# The regions snapshotted even before a write names one: the local stage's.
DEFAULT_REGIONS = ("us-east-1",)
# A snapshot's items, as {"TableName", "Items": [<item in DynamoDB JSON>, ...]}: put straight
# into moto's table, many times faster than BatchWriteItem requests (see _put_items).
PUT_ITEMS = "dqs.PutItems"
SNAPSHOT_CHUNK = 100
_REGION = re.compile(r"Credential=[^/]*/[^/]*/([^/]+)/")


class JournalDamaged(Exception):
    pass


@dataclass
class Restored:
    records: int = 0  # journal records replayed
    dropped_tail: bool = False  # an unfinished last record was dropped
    failed: int = 0  # records the backend refused on replay (should be 0)
    tables: int = 0
    items: int = 0
    seconds: float = 0.0
    expired: int = 0  # items whose Time to Live had passed, deleted at the start


def write_operation(environ) -> str | None:
    """The DynamoDB operation a request performs, if it may change data (else None)."""
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    if not target.startswith(TARGET_PREFIX):
        return None
    op = target[len(TARGET_PREFIX):]
    if not op or op.startswith(READ_PREFIXES):
        return None
    return op


def region_of(environ) -> str:
    match = _REGION.search(environ.get("HTTP_AUTHORIZATION") or "")
    return match[1] if match else "us-east-1"


def encode(op: str, region: str, body: dict) -> bytes:
    payload = json.dumps({"op": op, "region": region, "body": body}, separators=(",", ":")).encode()
    return b"%08x %s\n" % (zlib.crc32(payload), payload)


def decode(line: bytes) -> dict | None:
    """The record of a complete, intact line; None otherwise."""
    if not line.endswith(b"\n") or len(line) < 10 or line[8:9] != b" ":
        return None
    payload = line[9:-1]
    try:
        if int(line[:8], 16) != zlib.crc32(payload):
            return None
        record = json.loads(payload)
    except ValueError:
        return None
    return record if isinstance(record, dict) and {"op", "region", "body"} <= record.keys() else None


def call(app, op: str, region: str, body: bytes) -> tuple[int, bytes]:
    """One DynamoDB request straight into moto's WSGI app (no socket)."""
    from werkzeug.test import EnvironBuilder, run_wsgi_app

    environ = EnvironBuilder(method="POST", path="/", data=body, headers={
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": TARGET_PREFIX + op,
        "Authorization": f"AWS4-HMAC-SHA256 Credential=local/20240101/{region}/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0",
    }).get_environ()
    app_iter, status, _ = run_wsgi_app(app, environ)
    try:
        data = b"".join(app_iter)
    finally:
        if hasattr(app_iter, "close"):
            app_iter.close()
    return int(status.split()[0]), data


class Journal:
    """The journal of one data folder, bound to one moto WSGI app."""

    def __init__(self, directory: Path, app):
        self.path = Path(directory) / JOURNAL_FILE
        self.tmp_path = self.path.with_name(JOURNAL_FILE + ".tmp")
        self.app = app
        self._file = None
        self._compacted_size = 0
        self._compacted_items = 0
        self.appended = 0  # records appended since the last compaction
        self.compactions = 0
        self.compact_seconds = 0.0  # time spent compacting, in total
        self.regions: set[str] = set(DEFAULT_REGIONS)
        self.failed: Exception | None = None
        from devtools.moto_ttl import Sweeper

        self.sweeper = Sweeper()

    # -- start: replay, then compact ------------------------------------------------

    def restore(self) -> Restored:
        started = time.perf_counter()
        report = Restored()
        if self.path.exists():
            with open(self.path, "rb") as source:
                lines = source.readlines()
            for number, line in enumerate(lines, 1):
                record = decode(line)
                if record is None:
                    if number == len(lines):
                        report.dropped_tail = True
                        break
                    raise JournalDamaged(
                        f"{self.path}: record {number} of {len(lines)} is damaged; the data cannot be restored "
                        "past it. Move the file away (or `make reset-data`) to start afresh.")
                self.regions.add(record["region"])
                if record["op"] == PUT_ITEMS:
                    status, answer = _put_items(record["region"], record["body"])
                else:
                    status, answer = call(self.app, record["op"], record["region"],
                                          json.dumps(record["body"]).encode())
                report.records += 1
                if not 200 <= status < 300:
                    report.failed += 1
                    print(f"journal: replaying {record['op']} (record {number}) answered {status}: "
                          f"{answer[:200]!r}", file=sys.stderr)
        if report.failed:  # keep what could not be replayed, rather than compact it away
            kept = self.path.with_name(f"{JOURNAL_FILE}.unreplayed-{time.strftime('%Y%m%d-%H%M%S')}")
            shutil.copyfile(self.path, kept)
            print(f"journal: the journal as it was is kept in {kept}", file=sys.stderr)
        from devtools.moto_ttl import sweep

        report.expired = len(sweep(regions=self.regions))  # gone from the compacted journal below
        report.tables, report.items = self.compact()
        report.seconds = time.perf_counter() - started
        return report

    def compact(self) -> tuple[int, int]:
        """Write the current tables and items as a new journal and swap it in atomically."""
        started = time.perf_counter()
        if self._file is not None:
            self._file.close()
            self._file = None
        tables = items = 0
        with open(self.tmp_path, "wb") as out:
            for region in sorted(self.regions):
                for op, body in self._snapshot(region):
                    out.write(encode(op, region, body))
                    if op == "CreateTable":
                        tables += 1
                    elif op == PUT_ITEMS:
                        items += len(body["Items"])
            out.flush()
            os.fsync(out.fileno())
        os.replace(self.tmp_path, self.path)
        _fsync_dir(self.path.parent)
        self._file = open(self.path, "ab")
        self._compacted_size = self._file.tell()
        self._compacted_items = items
        self.appended = 0
        self.compactions += 1
        self.compact_seconds += time.perf_counter() - started
        return tables, items

    def _request(self, op: str, region: str, body: dict) -> dict:
        status, answer = call(self.app, op, region, json.dumps(body).encode())
        if status != 200:
            raise RuntimeError(f"{op} answered {status}: {answer[:300]!r}")
        return json.loads(answer)

    def _snapshot(self, region: str):
        """The records that rebuild this region's tables as they are now."""
        names, start = [], None
        while True:
            page = self._request("ListTables", region, {"ExclusiveStartTableName": start} if start else {})
            names += page.get("TableNames", [])
            start = page.get("LastEvaluatedTableName")
            if not start:
                break
        for name in names:
            table = self._request("DescribeTable", region, {"TableName": name})["Table"]
            yield "CreateTable", _create_table_request(table)
            ttl = self._request("DescribeTimeToLive", region, {"TableName": name}).get(
                "TimeToLiveDescription", {})
            if ttl.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and ttl.get("AttributeName"):
                yield "UpdateTimeToLive", {"TableName": name, "TimeToLiveSpecification": {
                    "Enabled": True, "AttributeName": ttl["AttributeName"]}}
            # The items straight from moto's table: its Scan answers go through a generic
            # serialiser that takes about 4 ms per item, this about 0.02 ms.
            chunk: list[dict] = []
            for item in _backend(region).get_table(name).all_items():
                chunk.append(item.to_json()["Attributes"])
                if len(chunk) == SNAPSHOT_CHUNK:
                    yield PUT_ITEMS, {"TableName": name, "Items": chunk}
                    chunk = []
            if chunk:
                yield PUT_ITEMS, {"TableName": name, "Items": chunk}

    # -- while serving -----------------------------------------------------------

    def append(self, op: str, region: str, body: bytes) -> None:
        """Journal one answered write; on disk when this returns. Callers hold the server's lock."""
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:  # moto answered 2xx to a body that is not JSON: nothing to keep
            return
        self.append_records([(op, region, parsed)])

    def append_records(self, records: list[tuple[str, str, dict]]) -> None:
        """Journal writes already applied, with one fsync; on disk when this returns (callers hold the lock)."""
        if not records:
            return
        for op, region, body in records:
            self.regions.add(region)
            self._file.write(encode(op, region, body))
        self._file.flush()
        os.fsync(self._file.fileno())
        self.appended += len(records)
        if self.compaction_due():
            self.compact()

    def records_allowed(self) -> int:
        """How many records may be appended before the next compaction (by their number)."""
        return int(max(COMPACT_MIN_RECORDS, COMPACT_RECORDS_PER_ITEM * self._compacted_items))

    def compaction_due(self) -> bool:
        """More records appended than the data they describe warrants, or the file twice its compacted size."""
        if self.appended > self.records_allowed():
            return True
        return self._file.tell() > 2 * self._compacted_size + COMPACT_SLACK_BYTES

    def expire_due(self) -> int:
        """Delete the items whose TTL has passed if a minute went by since the last sweep; journal the deletions."""
        if not self.sweeper.due():
            return 0
        deleted = self.sweeper.sweep(regions=self.regions)
        self.append_records([("DeleteItem", region, request) for region, request in deleted])
        return len(deleted)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _backend(region: str):
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][region]


def _put_items(region: str, body: dict) -> tuple[int, bytes]:
    """A snapshot's items into moto's table as they were read from it.

    They were checked when first written, so this skips moto's put_item, whose item-size
    check is quadratic in the number of attributes (most of a restore's time otherwise).
    """
    try:
        from moto.dynamodb.models.dynamo_type import DynamoType, Item

        table = _backend(region).get_table(body["TableName"])
        hash_attr, range_attr = table.hash_key_attr, table.range_key_attr
        for attrs in body["Items"]:
            hash_value = DynamoType(attrs[hash_attr])
            range_value = DynamoType(attrs[range_attr]) if range_attr else None
            item = Item(hash_value, range_value, {})
            dict.update(item.attrs, {name: DynamoType(value) for name, value in attrs.items()})
            if range_attr:
                table.items[hash_value][range_value] = item
            else:
                table.items[hash_value] = item
    except Exception as exc:  # reported by the caller, as a refused request would be
        return 500, repr(exc).encode()
    return 200, b""


def _create_table_request(table: dict) -> dict:
    """A CreateTable request for a table as DescribeTable describes it."""
    billing = (table.get("BillingModeSummary") or {}).get("BillingMode") or "PROVISIONED"

    def throughput(described: dict | None) -> dict:
        described = described or {}
        return {"ReadCapacityUnits": described.get("ReadCapacityUnits") or 1,
                "WriteCapacityUnits": described.get("WriteCapacityUnits") or 1}

    request = {"TableName": table["TableName"], "KeySchema": table["KeySchema"],
               "AttributeDefinitions": table["AttributeDefinitions"], "BillingMode": billing}
    if billing == "PROVISIONED":
        request["ProvisionedThroughput"] = throughput(table.get("ProvisionedThroughput"))
    if table.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = []
        for index in table["GlobalSecondaryIndexes"]:
            entry = {key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
            if billing == "PROVISIONED":
                entry["ProvisionedThroughput"] = throughput(index.get("ProvisionedThroughput"))
            request["GlobalSecondaryIndexes"].append(entry)
    if table.get("LocalSecondaryIndexes"):
        request["LocalSecondaryIndexes"] = [{key: index[key] for key in ("IndexName", "KeySchema", "Projection")}
                                            for index in table["LocalSecondaryIndexes"]]
    stream = table.get("StreamSpecification")
    if stream and stream.get("StreamEnabled"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    if table.get("DeletionProtectionEnabled"):
        request["DeletionProtectionEnabled"] = True
    return request


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def journaling(wsgi_app, journal: Journal | None, lock: threading.Lock):
    """moto's WSGI app, one request at a time, each answered write journaled before its answer."""

    def app(environ, start_response):
        with lock:
            if journal is not None and journal.failed is None:
                try:
                    journal.expire_due()
                except OSError as exc:
                    journal.failed = exc
                    print(f"journal: cannot write {journal.path}: {exc}. The embedded DynamoDB refuses "
                          "writes from now on; stop the server and free the disk.", file=sys.stderr, flush=True)
            op = write_operation(environ) if journal is not None else None
            reset = (journal is not None and environ.get("REQUEST_METHOD") == "POST"
                     and (environ.get("PATH_INFO") or "").startswith("/moto-api/"))
            if op is None and not reset:
                return list(wsgi_app(environ, start_response))
            if journal.failed is not None:
                start_response("500 Internal Server Error", [("Content-Type", "application/x-amz-json-1.0")])
                return [json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                    "message": "The local data journal cannot be written."}).encode()]
            body = _read_body(environ)
            answer: dict = {}

            def hold(status, headers, exc_info=None):
                answer["status"], answer["headers"] = status, headers
                return lambda data: answer.setdefault("early", []).append(data)

            chunks = list(wsgi_app(environ, hold))
            if answer.get("early"):
                chunks = answer["early"] + chunks
            if answer.get("status", "").startswith("2"):
                try:
                    if op is not None:
                        journal.append(op, region_of(environ), body)
                    else:  # /moto-api/reset and the like: keep what the backend now holds
                        journal.compact()
                except OSError as exc:
                    # The write is applied in memory but not on disk: answer an error, and
                    # refuse further writes, rather than let anyone see data a restart loses.
                    journal.failed = exc
                    print(f"journal: cannot write {journal.path}: {exc}. The embedded DynamoDB refuses "
                          "writes from now on; stop the server and free the disk.", file=sys.stderr, flush=True)
                    start_response("500 Internal Server Error", [("Content-Type", "application/x-amz-json-1.0")])
                    return [json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                        "message": "The local data journal cannot be written."}).encode()]
            start_response(answer["status"], answer["headers"])
            return chunks

    return app


def _read_body(environ) -> bytes:
    from werkzeug.wsgi import get_input_stream

    body = get_input_stream(environ).read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body
