"""`make bench`: what each request costs, as a markdown table in docs/BENCHMARKS.md.

  .venv/bin/python -m bench.run [--runs 20] [--quick] [--no-write]

1. per endpoint: DynamoDB calls, median and p95 latency through chalice.test.Client on
   moto and through the local HTTP server on moto's server (bench/endpoints.py);
2. as the data grows: today's queue with 10 and 10,000 entries, a list of 100 and
   100,000 patients (bench/growth.py);
3. cold start against a bare Chalice app with the same libraries (bench/cold_start.py);
4. concurrent joins and calls over HTTP, and whether the queue stayed correct
   (bench/concurrency.py);
5. whether a failed login takes longer for a username that exists (bench/login_timing.py);
6. a simulated clinic day at the desk: calls per operation, growth from 10 to 1,000
   entries, the wait estimate's error (bench/desk_day.py);
7. the embedded DynamoDB as a clinic's data grows: join latency at 10 entries and after 30
   simulated days of 300 patients, concurrent joins against moto's raw UpdateItem rate, and the
   restart time of 10,000 live items after 20,000 writes (bench/engine.py).
8. the live path: the stream handler's DynamoDB calls per entry change and per batch, with no screen
   watching and with one, and one invocation pushing to 2,000 connections (bench/live_push.py);
9. the cost of 1,000 clinic visits on AWS, from the counted calls and list prices (bench/cost.py).
"""
from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import PROJECT_DIR, ms, prepare_environment  # noqa: E402

OUTPUT = PROJECT_DIR / "docs" / "BENCHMARKS.md"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _sizes(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part]


def _n(value: int) -> str:
    return f"{value:,}"


