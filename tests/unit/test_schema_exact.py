"""Every field of every request accepts exactly what its published JSON Schema allows.

A client (or schemathesis) reads the description to know what is valid: a value the
description allows must not be refused, and a value it refuses must not be taken.
Each field is tried with ordinary and hostile values (control characters, white space,
Unicode digits, extreme dates, integer-valued floats) and its own `clean` is compared
with two JSON Schema validators reading its `json_schema()`: Python's `jsonschema`, and
`jsonschema_rs`, the one schemathesis checks and generates with (ECMA-262 patterns).
Unpaired surrogates no pattern can name (they are no Unicode characters); they are
refused by every text field, as the description says in words.
"""
from __future__ import annotations

import re

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator
from schemathesis.core.jsonschema import FANCY_REGEX_OPTIONS

from app import app  # noqa: F401 (registers every route)
from chalicelib.api import openapi
from chalicelib.api.http import ROUTES
from chalicelib.schema import (
    Bool,
    Choice,
    Date,
    Field,
    FieldError,
    Instant,
    Int,
    Password,
    Str,
    query_params,
    query_pattern,
)

STRINGS = [
    "", " ", "a", " a ", "a\n", "\na", "a\tb", "a\nb", "a\r\nb", "a\x00", "\x00", "\x1f", "a\x7f", "\x85a",
    "\ud800", "a\udfff", "\ud83d\ude00", "😀", "\u00a0x\u00a0", "x\u2028", "\u3000", "\ufeffx",
    "0", "1", "00000000", "0000000a", "12345678\n", "²²²²²²²²", "٣٣٣٣٣٣٣٣", "john doe!", "john.doe+1@x_y-z",
    "a@b.cc", " a@b.cc ", "A@B.COM", "a@b.c", "a@b", "@b.cc", "a@xn--p1ai", "a@b.cc\n", "a..b@c.dd",
    "x" * 65 + "@b.cc", "x@" + "a" * 64 + ".cc", "x@" + "a" * 63 + ".cc", "\"x y\"@b.cc", "x@[1.2.3.4]",
    "1900-01-01", "1899-12-31", "9998-12-31", "9999-12-31", "0001-01-01", "2024-02-29", "2023-02-29",
    "2000-01-01\n", " 2000-01-01", "٢٠٠٠-01-01", "2000-1-1",
    "2023-12-15T10:00:00Z", "2023-12-15T10:00Z", "2023-12-15T10:00:00", "2023-12-15T10:00:00.123456+01:00",
    "2023-12-15T10:00:00.1234567Z", "2023-12-15t10:00:00z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z",
    "1900-01-01T00:00:00+14:00", "2023-12-15T10:00:60Z", "2023-12-15T10:00:00Z\n", "2023-12-15T10:00:00+24:00",
    "patient", "urgent", "Patient", "normal ",
    "eyJ9.%C3%A9", "eyJ9.é", "abc.0123456789abcdef0123456789abcdef", "abc.0123456789ABCDEF0123456789ABCDEF",
    "x" * 8, "x" * 99, "x" * 100, "x" * 101, " " + "x" * 100, "x" * 149, "x" * 150, "x" * 151,
    "x" * 200, "x" * 201, "x" * 254, "x" * 255, "x" * 1000, "x" * 1001, "y" * 128, "y" * 129, "x" * 2001,
]
OTHERS = [None, 0, 1, -1, 1.0, 1.5, 2 ** 53 - 1, 2 ** 53, 5313026227935.0, 1e300, True, False, [], {}, ["a"]]


def _fields() -> dict[str, Field]:
    found: dict[str, Field] = {}
    for spec in ROUTES:
        if spec.body is not None:
            for name, field in spec.body.fields.items():
                found[f"{spec.method} {spec.path} body.{name}"] = field
    return found


def _accepted(field: Field, value) -> bool:
    try:
        field.clean(value)
    except FieldError:
        return False
    return True


class _Described:
    """A field's JSON Schema, as both validators read it."""

    def __init__(self, field: Field, query: bool = False):
        schema = query_pattern(field.json_schema()) if query else field.json_schema()
        self.python = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
        self.rust = jsonschema_rs.Draft202012Validator(schema, validate_formats=True,
                                                       pattern_options=FANCY_REGEX_OPTIONS)

    def is_valid(self, value) -> bool:
        python = self.python.is_valid(value)
        assert self.rust.is_valid(value) == python, f"the two validators disagree on {value!r}"
        return python


def _described(field: Field, query: bool = False) -> _Described:
    """The field's description: in a body, or (`query`) as a query parameter's."""
    return _Described(field, query)


def _surrogate(value) -> bool:
    return isinstance(value, str) and re.search("[\ud800-\udfff]", value) is not None


