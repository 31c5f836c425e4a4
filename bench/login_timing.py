"""Login timing: does a failed login take longer for a username that exists than for one that does not?

  .venv/bin/python -m bench.login_timing [--tries 150] [--transport client|http|both]

`tries` usernames that exist and as many that do not each get one login with a wrong
password, in one shuffled order (so drift in the machine's speed falls on both alike),
timed from the client's side. Every username is tried once, so the throttle of failed
logins never comes in. The figure is the difference of the medians (known minus unknown)
with a 95% bootstrap confidence interval (the two samples resampled with replacement).
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Transport, prepare_environment  # noqa: E402

SEED = 20261127
BOOTSTRAP_REPS = 4000
GOAL_MS = 2.0


@dataclass
class TimingResult:
    transport: str
    tries: int
    known_median_s: float
    unknown_median_s: float
    difference_s: float
    low_s: float
    high_s: float


def bootstrap_interval(known: list[float], unknown: list[float], reps: int = BOOTSTRAP_REPS,
                       seed: int = SEED) -> tuple[float, float]:
    """The 95% percentile-bootstrap interval of median(known) - median(unknown)."""
    rng = random.Random(seed)
    differences = sorted(statistics.median(rng.choices(known, k=len(known)))
                         - statistics.median(rng.choices(unknown, k=len(unknown))) for _ in range(reps))
    return differences[int(0.025 * reps)], differences[int(0.975 * reps) - 1]


def measure(transport: Transport, tries: int, log=None) -> TimingResult:
    """Register `tries` users, then time one wrong-password login for each and for as many unknown names."""
    started = time.perf_counter()
    known = [f"timing-k-{i:05d}" for i in range(tries)]
    unknown = [f"timing-u-{i:05d}" for i in range(tries)]  # the same length as the known ones
    for username in known:
        transport.ok("POST", "/register", {"username": username, "email": f"{username}@clinic.test",
                                           "password": "timing-password-1", "date_of_birth": "1990-01-15"},
                     expect=201)
    for i in range(5):  # warm-up: connections, the password-check of unknown names
        transport.call("POST", "/auth/login", {"username": f"timing-w-{i:05d}", "password": "wrong-password"})
        transport.ok("POST", "/auth/login", {"username": known[0], "password": "timing-password-1"})
    order = [(True, name) for name in known] + [(False, name) for name in unknown]
    random.Random(SEED).shuffle(order)
    times: dict[bool, list[float]] = {True: [], False: []}
    for exists, username in order:
        reply = transport.call("POST", "/auth/login", {"username": username, "password": "wrong-password"})
        if reply.status != 401:
            raise RuntimeError(f"login {username}: {reply.status} {reply.body!r}")
        times[exists].append(reply.seconds)
    known_median, unknown_median = statistics.median(times[True]), statistics.median(times[False])
    low, high = bootstrap_interval(times[True], times[False])
    if log:
        log(f"  login timing over {transport.name}: {time.perf_counter() - started:.1f} s")
    return TimingResult(transport.name, tries, known_median, unknown_median, known_median - unknown_median,
                        low, high)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:+.2f}"


def section(results: list[TimingResult]) -> list[str]:
    """The benchmark report's section on login timing."""
    tries = results[0].tries if results else 0
    lines = [
        "## Login timing: known and unknown usernames",
        "",
        f"{tries} usernames that exist and {tries} that do not, each tried once with a wrong password, in one "
        "shuffled order; latency as the client sees it, in ms. The difference is median(known) - median(unknown), "
        f"with a 95% bootstrap confidence interval ({BOOTSTRAP_REPS} resamples). Goal: under {GOAL_MS:g} ms.",
        "",
        "| transport | known: median | unknown: median | difference | 95% interval |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r.transport} | {r.known_median_s * 1000:.2f} | {r.unknown_median_s * 1000:.2f} | "
                     f"{_ms(r.difference_s)} | {_ms(r.low_s)} to {_ms(r.high_s)} |")
    lines += ["", "Both kinds of username take the same path: the count of the attempt (one conditional write), "
              "the username's claim, then the user (for a name nobody has, a stand-in user whose item is "
              "dropped), one argon2id check. What still differs is that the claim of a known name is found and "
              "returned, a few dozen bytes more than an empty answer. Latency on this machine varies with what "
              "else runs on it: the interval says how far the figure can be trusted.", ""]
    return lines


def run(tries: int, transports: str = "both", log=None) -> list[TimingResult]:
    from bench.harness import ClientTransport, HttpTransport

    classes = {"client": [ClientTransport], "http": [HttpTransport],
               "both": [ClientTransport, HttpTransport]}[transports]
    results = []
    for transport_class in classes:
        transport = transport_class()
        try:
            results.append(measure(transport, tries, log))
        finally:
            transport.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=150, help="usernames of each kind (default 150)")
    parser.add_argument("--transport", choices=("client", "http", "both"), default="both")
    args = parser.parse_args(argv)
    prepare_environment()
    import logging

    from app import app  # noqa: F401

    logging.getLogger("dqs.invocations").setLevel(logging.WARNING)
    results = run(args.tries, args.transport, log=lambda message: print(message, file=sys.stderr, flush=True))
    print("\n".join(section(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