def endpoint_section(runs: int) -> list[str]:
    from bench import endpoints
    from bench.harness import ClientTransport, HttpTransport

    by_transport = {}
    for transport_class in (ClientTransport, HttpTransport):
        started = time.perf_counter()
        transport = transport_class()
        try:
            by_transport[transport_class] = endpoints.measure(transport, runs)
        finally:
            transport.close()
        log(f"  {transport_class.name}: {time.perf_counter() - started:.1f} s")
    client, http = by_transport[ClientTransport], by_transport[HttpTransport]
    lines = [
        "## Per endpoint",
        "",
        f"{runs} requests per endpoint after one warm-up, one at a time; latency as the client sees it, in ms.",
        "",
        "| endpoint | DynamoDB calls | which | Client on moto: median | p95 | HTTP on moto's server: median | p95 |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for key, result in client.items():
        over_http = http[key]
        calls = str(result.calls) if result.calls == over_http.calls else f"{result.calls} / {over_http.calls}"
        lines.append(f"| `{result.method} {result.path}` | {calls} | {result.call_names} | {ms(result.median_s)} | "
                     f"{ms(result.p95_s)} | {ms(over_http.median_s)} | {ms(over_http.p95_s)} |")
    _, missing = endpoints.endpoints()
    lines += ["", "Routes without a sample request (not measured): "
              + (", ".join(f"`{m} {p}`" for m, p in missing) if missing else "none.")]
    return lines


def growth_section(runs: int, queue_sizes: list[int], list_sizes: list[int]) -> list[str]:
    from bench import growth

    def table(title: str, what: str, measure, sizes: list[int], requests: tuple[str, ...]) -> list[str]:
        rows = {}
        for size in sizes:
            started = time.perf_counter()
            for result in measure(size, runs, log=log):
                rows[(result.request, size)] = result
            log(f"  {what} at {_n(size)}: {time.perf_counter() - started:.1f} s")
        head = " | ".join(f"calls at {_n(s)}" for s in sizes) + " | " + " | ".join(
            f"median ms at {_n(s)}" for s in sizes) + " | " + " | ".join(f"p95 ms at {_n(s)}" for s in sizes)
        out = [f"### {title}", "", f"| request | {head} |", "|---|" + "---:|" * (3 * len(sizes))]
        for request in requests:
            cells = [f"{rows[(request, s)].calls} ({rows[(request, s)].call_names})" for s in sizes]
            cells += [ms(rows[(request, s)].median_s) for s in sizes]
            cells += [ms(rows[(request, s)].p95_s) for s in sizes]
            out.append(f"| {request} | " + " | ".join(cells) + " |")
        return out + [""]

    lines = ["## As the data grows", "",
             f"chalice.test.Client on moto, {runs} requests each. The data is batch-written through the storage "
             "layer. moto answers a Query on an index by going through every item of the table, so its latency "
             "grows with the data where DynamoDB's does not: the calls are the figure that carries over. Its "
             "transactions are undone item by item, as in `make run` (devtools/moto_transactions.py).", ""]
    lines += table("Today's queue (every entry waiting: the worst case for the desk and for positions)",
                   "queue", growth.queue_growth, queue_sizes, growth.QUEUE_REQUESTS)
    lines += ["`position` is of the last entry, with everyone else ahead of it: it counts the waiting entries "
              "ahead with a COUNT Query on the waiting index, which reads at most 1 MB of index entries per call, "
              "so it takes one more call per few thousand people waiting ahead (on DynamoDB as on moto). Entries "
              "already called or served cost nothing. `mark_served` serves entries from the end of the queue; "
              "`call_next` calls from the front.", ""]
    lines += table("A list: `GET /patients?limit=50` over all stored patients", "patients",
                   growth.list_growth, list_sizes, growth.LIST_REQUESTS)
    return lines


def cold_start_section(runs: int) -> list[str]:
    from bench import cold_start
    from devtools.package.operations import RUNTIME as runtime

    started = time.perf_counter()
    result = cold_start.measure(runs)
    log(f"  cold start: {time.perf_counter() - started:.1f} s")
    app, floor = result["app"], result["floor"]
    offsets = cold_start.STACK_OFFSETS
    return [
        "## Cold start",
        "",
        "A fresh process imports the app and the Lambda handler serves one `GET /departments` with a token "
        "(checks it against the users table, then one Query on the departments table), in ms. Both run from "
        "the unpacked deployment zip of `make package`, with its bytecode, read-only, in an isolated "
        f"{runtime} interpreter (the functions' runtime), with boto3/botocore (and their bytecode) from "
        "outside the zip as the Lambda runtime provides them. The floor is a bare Chalice app importing the "
        "same libraries (chalice, pynamodb, PyJWT, argon2), compiled the same way, answering a constant.",
        "",
        f"Each side is measured {runs} times at each of {len(offsets)} stack depths (the importing frame "
        f"holding {offsets[0]} to {offsets[-1]} locals, {offsets[1] - offsets[0]} apart): CPython (3.11 "
        "and later) allocates frames in 16 KiB chunks and frees a chunk when it empties, so an import whose recursion "
        "(the regex parser's, compiling urllib3's patterns) runs back and forth across a chunk's end maps and "
        "unmaps memory on every call, and can take 50 ms longer for it. Where the chunks end depends on the "
        "depth the runtime imports the handler from, which is not this one's; the medians are over all depths.",
        "",
        f"Import, app over floor: **{app['import'] / floor['import']:.2f}x** (median of each side); "
        "at each depth: " + ", ".join(f"{ratio:.2f}" for ratio in result["by_offset"].values()) + ".",
        "",
        "| | import | first request | second request | whole process (interpreter start to exit) |",
        "|---|---:|---:|---:|---:|",
        f"| this app | {ms(app['import'])} | {ms(app['first'])} | {ms(app['second'])} | {ms(app['process'])} |",
        f"| bare Chalice app, same libraries (the floor) | {ms(floor['import'])} | {ms(floor['first'])} | "
        f"{ms(floor['second'])} | {ms(floor['process'])} |",
        f"| difference | {ms(app['import'] - floor['import'])} | {ms(app['first'] - floor['first'])} | "
        f"{ms(app['second'] - floor['second'])} | {ms(app['process'] - floor['process'])} |",
        "",
        "What the first request costs beyond the second is one-time work done on first use: the settings, "
        "PyJWT, and the DynamoDB client (botocore reading the DynamoDB API description) and its connection. "
        "Every table and transaction shares that one client, so later requests that touch other tables pay "
        "none of it again. Nothing touches AWS at import.",
        "",
        f"The slowest imports, by their own time (`-X importtime`, median over the depths, ms); the app's own "
        f"modules (app and chalicelib) take {result['own_ms']:.1f} ms together:",
        "",
        "| module | ms |",
        "|---|---:|",
        *[f"| `{name}` | {seconds:.1f} |" for name, seconds in result["profile"]],
        "",
    ]


def concurrency_section(joins: int, threads: int, desks: tuple[int, ...]) -> list[str]:
    from bench import concurrency

    started = time.perf_counter()
    results = [result for points in (False, True) for count in desks
               for result in concurrency.measure(joins, threads, count, points)]
    log(f"  concurrency: {time.perf_counter() - started:.1f} s")
    lines = [
        "## Concurrent joins and calls",
        "",
        f"The local HTTP server on moto's server (as `make run`). {joins} patients join today's queue from "
        f"{threads} threads at once; then {', '.join(map(str, desks))} desks call the next token at once until "
        "the queue is empty (a fresh queue for each): in the general queue, and in a department's queue with "
        "one service point per desk, each desk calling to its own. Duplicates: token numbers given twice (joins), "
        "entries called twice (calls). Missing: token numbers skipped, or joined entries not called (or not stored as "
        "called). Calls per entry: every DynamoDB call of the phase (the callers' own lookups, collisions "
        "between desks and each desk's last call that finds the queue empty included) over the entries joined "
        "or called.",
        "",
        "| phase | queue | requests | threads | seconds | requests/s | errors | duplicates | missing | DynamoDB calls "
        "per entry |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| `{r.phase}` | {r.queue} | {r.requests} | {r.threads} | {r.seconds:.2f} | {r.per_second:.1f} | "
                     f"{r.errors} | {r.duplicates} | {r.missing} | {r.calls_per_entry:.2f} |")
    lines += ["", "The embedded DynamoDB serves one request at a time (moto takes no locks), so these rates are "
              "the local setup's, not the deployed API's: there each request runs in its own Lambda instance "
              "against DynamoDB.", ""]
    if any(r.errors or r.duplicates or r.missing for r in results):
        lines += ["**The queue was not correct under concurrency: see the counts above.**", ""]
    return lines


def login_timing_section(tries: int) -> list[str]:
    from bench import login_timing

    return login_timing.section(login_timing.run(tries, log=log))


def desk_day_section() -> list[str]:
    from bench import desk_day

    started = time.perf_counter()
    result = desk_day.measure(log=log)
    log(f"  desk day: {time.perf_counter() - started:.1f} s")
    return desk_day.section(result)


def engine_section(days: int, patients: int, restart_scale: float) -> list[str]:
    from bench import engine

    started = time.perf_counter()
    result = engine.measure(days, patients, restart_scale=restart_scale, log=log)
    log(f"  embedded DynamoDB: {time.perf_counter() - started:.1f} s")
    return engine.section(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="timed requests per endpoint (default 20)")
    parser.add_argument("--growth-runs", type=int, default=10)
    parser.add_argument("--queue-sizes", default="10,10000")
    parser.add_argument("--list-sizes", default="100,100000")
    parser.add_argument("--cold-runs", type=int, default=5, help="rounds of the cold start's stack depths")
    parser.add_argument("--joins", type=int, default=200)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--desks", default="1,4,16", help="desk counts to measure, comma-separated")
    parser.add_argument("--timing-tries", type=int, default=150, help="usernames of each kind for login timing")
    parser.add_argument("--no-desk-day", action="store_true", help="skip the simulated clinic day (minutes on moto)")
    parser.add_argument("--engine-days", type=int, default=30, help="simulated days before the engine's join latency")
    parser.add_argument("--engine-patients", type=int, default=300, help="patients a simulated day")
    parser.add_argument("--no-engine", action="store_true", help="skip the embedded DynamoDB's growth and restart")
    parser.add_argument("--quick", action="store_true", help="small sizes and few runs, for a smoke test")
    parser.add_argument("--no-write", action="store_true", help=f"print only; do not write {OUTPUT.name}")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.growth_runs, args.cold_runs, args.joins, args.timing_tries = 3, 3, 1, 30, 20
        args.queue_sizes, args.list_sizes = "10,200", "100,1000"
        args.engine_days, args.engine_patients = 2, 50

    prepare_environment()
    from app import app  # noqa: F401

    logging.getLogger("dqs.invocations").setLevel(logging.WARNING)  # no line per request in the output
    started = time.perf_counter()
    log("cold start...")  # first: before this process holds the data of the sections below
    cold_start = cold_start_section(args.cold_runs)
    log("per endpoint...")
    body = endpoint_section(args.runs)
    log("as the data grows...")
    body += [""] + growth_section(args.growth_runs, _sizes(args.queue_sizes), _sizes(args.list_sizes))
    body += cold_start
    log("concurrency...")
    body += concurrency_section(args.joins, args.threads, tuple(_sizes(args.desks)))
    log("login timing...")
    body += login_timing_section(args.timing_tries)
    if not args.no_desk_day:
        log("a clinic day at the desk...")
        body += desk_day_section()
    if not args.no_engine:
        log("the embedded DynamoDB as the data grows...")
        body += engine_section(args.engine_days, args.engine_patients, 0.1 if args.quick else 1.0)
    log("cost per 1,000 visits...")
    from bench import cost, live_push

    costs = cost.section()
    log("the live path...")  # after the cost: its own embedded DynamoDB, the environment restored after
    body += [""] + live_push.section(live_push.run(2000 if not args.quick else 200)) + costs
    elapsed = time.perf_counter() - started

    header = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (bench/run.py) on {datetime.now(UTC):%Y-%m-%d}, in {elapsed:.0f} s: "
        f"{_cpu()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}. "
        "DynamoDB is moto (in this process for chalice.test.Client, its HTTP server otherwise), so the latencies "
        "are this machine's and moto's; DynamoDB calls per request are the application's and carry over to AWS.",
        "",
        "Over HTTP each request opens a new connection, as curl does.",
        "",
    ]
    text = "\n".join(header + body).rstrip() + "\n"
    print(text)
    if not args.no_write:
        OUTPUT.write_text(text)
        log(f"written to {OUTPUT.relative_to(PROJECT_DIR)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
