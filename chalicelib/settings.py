"""One typed settings object, read from the environment at first use.

chalice.test.Client applies a stage's environment variables only while a
request runs, and a deployed Lambda gets them at start: nothing here is read
at import time.
"""
from __future__ import annotations

import os
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

from chalicelib.errors import ConfigurationError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

MIN_SECRET_BYTES = 32
DEFAULT_TOKEN_TTL_SECONDS = 12 * 3600
LOCAL_TABLE_PREFIX = "dqs-dev-"
LOCAL_REGION = "us-east-1"
# Every DynamoDB call gives up well inside the API function's 15 s timeout:
# (1 s to connect + 3 s to answer) x (1 try + 2 retries) = 12 s at the very worst.
DYNAMODB_CONNECT_TIMEOUT = 1.0
DYNAMODB_READ_TIMEOUT = 3.0
DYNAMODB_RETRIES = 2
# HTTP connections kept to DynamoDB: a Lambda instance serves one request at a time,
# the local server many at once from one process.
DYNAMODB_POOL_CONNECTIONS = 32

_ENV_KEYS = (
    "DQS_TABLE_PREFIX",
    "DQS_DYNAMODB_ENDPOINT",
    "DQS_CLINIC_TIMEZONE",
    "DQS_TOKEN_TTL_SECONDS",
    "DQS_JWT_SECRET",
    "DQS_JWT_SECRET_PARAM",
    "DQS_JWT_PREVIOUS_SECRET",
    "DQS_JWT_PREVIOUS_SECRET_PARAM",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_LAMBDA_FUNCTION_NAME",
    "DQS_CORS_ORIGINS",
    "DQS_WEBSOCKET_URL",
    "DQS_NOTIFY_AHEAD",
    "DQS_EMAIL_SENDER",
    "DQS_MESSAGING_ENDPOINT",
    "DQS_DYNAMODB_READ_TIMEOUT",
    # Abuse limits
    "DQS_REGISTRATIONS_PER_ADDRESS_HOUR",
    "DQS_BOOKINGS_PER_DAY",
    "DQS_MESSAGES_PER_PATIENT_DAY",
    "DQS_SMS_PER_DAY",
    # Webhooks
    "DQS_WEBHOOKS_ALLOW_LOOPBACK",
    "DQS_WEBHOOK_RETRY_SECONDS",
    "DQS_WEBHOOK_QUEUE_URL",
)


class Settings(NamedTuple):
    """Everything the app reads from its environment (see get_settings)."""
    region: str
    table_prefix: str
    dynamodb_endpoint: str | None
    clinic_timezone: ZoneInfo
    token_ttl_seconds: int = DEFAULT_TOKEN_TTL_SECONDS
    jwt_secret: str | None = None
    jwt_secret_param: str | None = None
    # The key before the last rotation: tokens it signed stay valid until they expire.
    jwt_previous_secret: str | None = None
    jwt_previous_secret_param: str | None = None
    dynamodb_connect_timeout: float = DYNAMODB_CONNECT_TIMEOUT
    dynamodb_read_timeout: float = DYNAMODB_READ_TIMEOUT
    dynamodb_retries: int = DYNAMODB_RETRIES
    dynamodb_pool_connections: int = DYNAMODB_POOL_CONNECTIONS
    # Origins of browser clients allowed to call the API (CORS); none by default.
    cors_origins: tuple[str, ...] = ()
    # The waiting room's live updates (ws:// or wss://), or None: screens then poll the board.
    websocket_url: str | None = None
    # "Your turn" messages: sent when people_ahead first drops to this or below, and when called.
    notify_ahead: int = 3
    email_sender: str | None = None  # SES's From address; no email messages without it
    messaging_endpoint: str | None = None  # SNS and SES elsewhere than AWS (make run: the embedded moto)
    # Abuse limits: registrations without a login per client address in any hour; bookings made
    # (canceled ones too) per patient per day; "your turn" messages per patient per day; SMS per clinic per day.
    registrations_per_address_hour: int = 20
    bookings_per_day: int = 10
    messages_per_patient_day: int = 6
    sms_per_day: int = 500
    # Webhooks: `make run` lets them go to http on loopback (never a deployed function); the tests
    # shorten every retry delay to this many seconds (None: the real growing delays); the SQS queue
    # deliveries go through when deployed.
    webhooks_allow_loopback: bool = False
    webhook_retry_seconds: int | None = None
    webhook_queue_url: str | None = None

    def table_name(self, suffix: str) -> str:
        return f"{self.table_prefix}{suffix}"


def get_settings() -> Settings:
    """The settings for the environment as it is now (cached per environment)."""
    return _load(tuple(os.environ.get(key) for key in _ENV_KEYS))


