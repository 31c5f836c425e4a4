"""Plain-Python rules, tested without I/O: schemas, tokens, passwords, permissions, the clinic's day."""
from __future__ import annotations

from datetime import UTC, date, datetime
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from chalicelib.domain import clock, permissions, security
from chalicelib.errors import ConfigurationError, Conflict, Forbidden, Unauthenticated, ValidationFailed
from chalicelib.schema import Choice, Date, Email, FieldError, Instant, Int, Password, Schema, Str, query_params
from chalicelib.settings import _ENV_KEYS, _load, get_settings, jwt_secret


def test_schema_names_every_bad_field_and_cleans_good_ones():
    schema = Schema("T", {"name": Str(max_length=5, required=True), "n": Int(), "kind": Choice(("a", "b"))})
    assert schema.validate({"name": "  ab ", "n": 3}) == {"name": "ab", "n": 3}
    with pytest.raises(ValidationFailed) as caught:
        schema.validate({"name": "toolong", "n": True, "kind": "c", "extra": 1})
    assert set(caught.value.fields) == {"name", "n", "kind", "extra"}
    with pytest.raises(ValidationFailed) as caught:
        schema.validate({})
    assert caught.value.fields == {"name": "This field is required."}
    assert schema.validate({}, partial=True) == {}
    for not_an_object in ([], 5, "x", None):
        with pytest.raises(ValidationFailed):
            schema.validate(not_an_object)


def test_field_types():
    assert Email().clean("Ann@Example.COM") == "Ann@example.com"
    assert Date().clean("2024-02-29") == date(2024, 2, 29)
    assert Instant().clean("2023-12-15T10:00:00Z") == datetime(2023, 12, 15, 10, tzinfo=UTC)
    assert Instant().clean("2023-12-15T12:00:00+02:00") == datetime(2023, 12, 15, 10, tzinfo=UTC)
    for bad in ("2023-12-15T10:00:00", "2023-12-15", "yesterday", 5, "2023-13-01T00:00:00Z"):
        with pytest.raises(FieldError):
            Instant().clean(bad)
    for bad in ("2023-2-1", "2023-02-30", "0001-01-01", 20230201):
        with pytest.raises(FieldError):
            Date().clean(bad)
    assert Password(new=False).clean("1") == "1"
    with pytest.raises(FieldError):
        Password().clean("12345678")


def test_json_schema_mirrors_validation():
    schema = Schema("T", {"name": Str(max_length=5, required=True), "when": Date(nullable=True)})
    described = schema.json_schema()
    assert described["required"] == ["name"] and described["additionalProperties"] is False
    assert described["properties"]["name"]["maxLength"] == 5
    assert described["properties"]["when"]["type"] == ["string", "null"]
    assert "required" not in schema.json_schema(partial=True)


def test_query_params_are_validated_as_strings():
    spec = {"limit": Int(maximum=100), "day": Date()}
    assert query_params({"limit": "5", "day": "2024-01-01"}, spec) == {"limit": 5, "day": date(2024, 1, 1)}
    for bad in ({"limit": "x"}, {"limit": "500"}, {"other": "1"}, {"limit": "1e3"}):
        with pytest.raises(ValidationFailed):
            query_params(bad, spec)


def test_a_query_parameter_whose_bytes_are_not_utf8_is_a_400_naming_it():
    """Bytes that are not UTF-8 arrive as U+FFFD: refused, naming each such parameter, not searched for."""
    spec = {"search": Str(), "email": Email(), "limit": Int(maximum=100)}
    with pytest.raises(ValidationFailed) as caught:
        query_params({"search": "ab\ufffd", "email": "\ufffd@x.io", "limit": "5"}, spec)
    assert set(caught.value.fields) == {"search", "email"}
    assert "UTF-8" in caught.value.fields["search"]
    assert query_params({"search": "Zoë"}, spec) == {"search": "Zoë"}


def test_tokens_round_trip_and_reject_tampering():
    settings = get_settings()
    now = datetime.now(UTC)
    key = security.new_token_key()
    token, expires = security.issue_token(7, 3, key, now, settings)
    assert security.read_token(token, settings) == (7, 3, key)
    assert (expires - now).total_seconds() == settings.token_ttl_seconds
    with pytest.raises(Unauthenticated):
        security.read_token(token + "x", settings)


def test_account_keys_are_random_and_compared_in_full():
    keys = {security.new_token_key() for _ in range(50)}
    assert len(keys) == 50 and all(len(key) == 32 and int(key, 16) >= 0 for key in keys)
    key = next(iter(keys))
    assert security.same_secret(key, key)
    assert not security.same_secret(key, key[:-1] + ("0" if key[-1] != "0" else "1"))
    for missing in ("", None):
        assert not security.same_secret(missing, key) and not security.same_secret(key, missing)
        assert not security.same_secret(missing, missing)


