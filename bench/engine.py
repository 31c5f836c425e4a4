"""The embedded DynamoDB (`make run`'s moto server) as a clinic's data grows.

  .venv/bin/python -m bench.engine [--days 30] [--patients 300] [--raw-moto] [--skip-restart]

1. join latency over HTTP (the local server, keep-alive, one at a time) on a fresh queue with
   10 entries, and again after `days` simulated days of `patients` patients each (on a clock
   set to that day, each patient joins the queue and the queue closes at the end of the day,
   expiring the entries: the app's own writes, 30 days of them; with the data folder and its
   journal as `make run` keeps them, so Time to Live deletes old days' claims and counters);
2. concurrent joins per second (16 threads) after those days, against moto's raw rate for the
   same number of plain UpdateItem requests over HTTP from 16 threads, in the same run;
3. restart time: 10,000 live items after 20,000 writes, 5,000 of them transactions, restored
   from the data folder as `make run` restores it.

`--raw-moto` measures without devtools/moto_transactions.py installed (moto's own
transactions: table copies, no ClientRequestToken), for comparison. The code here imports
nothing from tests/.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import ADMIN, leave_server_environment, prepare_environment, server_table_prefix  # noqa: E402

THREADS = 16
STAFF = ("engine-desk", "engine-desk-password-1")


@dataclass
class EngineResult:
    raw_moto: bool = False
    join_at_10: list[float] = field(default_factory=list)
    join_after_days: list[float] = field(default_factory=list)
    days: int = 0
    patients: int = 0
    simulate_seconds: float = 0.0
    items_after_days: dict[str, int] = field(default_factory=dict)
    expired_by_ttl: int = 0
    concurrent_joins: int = 0
    concurrent_seconds: float = 0.0
    concurrent_statuses: dict[int, int] = field(default_factory=dict)
    raw_updates: int = 0
    raw_update_seconds: float = 0.0
    restart: dict = field(default_factory=dict)

    @property
    def join_ratio(self) -> float:
        return statistics.median(self.join_after_days) / statistics.median(self.join_at_10)


def _disable_transactions_patch() -> None:
    """moto's own TransactWriteItems, for a before-and-after comparison."""
    from devtools import moto_transactions

    if moto_transactions.installed():
        raise RuntimeError("--raw-moto: the patch is already installed in this process")
    moto_transactions.install = lambda: None


# -- the local stack: embedded DynamoDB (with its data folder) and the API over HTTP ----------

class Stack:
    def __init__(self, data_dir: Path | None):
        from chalicelib import storage
        from chalicelib.domain import accounts
        from devtools.local_server import make_server, start_embedded_dynamodb

        self.moto, self.endpoint = start_embedded_dynamodb(data_dir)
        os.environ["DQS_DYNAMODB_ENDPOINT"] = self.endpoint
        os.environ["DQS_TABLE_PREFIX"] = server_table_prefix()
        os.environ["DQS_DYNAMODB_READ_TIMEOUT"] = "15"  # as make run sets it
        storage.bind()
        storage.create_tables()
        accounts.ensure_admin(ADMIN[0], "admin@clinic.test", ADMIN[1])
        self.server = make_server("127.0.0.1", 0)
        self.host, self.port = self.server.server.server_address[:2]
        threading.Thread(target=self.server.server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self._local = threading.local()

    def call(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, object]:
        """One request on this thread's kept-alive connection (a new one if the server closed it while idle)."""
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        data = json.dumps(body).encode() if body is not None else None
        for attempt in (1, 2):
            connection = getattr(self._local, "connection", None)
            if connection is None:
                connection = self._local.connection = http.client.HTTPConnection(self.host, self.port, timeout=120)
            try:
                connection.request(method, "/api" + path, body=data, headers=headers)
                response = connection.getresponse()
            except (BrokenPipeError, ConnectionResetError, http.client.RemoteDisconnected):
                # Closed by the server after its idle timeout, before it read this request: send it again.
                connection.close()
                self._local.connection = None
                if attempt == 2:
                    raise
                continue
            payload = response.read()
            return response.status, (json.loads(payload) if payload else None)
        raise AssertionError("unreachable")

    def ok(self, method: str, path: str, body=None, token: str | None = None):
        status, payload = self.call(method, path, body, token)
        if status not in (200, 201):
            raise RuntimeError(f"{method} {path}: {status} {payload!r}")
        return payload

    def login(self, username: str, password: str) -> str:
        return self.ok("POST", "/auth/login", {"username": username, "password": password})["token"]

    def staff(self) -> str:
        admin = self.login(*ADMIN)
        self.ok("POST", "/register", {"username": STAFF[0], "email": "engine-desk@clinic.test",
                                      "password": STAFF[1], "role": "staff"}, admin)
        return self.login(*STAFF)

    def patients(self, token: str, n: int, first: int = 1) -> list[int]:
        return [self.ok("POST", "/patients", {"name": f"Engine Patient {i}"}, token)["id"]
                for i in range(first, first + n)]

    def stop(self) -> None:
        self.server.server.shutdown()
        self.server.server.server_close()
        self.moto.stop()
        leave_server_environment()

    def item_counts(self) -> dict[str, int]:
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        prefix = os.environ["DQS_TABLE_PREFIX"]
        tables = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables
        return {name[len(prefix):]: sum(1 for _ in table.all_items()) for name, table in tables.items()
                if name.startswith(prefix)}


@contextmanager
def _clock_at(instant: datetime):
    from chalicelib.domain import clock

    original = clock.now
    state = {"now": instant}
    clock.now = lambda: state["now"]
    try:
        yield state
    finally:
        clock.now = original


def _timed_joins(stack: Stack, token: str, patient_ids: list[int]) -> list[float]:
    times = []
    for patient_id in patient_ids:
        started = time.perf_counter()
        status, body = stack.call("POST", "/queues/join_queue", {"patient_id": patient_id}, token)
        times.append(time.perf_counter() - started)
        if status != 201:
            raise RuntimeError(f"join: {status} {body!r}")
    return times


def _simulate_day(stack: Stack, token: str, patient_ids: list[int], day: datetime) -> None:
    """Everyone joins (4 desks at once, through the morning); the queue closes at the end of the day,
    which expires whoever is left, as the nightly reset would."""
    with _clock_at(day) as clock_state:
        def join(patient_id: int) -> None:
            stack.ok("POST", "/queues/join_queue", {"patient_id": patient_id}, token)

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(join, patient_ids))
        clock_state["now"] = day + timedelta(hours=10)
        stack.ok("POST", "/queues/close", {}, token)