@lru_cache(maxsize=8)
def _load(values: tuple[str | None, ...]) -> Settings:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # first use, not import: a cold start skips it

    env = dict(zip(_ENV_KEYS, values, strict=True))
    if env["AWS_LAMBDA_FUNCTION_NAME"]:
        # A deployed function never guesses which tables it serves.
        if env["DQS_TABLE_PREFIX"] is None:
            raise ConfigurationError("DQS_TABLE_PREFIX is not set for this function.")
        if not (env["AWS_REGION"] or env["AWS_DEFAULT_REGION"]):
            raise ConfigurationError("AWS_REGION is not set for this function.")
    tz_name = env["DQS_CLINIC_TIMEZONE"] or "UTC"
    try:
        clinic_tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigurationError(f"DQS_CLINIC_TIMEZONE {tz_name!r} is not an IANA time zone.") from exc
    ttl_raw = env["DQS_TOKEN_TTL_SECONDS"] or str(DEFAULT_TOKEN_TTL_SECONDS)
    try:
        ttl = int(ttl_raw)
    except ValueError as exc:
        raise ConfigurationError("DQS_TOKEN_TTL_SECONDS must be a whole number of seconds.") from exc
    if not 60 <= ttl <= 30 * 24 * 3600:
        raise ConfigurationError("DQS_TOKEN_TTL_SECONDS must be between 60 seconds and 30 days.")
    cors_origins = tuple(_origin(value) for value in (env["DQS_CORS_ORIGINS"] or "").split(",") if value.strip())
    return Settings(
        region=env["AWS_REGION"] or env["AWS_DEFAULT_REGION"] or LOCAL_REGION,
        table_prefix=env["DQS_TABLE_PREFIX"] if env["DQS_TABLE_PREFIX"] is not None else LOCAL_TABLE_PREFIX,
        dynamodb_endpoint=env["DQS_DYNAMODB_ENDPOINT"] or None,
        clinic_timezone=clinic_tz,
        token_ttl_seconds=ttl,
        jwt_secret=env["DQS_JWT_SECRET"] or None,
        jwt_secret_param=env["DQS_JWT_SECRET_PARAM"] or None,
        jwt_previous_secret=env["DQS_JWT_PREVIOUS_SECRET"] or None,
        jwt_previous_secret_param=env["DQS_JWT_PREVIOUS_SECRET_PARAM"] or None,
        cors_origins=cors_origins,
        websocket_url=env["DQS_WEBSOCKET_URL"] or None,
        notify_ahead=_notify_ahead(env["DQS_NOTIFY_AHEAD"]),
        email_sender=env["DQS_EMAIL_SENDER"] or None,
        messaging_endpoint=env["DQS_MESSAGING_ENDPOINT"] or None,
        dynamodb_read_timeout=_read_timeout(env["DQS_DYNAMODB_READ_TIMEOUT"]),
        registrations_per_address_hour=_whole(env, "DQS_REGISTRATIONS_PER_ADDRESS_HOUR", 20, 1, 100_000),
        bookings_per_day=_whole(env, "DQS_BOOKINGS_PER_DAY", 10, 1, 1000),
        messages_per_patient_day=_whole(env, "DQS_MESSAGES_PER_PATIENT_DAY", 6, 0, 1000),
        sms_per_day=_whole(env, "DQS_SMS_PER_DAY", 500, 0, 10_000_000),
        webhooks_allow_loopback=_allow_loopback(env),
        webhook_retry_seconds=(_whole(env, "DQS_WEBHOOK_RETRY_SECONDS", 0, 1, 24 * 3600)
                               if env["DQS_WEBHOOK_RETRY_SECONDS"] else None),
        webhook_queue_url=env["DQS_WEBHOOK_QUEUE_URL"] or None,
    )


def _allow_loopback(env: dict) -> bool:
    """DQS_WEBHOOKS_ALLOW_LOOPBACK=1: webhooks may go to http on 127.0.0.1, ::1 or localhost (`make run`).
    A deployed function refuses it: there it would open the door to the instance's own services."""
    raw = env["DQS_WEBHOOKS_ALLOW_LOOPBACK"] or ""
    if raw not in ("", "0", "1"):
        raise ConfigurationError("DQS_WEBHOOKS_ALLOW_LOOPBACK must be 1 or 0.")
    if raw == "1" and env["AWS_LAMBDA_FUNCTION_NAME"]:
        raise ConfigurationError("DQS_WEBHOOKS_ALLOW_LOOPBACK is for `make run` only, never a deployed function.")
    return raw == "1"


