"""A stage's settings as chalice gives them to its Lambda functions: one reader for
devtools, the benchmark and the tests; and what the operators' commands that write a deployed
stage's tables (create_admin, backfill) share: the stage's settings, its region, their refusals."""
from __future__ import annotations

import json
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CONFIG_FILE = PROJECT_DIR / ".chalice" / "config.json"


def load_config() -> dict:
    return json.loads(CONFIG_FILE.read_text())


def stages() -> list[str]:
    return sorted(load_config()["stages"])


def stage_env(stage: str) -> dict[str, str]:
    """The environment variables chalice gives a stage (stage values over global ones).

    KeyError names the stage when .chalice/config.json has no such stage.
    """
    config = load_config()
    if stage not in config["stages"]:
        raise KeyError(stage)
    env = dict(config.get("environment_variables", {}))
    env.update(config["stages"][stage].get("environment_variables", {}))
    return env


class Refused(Exception):
    """A reason for an operator's command to stop, said in one line."""


def checked_stage_env(stage: str) -> dict[str, str]:
    """stage_env, refusing an unknown stage in one line."""
    try:
        return stage_env(stage)
    except KeyError:
        raise Refused(f"No stage {stage!r} in .chalice/config.json (stages: {', '.join(stages())}).") from None


def stage_settings(stage: str, region: str, endpoint: str | None = None):
    """The app's settings pointed at a stage's tables in a region (endpoint: a DynamoDB other than AWS's)."""
    from chalicelib.settings import get_settings

    env = checked_stage_env(stage)
    return get_settings()._replace(region=region, table_prefix=env["DQS_TABLE_PREFIX"],
                                   dynamodb_endpoint=endpoint)


def aws_region(given: str | None) -> str:
    """The region given, else the AWS configuration's; Refused without either."""
    if given:
        return given
    import boto3

    region = boto3.session.Session().region_name
    if not region:
        raise Refused("No AWS region: give --region (the stack's region) or set AWS_DEFAULT_REGION.")
    return region


def dynamodb_refusal(exc: Exception, stage: str, settings) -> Refused:
    """What DynamoDB's refusal of an operator's command says, in one line."""
    cause = getattr(exc, "cause_response_code", None) or type(exc).__name__
    tables = f"{settings.table_prefix}*"
    if cause == "ResourceNotFoundException":
        return Refused(f"The tables {tables} do not exist in {settings.region}: deploy stage {stage!r} first "
                       "(or give the stack's --region).")
    message = getattr(exc, "cause_response_message", None) or str(exc)
    return Refused(f"DynamoDB refused ({cause}): {message}")