def measure_growth(result: EngineResult, days: int, patients: int, samples: int, log=print) -> None:
    with tempfile.TemporaryDirectory(prefix="dqs-engine-") as folder:
        stack = Stack(Path(folder))
        try:
            token = stack.staff()
            pool = stack.patients(token, max(patients, samples + 10))
            # A fresh queue holding 10 entries: the first `samples` joins after 10 others.
            _timed_joins(stack, token, pool[:10])
            result.join_at_10 = _timed_joins(stack, token, pool[10:10 + samples])
            log(f"  join at 10 entries: median {statistics.median(result.join_at_10) * 1000:.1f} ms")
            # Back in time: `days` earlier days, each with `patients` patients; today's entries so far
            # stay, as they would.
            today = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
            started = time.perf_counter()
            for offset in range(days, 0, -1):
                _simulate_day(stack, token, pool[:patients], today - timedelta(days=offset))
                if offset % 5 == 0 or offset == 1:
                    log(f"  day -{offset} simulated ({time.perf_counter() - started:.0f} s so far)")
            result.simulate_seconds = time.perf_counter() - started
            stack.moto.journal.sweeper.last -= 3600  # the next request sweeps, as a minute later it would
            stack.call("GET", "/departments", None, token)
            result.items_after_days = stack.item_counts()
            result.days, result.patients = days, patients
            # Today again, after the days: a second batch of joins on today's queue.
            later = pool[10 + samples:10 + 2 * samples]
            if len(later) < samples:
                later = stack.patients(token, samples, first=len(pool) + 1)
            result.join_after_days = _timed_joins(stack, token, later)
            log(f"  join after {days} days: median {statistics.median(result.join_after_days) * 1000:.1f} ms "
                f"({result.items_after_days})")
            measure_concurrency(result, stack, token, log)
        finally:
            stack.stop()


def measure_concurrency(result: EngineResult, stack: Stack, token: str, log=print, joins: int = 200) -> None:
    import boto3
    from botocore.config import Config

    ids = stack.patients(token, joins, first=100_000)
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        statuses = list(pool.map(
            lambda pid: stack.call("POST", "/queues/join_queue", {"patient_id": pid}, token)[0], ids))
    result.concurrent_seconds = time.perf_counter() - started
    result.concurrent_joins = joins
    result.concurrent_statuses = {s: statuses.count(s) for s in sorted(set(statuses))}
    # moto's raw rate: the same number of plain UpdateItem requests (an atomic ADD) from 16 threads.
    local = threading.local()

    def client():
        if getattr(local, "client", None) is None:
            local.client = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name="us-east-1",
                                        config=Config(max_pool_connections=THREADS))
        return local.client

    table = os.environ["DQS_TABLE_PREFIX"] + "counters"
    counter = itertools.count()

    def update(_):
        client().update_item(TableName=table, Key={"name": {"S": f"engine-bench-{next(counter) % 50}"}},
                             UpdateExpression="ADD #v :one", ExpressionAttributeNames={"#v": "value"},
                             ExpressionAttributeValues={":one": {"N": "1"}})

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(update, range(THREADS)))  # clients made
        started = time.perf_counter()
        list(pool.map(update, range(joins)))
    result.raw_update_seconds = time.perf_counter() - started
    result.raw_updates = joins
    log(f"  {joins} joins from {THREADS} threads: {joins / result.concurrent_seconds:.1f}/s "
        f"({result.concurrent_statuses}); moto's UpdateItem: {joins / result.raw_update_seconds:.1f}/s")


