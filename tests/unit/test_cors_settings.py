"""DQS_CORS_ORIGINS: the origins of browser clients allowed to call the API, read at first use."""
from __future__ import annotations

import pytest

from chalicelib.errors import ConfigurationError
from chalicelib.settings import _ENV_KEYS, _load


def _origins(value: str | None) -> tuple[str, ...]:
    return _load(tuple(value if key == "DQS_CORS_ORIGINS" else None for key in _ENV_KEYS)).cors_origins


def test_none_by_default():
    assert _origins(None) == () and _origins("") == () and _origins(" , ") == ()


def test_a_comma_separated_list_of_origins_as_browsers_send_them():
    assert _origins(" https://Desk.Clinic.example/ ,http://localhost:3000") == (
        "https://desk.clinic.example", "http://localhost:3000")


@pytest.mark.parametrize("value", ["*", "desk.clinic.example", "https://desk.clinic.example/app",
                                   "ftp://desk.clinic.example", "https://desk.clinic.example:port"])
def test_anything_but_an_origin_is_a_configuration_error(value):
    with pytest.raises(ConfigurationError, match="DQS_CORS_ORIGINS"):
        _origins(value)