def _read_timeout(raw: str | None) -> float:
    """DQS_DYNAMODB_READ_TIMEOUT: seconds to wait for DynamoDB's answer (default 3; `make run` sets
    more, as its embedded DynamoDB answers one request at a time)."""
    try:
        value = float(raw) if raw else DYNAMODB_READ_TIMEOUT
    except ValueError:
        raise ConfigurationError("DQS_DYNAMODB_READ_TIMEOUT must be a number of seconds.") from None
    if not 0 < value <= 60:
        raise ConfigurationError("DQS_DYNAMODB_READ_TIMEOUT must be between 0 and 60 seconds.")
    return value


def _whole(env: dict, key: str, default: int, lowest: int, highest: int) -> int:
    """A whole-number setting within bounds (the default when unset)."""
    raw = env[key]
    try:
        value = int(raw) if raw else default
    except ValueError:
        raise ConfigurationError(f"{key} must be a whole number.") from None
    if not lowest <= value <= highest:
        raise ConfigurationError(f"{key} must be between {lowest} and {highest}.")
    return value


def _notify_ahead(raw: str | None) -> int:
    try:
        value = int(raw) if raw else 3
    except ValueError:
        raise ConfigurationError("DQS_NOTIFY_AHEAD must be a whole number of people.") from None
    if not 0 <= value <= 100:
        raise ConfigurationError("DQS_NOTIFY_AHEAD must be between 0 and 100.")
    return value


def _origin(value: str) -> str:
    """An origin as browsers send it (scheme://host[:port], no path), from one DQS_CORS_ORIGINS item."""
    import re

    origin = value.strip().rstrip("/")
    if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
        raise ConfigurationError(f"DQS_CORS_ORIGINS: {value.strip()!r} is not an origin such as https://desk.example.org.")
    return origin.lower()


# Secrets read from SSM, with the monotonic time until which each is trusted: a rotation takes
# effect within SECRET_CACHE_SECONDS without a redeploy (and at once where a token names a key
# this instance does not know yet: see refresh_secrets).
SECRET_CACHE_SECONDS = 300.0
_secret_cache: dict[str, tuple[str, float]] = {}


def jwt_secret(settings: Settings | None = None) -> str:
    """The current HMAC secret (tokens, cursors, link codes): from the environment, or from SSM
    Parameter Store (cached a few minutes).

    A stage with neither refuses to serve rather than fall back to a guessable key.
    """
    settings = settings or get_settings()
    if settings.jwt_secret:
        secret = settings.jwt_secret
    elif settings.jwt_secret_param:
        secret = _parameter(settings, settings.jwt_secret_param)
    else:
        raise ConfigurationError("No JWT secret: set DQS_JWT_SECRET or DQS_JWT_SECRET_PARAM.")
    return _checked(secret, "The JWT secret")


def previous_jwt_secret(settings: Settings | None = None) -> str | None:
    """The secret before the last rotation, if one is kept; None otherwise. It comes from where the
    current one does: DQS_JWT_PREVIOUS_SECRET beside DQS_JWT_SECRET, or the SSM parameter
    DQS_JWT_PREVIOUS_SECRET_PARAM beside DQS_JWT_SECRET_PARAM. A parameter that is missing means
    none: after a rotation has settled, operators delete it."""
    settings = settings or get_settings()
    if settings.jwt_secret:
        if settings.jwt_previous_secret:
            return _checked(settings.jwt_previous_secret, "The previous JWT secret")
        return None
    if settings.jwt_secret_param and settings.jwt_previous_secret_param:
        value = _parameter(settings, settings.jwt_previous_secret_param, missing_ok=True)
        return _checked(value, "The previous JWT secret") if value else None
    return None


def refresh_secrets() -> None:
    """Forget the secrets read from SSM, so the next use reads them again (after a rotation)."""
    _secret_cache.clear()


def _checked(secret: str, what: str) -> str:
    if len(secret.encode()) < MIN_SECRET_BYTES:
        raise ConfigurationError(f"{what} must be at least {MIN_SECRET_BYTES} bytes.")
    return secret


def _parameter(settings: Settings, name: str, missing_ok: bool = False) -> str | None:
    import time

    cached = _secret_cache.get(name)
    if cached is not None and cached[1] > time.monotonic():
        return cached[0]
    value = _read_parameter(settings, name, missing_ok)
    if value is not None:
        _secret_cache[name] = (value, time.monotonic() + SECRET_CACHE_SECONDS)
    return value


def _read_parameter(settings: Settings, name: str, missing_ok: bool) -> str | None:
    import boto3  # only deployed stages pay for this import
    from botocore.exceptions import BotoCoreError, ClientError

    client = boto3.client("ssm", region_name=settings.region)
    try:
        return client.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ClientError as exc:
        if missing_ok and exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
            return None
        raise ConfigurationError(f"Cannot read the secret parameter {name!r}.") from exc
    except BotoCoreError as exc:
        raise ConfigurationError(f"Cannot read the secret parameter {name!r}.") from exc
