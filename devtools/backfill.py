"""Bring a stage's older records up to what its current code reads (after upgrading a stage).

  python -m devtools.backfill --stage prod --region eu-west-1

Three passes, each in id order, in batches, with your own AWS credentials (as create_admin):
- patients written before the patient search's index existed get their index items (found by
  GET /patients/?search=&phone=&date_of_birth=);
- accounts written before the admin's prefix filters get their lowercased username and email (found
  by GET /users/?username=&email=);
- service points of departments that were inactive before points carried it are marked so, and
  refuse calls as the department does.
Each record is written with the same storage code as the API's writes, only where something is
missing, conditional on the record being as read. Running it again writes nothing new, so a run
that was stopped (Ctrl-C, a lost connection) is finished by running it again.
"""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from devtools.stage import Refused, aws_region, checked_stage_env, dynamodb_refusal, stage_settings

PROJECT_DIR = Path(__file__).resolve().parent.parent
BATCH = 100  # records per batch: one Query, then their index items read 25 per call


def _batches(name: str, index_batch: Callable, size: int, say: Callable[[str], None]) -> int:
    """Run one store's `index_batch(after_id, limit)` until no record is left; the records written."""
    after, read, written = None, 0, 0
    while True:
        got, indexed, last = index_batch(after, size)
        read, written = read + got, written + indexed
        if last is None:
            break
        say(f"{name}: {read} read, {written} written (up to id {last})")
        after = last
        if got < size:
            break
    return written


def backfill(settings, stage: str, batch: int = BATCH, say: Callable[[str], None] = print) -> dict[str, int]:
    """Run the three passes on the stage's tables; what each wrote."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib import storage
    from chalicelib.errors import ConditionFailed
    from chalicelib.storage import patients, service_points, users

    storage.bind(settings)
    try:
        written = {"patients": _batches("patients", patients.index_batch, batch, say),
                   "users": _batches("users", users.index_batch, batch, say)}
        departments, written["service points"] = service_points.mark_inactive_departments()
        say(f"service points: {departments} inactive departments read, {written['service points']} points marked")
    except (PynamoDBException, ClientError, BotoCoreError) as exc:
        raise dynamodb_refusal(exc, stage, settings) from None
    except ConditionFailed:
        raise Refused("A record kept changing while it was being brought up to date; run it again "
                      "(what is done stays done).") from None
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="a stage of .chalice/config.json (dev, prod)")
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    parser.add_argument("--batch", type=int, default=BATCH, help=f"records per batch (default {BATCH})")
    parser.add_argument("--endpoint-url", help="another DynamoDB endpoint (a local one), instead of AWS")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    try:
        checked_stage_env(args.stage)
        if args.batch < 1:
            raise Refused("--batch must be at least 1.")
        settings = stage_settings(args.stage, aws_region(args.region), args.endpoint_url)
        written = backfill(settings, args.stage, args.batch)
    except Refused as exc:
        print(f"backfill: {exc}", file=sys.stderr)
        return 1
    print(f"Done on stage {args.stage!r} (tables {settings.table_prefix}*, {settings.region}): "
          + ", ".join(f"{count} {name}" for name, count in written.items()) + " written.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