@pytest.mark.parametrize("where, field", sorted(_fields().items()), ids=sorted(_fields()))
def test_a_body_field_takes_exactly_what_its_description_allows(where, field):
    described = _described(field)
    mismatches = [value for value in STRINGS + OTHERS if not _surrogate(value)
                  and described.is_valid(value) != _accepted(field, value)]
    assert mismatches == [], f"{where}: the description and the check disagree on {mismatches!r}"
    for value in filter(_surrogate, STRINGS):
        assert not _accepted(field, value), (where, value)


def _patterns(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                yield value
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def test_every_pattern_in_the_description_compiles_for_every_validator():
    """schemathesis ignores a pattern its validator cannot compile, so it must compile there too."""
    patterns = set(_patterns(openapi.describe()))
    assert len(patterns) > 5
    for pattern in patterns:
        re.compile(pattern)
        jsonschema_rs.Draft202012Validator({"pattern": pattern}, pattern_options=FANCY_REGEX_OPTIONS)


def test_every_kind_of_field_is_tried():
    kinds = {type(field) for field in _fields().values()}
    assert {Str, Password, Date, Instant, Int, Choice, Bool} <= kinds | {Password}


def _query_fields():
    for spec in ROUTES:
        for name, field in spec.query.items():
            yield f"{spec.method} {spec.path} ?{name}", name, field


@pytest.mark.parametrize("where, name, field", list(_query_fields()), ids=[w for w, _, _ in _query_fields()])
def test_a_query_parameter_takes_exactly_what_its_description_allows(where, name, field):
    described = _described(field, query=True)
    # U+FFFD: what bytes that are not UTF-8 arrive as.
    for raw in STRINGS + ["5", "-5", "05", "+5", "5.0", "1e3", "²", "٣", "100", "101", "9" * 17, "\ufffd",
                          "a\ufffdb", "5\ufffd", "patient\ufffd"]:
        value = int(raw) if isinstance(field, Int) and raw.isascii() and raw.lstrip("-").isdigit() else raw
        try:
            query_params({name: raw}, {name: field})
            accepted = True
        except Exception:
            accepted = False
        if isinstance(field, Int) and value is raw:
            assert not accepted, (where, raw)  # not a whole number in ASCII digits
            continue
        if _surrogate(value):
            assert not accepted, (where, raw)
            continue
        assert described.is_valid(value) == accepted, (where, raw)


def test_hostile_text_is_a_400_naming_the_field():
    for value, message in (("a\ud800", "Unpaired surrogate"), ("a\x00b", "Null characters"),
                           ("a\x1bb", "Control characters")):
        with pytest.raises(FieldError, match=message):
            Str().clean(value)
        with pytest.raises(FieldError):
            Password(new=False).clean(value) if "\ud800" in value else (_ for _ in ()).throw(FieldError())
    assert Str(multiline=True).clean("line 1\nline 2\ttab") == "line 1\nline 2\ttab"
    assert Password().clean("pass\x00word") == "pass\x00word"  # a password keeps what it was typed with


def test_dates_are_bounded_so_that_every_day_has_instants():
    for value in ("1899-12-31", "9999-12-31", "0001-01-01"):
        with pytest.raises(FieldError, match="from 1900-01-01 to 9998-12-31"):
            Date().clean(value)
    assert str(Date().clean("9998-12-31")) == "9998-12-31"


@pytest.mark.parametrize("field", [Str(min_length=0), Str(min_length=3), Str(multiline=True),
                                   Str(min_length=2, multiline=True), Str(pattern="[a-z]+", multiline=True),
                                   Password(), Password(new=False), Date(nullable=True), Instant()])
def test_every_kind_of_text_takes_exactly_what_its_description_allows(field):
    described = _described(field)
    values = STRINGS + ["ab", " ab ", "abc", " a b ", "a\nb", " a\n ", "abc\n", "\nabc"]
    assert [v for v in values if not _surrogate(v) and described.is_valid(v) != _accepted(field, v)] == []


@pytest.mark.parametrize("partial", [False, True], ids=["PUT", "PATCH"])
@pytest.mark.parametrize("body", [{"role": "patient", "date_of_birth": None}, {"role": "staff", "date_of_birth": None},
                                  {"date_of_birth": None}, {"role": "patient", "date_of_birth": "1990-01-15"},
                                  {"role": "patient"}])
def test_a_patients_date_of_birth_is_refused_null_exactly_where_the_description_says(body, partial):
    from chalicelib.api.users import OWN_PROFILE_UPDATE, USER_UPDATE
    from chalicelib.errors import ValidationFailed

    sent = body if partial else {"username": "ann", "email": "ann@b.cc", **body}
    refused = body.get("role") == "patient" and "date_of_birth" in body and body["date_of_birth"] is None
    for schema in (OWN_PROFILE_UPDATE, USER_UPDATE):
        described = Draft202012Validator(schema.json_schema(partial=partial)).is_valid(sent)
        try:
            schema.validate(sent, partial=partial)
            taken = True
        except ValidationFailed as exc:
            taken = False
            assert set(exc.fields) == {"date_of_birth"}
        assert taken == described == (not refused), (schema.name, sent)
