"""The edges where input once reached a 500, tested without I/O."""
from __future__ import annotations

from datetime import date

import pytest

from chalicelib.api.http import MAX_BODY_DEPTH, _check_depth, parse_id
from chalicelib.domain.appointments import clinic_day_bounds
from chalicelib.domain.values import iso_instant
from chalicelib.errors import NotFound, ValidationFailed


@pytest.mark.parametrize("value", ["²", "١", "１", "𝟙", "0", "-1", "1.0", " 1", "9" * 16, ""])
def test_a_path_id_is_ascii_digits(value):
    with pytest.raises(NotFound):
        parse_id(value, "patient")


def test_a_path_id():
    assert parse_id("42", "patient") == 42


@pytest.mark.parametrize("day", [date.min, date.max, date(1, 1, 1), date(9999, 12, 31)])
def test_day_bounds_of_any_date_are_a_400_or_instants(day, monkeypatch):
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        monkeypatch.setenv("DQS_CLINIC_TIMEZONE", zone)
        with pytest.raises(ValidationFailed) as caught:
            clinic_day_bounds(day)
        assert "date" in caught.value.fields


@pytest.mark.parametrize("day", [date(1, 1, 2), date(9999, 12, 30), date(1900, 1, 1), date(9998, 12, 31)])
def test_day_bounds_at_the_edges(day, monkeypatch):
    for zone in ("UTC", "Pacific/Kiritimati", "Etc/GMT+12"):
        monkeypatch.setenv("DQS_CLINIC_TIMEZONE", zone)
        start, end = clinic_day_bounds(day)
        assert start < end
        iso_instant(start), iso_instant(end)  # as storage writes them: in UTC, which must exist


def test_nesting_is_counted_outside_strings_only():
    _check_depth(b"[" * MAX_BODY_DEPTH + b"]" * MAX_BODY_DEPTH)
    _check_depth(b'{"a": "' + b"[" * 1000 + b'"}')
    _check_depth(b'{"a\\"[[[[": "\\\\"}')
    for deep in (b"[" * (MAX_BODY_DEPTH + 1), b'{"a":' * 966 + b"1" + b"}" * 966, b"[" * 100_000):
        with pytest.raises(ValidationFailed):
            _check_depth(deep)


@pytest.mark.parametrize("cursor", ["eyJ9.é", "eyJ9.\ud800", "eyJ9.", ".abc", "é.abc", "eyJ9" * 600 + ".x"])
def test_a_cursor_that_is_none_of_ours_is_a_400_naming_it(cursor):
    """The signature is compared only once it is ASCII: hmac.compare_digest raises TypeError otherwise."""
    from chalicelib.storage.cursors import decode_cursor

    with pytest.raises(ValidationFailed) as caught:
        decode_cursor("patients", cursor)
    assert caught.value.fields == {"cursor": "Invalid or expired cursor."}
