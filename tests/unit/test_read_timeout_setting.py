"""DQS_DYNAMODB_READ_TIMEOUT: how long the app waits for DynamoDB's answer (`make run` sets 15 s)."""
from __future__ import annotations

import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import _ENV_KEYS, DYNAMODB_READ_TIMEOUT, _load


def _read_timeout(value: str | None) -> float:
    return _load(tuple(value if key == "DQS_DYNAMODB_READ_TIMEOUT" else None for key in _ENV_KEYS)
                 ).dynamodb_read_timeout


def test_default_and_set():
    assert _read_timeout(None) == _read_timeout("") == DYNAMODB_READ_TIMEOUT == 3.0
    assert _read_timeout("15") == 15.0 and _read_timeout("2.5") == 2.5


@pytest.mark.parametrize("value", ["soon", "0", "-1", "61"])
def test_refused(value):
    with pytest.raises(ConfigurationError, match="DQS_DYNAMODB_READ_TIMEOUT"):
        _read_timeout(value)


def test_make_run_waits_longer_for_its_embedded_dynamodb():
    import os

    from devtools import local_settings

    kept = dict(os.environ)
    try:
        for key in ("DQS_DYNAMODB_ENDPOINT", "DQS_DYNAMODB_READ_TIMEOUT"):
            os.environ.pop(key, None)
        local_settings.fill_environment()
        assert os.environ["DQS_DYNAMODB_READ_TIMEOUT"] == "15"
        os.environ["DQS_DYNAMODB_READ_TIMEOUT"] = "7"  # the developer's own choice stays
        local_settings.fill_environment()
        assert os.environ["DQS_DYNAMODB_READ_TIMEOUT"] == "7"
    finally:
        os.environ.clear()
        os.environ.update(kept)
