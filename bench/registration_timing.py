"""Registration timing: does a registration with an email in use take as long whoever holds it
(an account, a walk-in's patient record) as one with an unused email?

  .venv/bin/python -m bench.registration_timing [--tries 60] [--transport client|http|both]

The login-timing method (bench/login_timing.py): `tries` registrations of each kind, a fresh
username each, in one shuffled order, timed from the client's side; the figures are the medians
and the differences of medians against the unused email, with 95% bootstrap intervals. The
registration throttle is raised for the run (every registration comes from one address).
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

from bench.harness import ADMIN, Transport, prepare_environment  # noqa: E402
from bench.login_timing import SEED, bootstrap_interval  # noqa: E402

KINDS = ("account", "walk-in", "unused")


@dataclass
class RegistrationTiming:
    transport: str
    tries: int
    medians_s: dict[str, float]
    # Against the unused email: (difference of medians, low, high).
    differences_s: dict[str, tuple[float, float, float]]
    statuses: dict[str, set[int]]


def measure(transport: Transport, tries: int, log=None) -> RegistrationTiming:
    started = time.perf_counter()
    admin = transport.login(*ADMIN)["token"]
    password = "timing-password-1"
    emails = {"account": [], "walk-in": [], "unused": []}
    for i in range(tries):
        email = f"held-{i:05d}@clinic.test"
        transport.ok("POST", "/register", {"username": f"holder-{i:05d}", "email": email, "password": password,
                                           "date_of_birth": "1990-01-15"}, token=admin, expect=201)
        emails["account"].append(email)
        email = f"walk-{i:05d}@clinic.test"
        transport.ok("POST", "/patients", {"name": "Walk In", "email": email, "date_of_birth": "1980-02-02"},
                     token=admin, expect=201)
        emails["walk-in"].append(email)
        emails["unused"].append(f"free-{i:05d}@clinic.test")
    for i in range(5):  # warm-up
        transport.call("POST", "/register", {"username": f"warm-{i:05d}", "email": f"warm-{i}@clinic.test",
                                             "password": password, "date_of_birth": "1990-01-15"})
    order = [(kind, i) for kind in KINDS for i in range(tries)]
    random.Random(SEED).shuffle(order)
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    statuses: dict[str, set[int]] = {kind: set() for kind in KINDS}
    for n, (kind, i) in enumerate(order):
        reply = transport.call("POST", "/register", {"username": f"newcomer-{n:05d}", "email": emails[kind][i],
                                                     "password": password, "date_of_birth": "1990-01-15"})
        times[kind].append(reply.seconds)
        statuses[kind].add(reply.status)
    medians = {kind: statistics.median(values) for kind, values in times.items()}
    differences = {}
    for kind in ("account", "walk-in"):
        low, high = bootstrap_interval(times[kind], times["unused"])
        differences[kind] = (medians[kind] - medians["unused"], low, high)
    low, high = bootstrap_interval(times["account"], times["walk-in"])
    differences["account-vs-walk-in"] = (medians["account"] - medians["walk-in"], low, high)
    if log:
        log(f"  registration timing over {transport.name}: {time.perf_counter() - started:.1f} s")
    return RegistrationTiming(transport.name, tries, medians, differences, statuses)


def section(results: list[RegistrationTiming]) -> list[str]:
    lines = ["## Registration timing: an email in use (by an account, by a walk-in) and an unused one", "",
             "| transport | account | walk-in | unused | account - unused | walk-in - unused | account - walk-in |"
             " statuses |", "|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        diffs = [f"{d * 1000:+.2f} ({lo * 1000:+.2f} to {hi * 1000:+.2f})"
                 for d, lo, hi in (r.differences_s[k] for k in ("account", "walk-in", "account-vs-walk-in"))]
        lines.append(f"| {r.transport} | " + " | ".join(f"{r.medians_s[k] * 1000:.2f}" for k in KINDS) + " | "
                     + " | ".join(diffs) + " | "
                     + ", ".join(f"{k}: {sorted(r.statuses[k])}" for k in KINDS) + " |")
    return [*lines, "", "Medians in ms; differences of medians with 95% bootstrap intervals.", ""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=60, help="registrations of each kind (default 60)")
    parser.add_argument("--transport", choices=("client", "http", "both"), default="client")
    args = parser.parse_args(argv)
    prepare_environment()
    import logging

    from app import app  # noqa: F401
    from bench.harness import ClientTransport, HttpTransport

    logging.getLogger("dqs.invocations").setLevel(logging.WARNING)
    classes = {"client": [ClientTransport], "http": [HttpTransport],
               "both": [ClientTransport, HttpTransport]}[args.transport]
    results = []
    for transport_class in classes:
        transport = transport_class()
        try:
            results.append(measure(transport, args.tries, log=lambda m: print(m, file=sys.stderr, flush=True)))
        finally:
            transport.close()
    print("\n".join(section(results)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