# -- restart ----------------------------------------------------------------------------------

RESTART_TABLE = "engine-restart"


def _restart_writes(client, live: int, writes: int, transactions: int) -> None:
    """`writes` write requests leaving `live` items: puts of new items first, then updates of them,
    `transactions` of all of them TransactWriteItems of 2 updates each (as a status change is)."""
    client.create_table(
        TableName=RESTART_TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"},
                              {"AttributeName": "day_key", "AttributeType": "S"},
                              {"AttributeName": "token_number", "AttributeType": "N"}],
        GlobalSecondaryIndexes=[{"IndexName": "day-index", "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "day_key", "KeyType": "HASH"},
                                               {"AttributeName": "token_number", "KeyType": "RANGE"}]}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})

    def item(i: int) -> dict:
        return {"id": {"N": str(i)}, "day_key": {"S": f"general#2026-01-{1 + i % 28:02d}"},
                "token_number": {"N": str(i)}, "patient": {"N": str(1000 + i)}, "status": {"S": "waiting"},
                "priority": {"S": "normal"}, "created_at": {"S": "2026-01-01T08:00:00Z"},
                "history": {"L": [{"M": {"status": {"S": "waiting"}, "at": {"S": "2026-01-01T08:00:00Z"}}}]}}

    for i in range(1, live + 1):
        client.put_item(TableName=RESTART_TABLE, Item=item(i))
    plain = writes - live - transactions
    for n in range(plain):
        client.update_item(TableName=RESTART_TABLE, Key={"id": {"N": str(1 + n % live)}},
                           UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                           ExpressionAttributeValues={":s": {"S": "called"}})
    for n in range(transactions):
        a, b = 1 + (2 * n) % live, 1 + (2 * n + 1) % live
        client.transact_write_items(TransactItems=[
            {"Update": {"TableName": RESTART_TABLE, "Key": {"id": {"N": str(key)}},
                        "UpdateExpression": "SET #s = :s", "ConditionExpression": "attribute_exists(id)",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {":s": {"S": "served" if key == a else "no_show"}}}}
            for key in (a, b)])


def _restart(folder: str) -> tuple[float, object]:
    """Stop-and-start as `make run` restores: a fresh backend, then the data folder. (seconds, Restored)"""
    from moto.moto_api._internal import moto_api_backend

    from devtools.local_server import start_embedded_dynamodb

    moto_api_backend.reset()
    started = time.perf_counter()
    server, _ = start_embedded_dynamodb(folder)
    seconds = time.perf_counter() - started
    restored = server.restored
    server.stop()
    return seconds, restored


