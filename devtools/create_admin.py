"""Create the first admin account of a deployed stage (a one-off, after the first deploy).

  python -m devtools.create_admin --stage prod --username admin --email admin@clinic.example

Prompts for the password (or reads one line from stdin with --password-stdin)
and writes the account straight into the stage's tables with your own AWS
credentials (profile, environment or SSO, as the AWS CLI finds them). It creates
the account and nothing else: no tables, no patient or doctor record. An existing
user of that name is left as it is. The password is never printed.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from devtools.stage import Refused, aws_region, checked_stage_env, dynamodb_refusal, stage_settings

__all__ = ["Refused", "create_admin", "main", "stage_settings"]

PROJECT_DIR = Path(__file__).resolve().parent.parent


def _validated(username: str, email: str, password: str) -> dict:
    from chalicelib.domain.accounts.rules import check_password_rules, username_field
    from chalicelib.errors import ValidationFailed
    from chalicelib.schema import Email, Password, Schema

    schema = Schema("Admin", {
        "username": username_field(required=True),
        "email": Email(required=True),
        "password": Password(required=True),
    })
    try:
        data = schema.validate({"username": username, "email": email, "password": password})
        check_password_rules(data["password"], data["username"])
        return data
    except ValidationFailed as exc:
        fields = exc.fields
        raise Refused("; ".join(f"{name}: {message}" for name, message in fields.items()) or str(exc)) from None


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password for the new admin: ")
    if getpass.getpass("Password again: ") != password:
        raise Refused("The two passwords differ.")
    return password


def create_admin(stage: str, username: str, email: str, password: str, region: str,
                 endpoint: str | None = None) -> str:
    """Create the admin in the stage's tables; returns what happened, in one line."""
    from botocore.exceptions import BotoCoreError, ClientError
    from pynamodb.exceptions import PynamoDBException

    from chalicelib import storage
    from chalicelib.domain import accounts
    from chalicelib.errors import ValidationFailed

    settings = stage_settings(stage, region, endpoint)
    data = _validated(username, email, password)
    tables = f"{settings.table_prefix}*"
    storage.bind(settings)
    try:
        user, created = accounts.ensure_admin(data["username"], data["email"], data["password"])
    except ValidationFailed as exc:
        fields = exc.fields
        raise Refused("; ".join(f"{k}: {v}" for k, v in fields.items()) or str(exc)) from None
    except (PynamoDBException, ClientError, BotoCoreError) as exc:
        raise dynamodb_refusal(exc, stage, settings) from None
    where = f"stage {stage!r} (tables {tables}, {region})"
    if created:
        return f"Created admin {user.username!r} (id {user.id}) in {where}."
    if user.role != "admin":
        raise Refused(f"A user named {user.username!r} already exists in {where} with the role {user.role!r}; "
                      "nothing was changed.")
    return f"Admin {user.username!r} already exists in {where}; nothing was changed."


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", required=True, help="a stage of .chalice/config.json (dev, prod)")
    parser.add_argument("--username", required=True)
    parser.add_argument("--email", required=True)
    parser.add_argument("--region", help="the stack's region (default: your AWS configuration's)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from one line of stdin")
    parser.add_argument("--endpoint-url", help="another DynamoDB endpoint (a local one), instead of AWS")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT_DIR))
    try:
        checked_stage_env(args.stage)  # an unknown stage is refused before any prompt
        region = aws_region(args.region)
        password = _read_password(args.password_stdin)
        print(create_admin(args.stage, args.username, args.email, password, region, args.endpoint_url))
    except Refused as exc:
        print(f"create_admin: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