def test_link_codes_are_unambiguous_and_stored_only_as_keyed_hashes():
    settings = get_settings()
    codes = {security.new_link_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert len(code) == 8 and set(code) <= set(security.LINK_CODE_ALPHABET)
    assert not set("01ILO") & set(security.LINK_CODE_ALPHABET)
    code = next(iter(codes))
    assert security.normalize_link_code(f" {code[:4].lower()}-{code[4:]} ") == code
    for bad in ("", "ABC", "ABCDEFGH1", "ABCDEFG0", "ABCDEFGHJ"):
        assert security.normalize_link_code(bad) is None
    digest = security.link_code_hash(code, settings)
    assert len(digest) == 64 and code not in digest
    assert digest == security.link_code_hash(code, settings)
    assert digest != security.link_code_hash(security.new_link_code(), settings)


def test_password_hashes_are_salted_argon2id():
    first, second = security.hash_password("pw-123456"), security.hash_password("pw-123456")
    assert first != second and first.startswith("$argon2id$")
    assert security.verify_password(first, "pw-123456")
    assert not security.verify_password(first, "pw-1234567")
    assert not security.verify_password(None, "pw-123456")
    assert not security.verify_password("garbage", "pw-123456")


def test_permissions_mirror_the_contract():
    from chalicelib.domain.accounts.management import check_profile_access

    user = lambda role, uid=1: SimpleNamespace(role=role, id=uid)  # noqa: E731
    permissions.check_role(user("admin"), ("staff",))
    permissions.check_role(user("staff"), ("staff",))
    with pytest.raises(Forbidden):
        permissions.check_role(user("patient"), ("staff",))
    assert permissions.allowed_roles(("staff",)) == ("staff", "admin")
    assert permissions.allowed_roles(("admin",)) == ("admin",)
    check_profile_access(user("patient", 5), 5)
    check_profile_access(user("admin", 1), 5)
    with pytest.raises(Forbidden):
        check_profile_access(user("patient", 5), 6)


def test_the_clinic_day_is_local():
    late_evening_auckland = datetime(2026, 11, 25, 10, 59, tzinfo=UTC)  # 23:59 NZDT
    assert clock.service_day(late_evening_auckland, ZoneInfo("Pacific/Auckland")) == date(2026, 11, 25)
    assert clock.service_day(late_evening_auckland, ZoneInfo("UTC")) == date(2026, 11, 25)
    just_after = datetime(2026, 11, 25, 11, 0, tzinfo=UTC)  # 00:00 NZDT
    assert clock.service_day(just_after, ZoneInfo("Pacific/Auckland")) == date(2026, 11, 26)


def test_settings_refuse_bad_configuration():
    def load(**env):
        unknown = set(env) - set(_ENV_KEYS)
        assert not unknown, unknown
        return _load(tuple(env.get(k) for k in _ENV_KEYS))

    assert load().clinic_timezone == ZoneInfo("UTC")
    with pytest.raises(ConfigurationError):
        load(DQS_CLINIC_TIMEZONE="Mars/Olympus")
    with pytest.raises(ConfigurationError):
        load(DQS_TOKEN_TTL_SECONDS="forever")
    with pytest.raises(ConfigurationError):
        load(DQS_TOKEN_TTL_SECONDS="5")
    with pytest.raises(ConfigurationError):
        jwt_secret(load())
    with pytest.raises(ConfigurationError):
        jwt_secret(load(DQS_JWT_SECRET="too-short"))
    assert jwt_secret(load(DQS_JWT_SECRET="k" * 32)) == "k" * 32
    # Locally the defaults serve; on Lambda nothing about the tables is guessed.
    assert (load().table_prefix, load().region) == ("dqs-dev-", "us-east-1")
    with pytest.raises(ConfigurationError, match="DQS_TABLE_PREFIX"):
        load(AWS_LAMBDA_FUNCTION_NAME="api", AWS_REGION="eu-west-1")
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        load(AWS_LAMBDA_FUNCTION_NAME="api", DQS_TABLE_PREFIX="dqs-prod-")
    deployed = load(AWS_LAMBDA_FUNCTION_NAME="api", DQS_TABLE_PREFIX="dqs-prod-", AWS_REGION="eu-west-1")
    assert (deployed.table_prefix, deployed.region) == ("dqs-prod-", "eu-west-1")


def test_edit_retries_on_concurrent_change_and_names_taken_fields():
    from chalicelib.domain.conflicts import edit
    from chalicelib.errors import ConditionFailed

    reads, saves = [], []

    def save_losing_twice(before, after):
        saves.append(after)
        if len(saves) < 3:
            raise ConditionFailed(["record"])  # someone else changed it meanwhile

    result = edit(lambda: reads.append(1) or {"v": len(reads)}, lambda b: {**b, "x": 1}, save_losing_twice, {})
    assert result == {"v": 3, "x": 1} and len(reads) == 3  # read again after each lost write

    def always_losing(before, after):
        raise ConditionFailed(["record"])

    with pytest.raises(Conflict) as caught:
        edit(lambda: {"v": 1}, lambda b: {"v": 2}, always_losing, {})
    assert "try again" in caught.value.message

    def taken(before, after):
        raise ConditionFailed(["record", "email-claim"])

    with pytest.raises(Conflict) as caught:
        edit(lambda: {"v": 1}, lambda b: {"v": 2}, taken, {"email-claim": ("email", "Taken.")})
    assert caught.value.fields == {"email": "Taken."}
    # No change, no write.
    assert edit(lambda: {"v": 1}, lambda b: b, always_losing, {}) == {"v": 1}
