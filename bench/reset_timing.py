"""Password reset request timing: does asking for a code take longer for an email an account has?

  .venv/bin/python -m bench.reset_timing [--tries 60]

The login-timing method (bench/login_timing.py): `tries` emails that accounts have and as many
that none has each get one `POST /auth/password/reset/`, in one shuffled order, timed from the
client's side (chalice.test.Client on moto, whose SES accepts the emails). Every email is asked for
once, so the request limit never comes in. Measured twice: with the answer's floor
(password_reset.ANSWER_FLOOR_SECONDS, as deployed) and without it (0), which shows what the floor hides.
The figure is median(known) - median(unknown) with a 95% bootstrap interval.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import prepare_environment  # noqa: E402
from bench.login_timing import SEED, bootstrap_interval  # noqa: E402

SENDER = "clinic@example.com"


def measure(transport, tries: int, floor: float, tag: str) -> tuple[float, float, float, float, float]:
    from chalicelib.domain.accounts import password_reset

    password_reset.ANSWER_FLOOR_SECONDS = floor
    known = [f"reset-{tag}-k-{i:05d}" for i in range(tries)]
    for username in known:
        transport.ok("POST", "/register", {"username": username, "email": f"{username}@clinic.test",
                                           "password": "timing-password-1", "date_of_birth": "1990-01-15"},
                     expect=201)
    for i in range(5):  # warm-up
        transport.ok("POST", "/auth/password/reset", {"email": f"reset-{tag}-w-{i:05d}@clinic.test"})
    order = ([(True, f"{name}@clinic.test") for name in known]
             + [(False, f"reset-{tag}-u-{i:05d}@clinic.test") for i in range(tries)])
    random.Random(SEED).shuffle(order)
    times: dict[bool, list[float]] = {True: [], False: []}
    for exists, email in order:
        reply = transport.call("POST", "/auth/password/reset", {"email": email})
        if reply.status != 200:
            raise RuntimeError(f"reset request: {reply.status} {reply.body!r}")
        times[exists].append(reply.seconds)
    k, u = statistics.median(times[True]), statistics.median(times[False])
    low, high = bootstrap_interval(times[True], times[False])
    return k, u, k - u, low, high


_refused: list[int] = []


def telemetry_failures() -> int:
    return len(_refused)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tries", type=int, default=60, help="emails of each kind (default 60)")
    args = parser.parse_args(argv)
    prepare_environment()
    os.environ.setdefault("DQS_EMAIL_SENDER", SENDER)
    os.environ.pop("DQS_MESSAGING_ENDPOINT", None)
    import logging

    import boto3

    from bench.harness import ClientTransport
    from chalicelib.domain.accounts import password_reset

    logging.getLogger("dqs.invocations").setLevel(logging.WARNING)
    logging.getLogger("dqs.messages").setLevel(logging.WARNING)
    logging.getLogger("dqs.password_reset").addFilter(lambda record: _refused.append(1) and False)
    transport = ClientTransport()
    try:
        from chalicelib.settings import get_settings

        settings = get_settings()
        boto3.client("ses", region_name=settings.region).verify_email_identity(EmailAddress=settings.email_sender)
        rows = [("with the floor (%.0f ms)" % (password_reset.ANSWER_FLOOR_SECONDS * 1000),
                 measure(transport, args.tries, password_reset.ANSWER_FLOOR_SECONDS, "f")),
                ("without the floor", measure(transport, args.tries, 0.0, "n"))]
        failures = telemetry_failures()
    finally:
        transport.close()
    print(f"(emails refused by moto's SES: {failures})\n")
    print(f"## Password reset request timing: known and unknown emails ({args.tries} of each, ms)\n")
    print("| answer | known: median | unknown: median | difference | 95% interval |\n|---|---:|---:|---:|---:|")
    for name, (k, u, d, low, high) in rows:
        print(f"| {name} | {k * 1000:.2f} | {u * 1000:.2f} | {d * 1000:+.2f} | "
              f"{low * 1000:+.2f} to {high * 1000:+.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