def measure_restart(live: int = 10_000, writes: int = 20_000, transactions: int = 5_000, log=print) -> dict:
    """The restart after the writes; and the worst case: the same data with the journal one record short of
    its next compaction (the most requests a restart can have to replay)."""
    from moto.moto_api._internal import moto_api_backend

    from devtools.local_server import start_embedded_dynamodb

    with tempfile.TemporaryDirectory(prefix="dqs-restart-") as folder:
        moto_api_backend.reset()
        server, _ = start_embedded_dynamodb(folder)
        started = time.perf_counter()
        _restart_writes(server.client(), live, writes, transactions)
        write_seconds = time.perf_counter() - started
        compactions = server.journal.compactions - 1  # the start's own
        compact_seconds = server.journal.compact_seconds
        server.stop()
        journal = Path(folder) / "dynamodb.journal"
        size = journal.stat().st_size
        records = sum(1 for _ in journal.open("rb"))
        seconds, restored = _restart(folder)

        # Worst case: after the restart's own compaction, updates up to one short of the next.
        moto_api_backend.reset()
        server, _ = start_embedded_dynamodb(folder)
        client = server.client()
        allowed = server.journal.records_allowed()
        for n in range(allowed - server.journal.appended):
            client.transact_write_items(TransactItems=[{"Update": {
                "TableName": RESTART_TABLE, "Key": {"id": {"N": str(1 + n % live)}},
                "UpdateExpression": "SET #s = :s", "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {":s": {"S": f"called-{n}"}}}}])
        server.stop()
        worst_seconds, worst = _restart(folder)
        moto_api_backend.reset()
    if restored.failed or worst.failed:
        raise RuntimeError(f"the restart replayed {restored.failed + worst.failed} records with errors")
    figures = {"live": live, "writes": writes, "transactions": transactions, "write_seconds": write_seconds,
               "compactions": compactions, "journal_records": records, "journal_mb": size / 1e6,
               "replayed": restored.records, "items": restored.items, "seconds": seconds,
               "compact_seconds": compact_seconds, "worst_seconds": worst_seconds, "worst_records": worst.records,
               "worst_items": worst.items}
    log(f"  restart: {restored.items} items from {records} journal records ({size / 1e6:.1f} MB, "
        f"{compactions} compactions while writing) in {seconds:.1f} s; with {allowed} transactions appended "
        f"since the last compaction (the most before the next): {worst.items} items in {worst_seconds:.1f} s")
    return figures


def section(result: EngineResult) -> list[str]:
    lines = ["## The embedded DynamoDB as the data grows", "",
             "bench/engine.py: the local server over HTTP (keep-alive) on `make run`'s embedded DynamoDB, with its "
             "data folder and journal" + (" (moto's own transactions, without devtools/moto_transactions.py)"
                                          if result.raw_moto else "") + ".", ""]
    if result.join_at_10:
        at10, after = statistics.median(result.join_at_10), statistics.median(result.join_after_days)
        lines += [
            "| figure | value |", "|---|---:|",
            f"| join, median, 10 entries today | {at10 * 1000:.1f} ms |",
            f"| join, median, after {result.days} simulated days of {result.patients} patients "
            f"| {after * 1000:.1f} ms |",
            f"| ratio (goal: at most 2) | {result.join_ratio:.2f} |",
            f"| {result.concurrent_joins} joins from {THREADS} threads | "
            f"{result.concurrent_joins / result.concurrent_seconds:.1f} joins/s |",
            f"| moto's plain UpdateItem from {THREADS} threads, same run | "
            f"{result.raw_updates / result.raw_update_seconds:.1f} requests/s |", "",
            f"Each simulated day: every patient joins (4 at a time) and the queue closes at the day's end, on a "
            "clock set to that day "
            f"({result.simulate_seconds:.0f} s for the {result.days} days). Items then stored, by table: "
            + ", ".join(f"{name} {n:,}" for name, n in sorted(result.items_after_days.items())) + ". "
            "Old days' claims and counters are gone by their Time to Live. Joins answered in the concurrent run: "
            + ", ".join(f"{status}: {n}" for status, n in result.concurrent_statuses.items()) + ".", ""]
    if result.restart:
        r = result.restart
        lines += [f"Restart: {r['items']:,} live items after {r['writes']:,} writes ({r['transactions']:,} of them "
                  f"transactions): the journal held {r['journal_records']:,} records ({r['journal_mb']:.1f} MB; "
                  f"compacted {r['compactions']} times while written, {r['compact_seconds']:.1f} s in all); "
                  f"restored in **{r['seconds']:.1f} s** (goal: 15 s). Writing them took {r['write_seconds']:.0f} s "
                  "(one at a time, each on disk before its answer). The worst case, the same items with the journal "
                  f"one record short of its next compaction ({r['worst_records']:,} records, most of them "
                  f"transactions to replay): **{r['worst_seconds']:.1f} s**.", ""]
    return lines


def measure(days: int = 30, patients: int = 300, samples: int = 20, restart: bool = True, raw_moto: bool = False,
            restart_scale: float = 1.0, log=print) -> EngineResult:
    """Every figure of this module, from one run (`restart_scale` shrinks the restart's data, for smoke tests)."""
    if raw_moto:
        _disable_transactions_patch()
    result = EngineResult(raw_moto=raw_moto)
    if days:
        measure_growth(result, days, patients, samples, log)
    if restart:
        result.restart = measure_restart(int(10_000 * restart_scale), int(20_000 * restart_scale),
                                         int(5_000 * restart_scale), log=log)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--patients", type=int, default=300)
    parser.add_argument("--samples", type=int, default=20, help="timed joins at each size")
    parser.add_argument("--raw-moto", action="store_true", help="without devtools/moto_transactions.py")
    parser.add_argument("--skip-restart", action="store_true")
    parser.add_argument("--restart-scale", type=float, default=1.0, help="shrink the restart's data (e.g. 0.1)")
    args = parser.parse_args(argv)
    prepare_environment()
    import logging

    logging.getLogger("dqs.requests").setLevel(logging.WARNING)
    result = measure(args.days, args.patients, args.samples, not args.skip_restart, args.raw_moto,
                     args.restart_scale, log=lambda m: print(m, file=sys.stderr, flush=True))
    print("\n".join(section(result)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
