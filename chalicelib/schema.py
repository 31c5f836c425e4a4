"""Request and response shapes, defined once.

Each Schema validates a decoded JSON body (every bad field named, with a clear
message) and describes itself as JSON Schema, so the OpenAPI description is
generated from the same definitions that check requests. A field accepts exactly
what its JSON Schema allows (patterns are read as Python's `re` reads them), so a
client, or a fuzzer, can rely on the description.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.errors import ValidationFailed

MISSING = object()

# Django's pragmatic email check: a local part, an @, a dotted domain.
_EMAIL = (r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
          r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")

# A phone number: digits, spaces and + ( ) - . with at least one digit. Written without a lookahead
# (which a generator of examples can only meet by drawing and discarding, slowly at long lengths).
PHONE_PATTERN = r"[0-9+(). -]*[0-9][0-9+(). -]*"

# Dates and instants: years 1900 to 9998, so that every day's bounds and every instant
# stay inside what datetime can represent in any time zone.
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(9998, 12, 31)
_YEAR = r"(19[0-9]{2}|[2-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])"
_DATE = _YEAR + r"-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
_DATE_SHAPE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
_INSTANT = (_DATE + r"T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?"
            r"(Z|[+-]([01][0-9]|2[0-3]):[0-5][0-9])")
# The end of the text in a pattern (Python's `$` also matches before a final newline).
_END = r"(?![\s\S])"

# Code points no text takes: unpaired UTF-16 surrogates, which have no UTF-8 form (argon2
# and DynamoDB cannot take them), and control characters: C0 and DEL, though multi-line
# text keeps tab, newline and carriage return. Passwords refuse only the surrogates.
# Patterns state the control characters; surrogates are no Unicode characters at all, so
# no pattern can name them (a regex engine on Unicode scalar values, as JSON Schema
# validators in Rust, refuses to compile one that does): the description says it in words.
_SURROGATES = r"\ud800-\udfff"
# Refused in every text field: C0 and C1 controls, bidi overrides and isolates (which can make a
# name read as another), zero-width characters and the BOM (which make two names look alike).
_INVISIBLE = r"\u200b-\u200d\u2060\ufeff"
_BIDI = r"\u202a-\u202e\u2066-\u2069"
_CONTROLS = rf"\x00-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}"
_MULTILINE_CONTROLS = rf"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_BIDI}{_INVISIBLE}"


def _refusing(chars: str) -> str:
    """The start of a pattern that refuses any of `chars` anywhere in the text: a lookahead over
    all of it, so that `$`, which Python also matches before a final newline, lets none through."""
    return rf"^(?![\s\S]*[{chars}])"


def _bad_character(char: str) -> str:
    if "\ud800" <= char <= "\udfff":
        return "Unpaired surrogate code points (U+D800 to U+DFFF) are not allowed."
    if char == "\x00":
        return "Null characters are not allowed."
    if re.fullmatch(f"[{_BIDI}]", char):
        return "Text direction overrides (U+202A to U+202E, U+2066 to U+2069) are not allowed."
    if re.fullmatch(f"[{_INVISIBLE}]", char):
        return "Zero-width characters (U+200B to U+200D, U+2060, U+FEFF) are not allowed."
    return "Control characters are not allowed."


class FieldError(Exception):
    pass


class Field:
    json_type: str = "string"

    def __init__(self, *, required: bool = False, nullable: bool = False, description: str = ""):
        self.required = required
        self.nullable = nullable
        self.description = description

    def clean(self, value: Any) -> Any:
        if value is None:
            if self.nullable:
                return None
            raise FieldError("This field may not be null.")
        return self.convert(value)

    def convert(self, value: Any) -> Any:
        return value

    def extra_schema(self) -> dict:
        return {}

    def json_schema(self) -> dict:
        schema: dict[str, Any] = {"type": [self.json_type, "null"] if self.nullable else self.json_type}
        schema.update(self.extra_schema())
        if self.description:
            schema["description"] = self.description
        return schema


class Str(Field):
    """Text, stripped of surrounding white space and stored in NFC. `max_length` counts the text
    as sent; `min_length` and `pattern` apply to it once stripped. Single-line unless `multiline`.
    No text holds a control character (C0, C1), a bidi override or isolate, or a zero-width one."""

    def __init__(self, *, max_length: int = 200, min_length: int = 1, pattern: str | None = None,
                 pattern_message: str = "Enter a valid value.", multiline: bool = False, **kw):
        super().__init__(**kw)
        if pattern and min_length > 1:
            raise ValueError("A pattern states its own minimum length.")
        self.max_length = max_length
        self.min_length = min_length
        # Kept as text: `re` compiles each at first use and caches it, so importing the app
        # compiles no field's pattern (a cold start pays only for the fields a request reads).
        self.pattern = pattern
        self.pattern_message = pattern_message
        self.controls = _MULTILINE_CONTROLS if multiline else _CONTROLS
        self._refused = f"[{self.controls}{_SURROGATES}]"

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldError("Must be a string.")
        if len(value) > self.max_length:
            raise FieldError(f"Ensure this field has no more than {self.max_length} characters.")
        bad = re.search(self._refused, value)
        if bad:
            raise FieldError(_bad_character(bad.group()))
        value = value.strip()
        if len(value) < self.min_length:
            raise FieldError("This field may not be blank." if self.min_length == 1
                             else f"Ensure this field has at least {self.min_length} characters.")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise FieldError(self.pattern_message)
        # Stored in NFC: one spelling of each name (an "é" typed as one code point or as two).
        return unicodedata.normalize("NFC", value)

    def json_pattern(self) -> str:
        """The checks above as one JSON Schema pattern (which matches anywhere in the text
        unless anchored): no refused character, then, around optional white space, the text."""
        # The lookahead says it; the rest repeats it where it helps a generator, which also reads
        # `$` as the end (Python's `$` also matches before a final newline: refused or stripped).
        start = _refusing(self.controls)
        allowed, visible, space = f"[^{self.controls}]", rf"[^\s{self.controls}]", rf"[^\S{self.controls}]"
        if self.pattern:
            return rf"{start}{space}*(?:{self.pattern}){space}*$"
        if self.min_length == 0:
            return rf"{start}{allowed}*$"
        if self.min_length == 1:
            return rf"{start}{allowed}*{visible}{allowed}*$"
        return rf"{start}{space}*{visible}{allowed}{{{self.min_length - 2},}}{visible}{space}*$"

    def extra_schema(self) -> dict:
        schema: dict[str, Any] = {"maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        schema["pattern"] = self.json_pattern()
        return schema


class Password(Str):
    """A password, kept exactly as typed. New passwords follow the rules (at least 8
    characters, not all digits); a password given at login is only bounded. Either may hold
    any character that has a UTF-8 form."""

    _ALL_DIGITS = r"[0-9]+"

    def __init__(self, *, new: bool = True, **kw):
        super().__init__(max_length=128, min_length=8 if new else 1, **kw)
        self.new = new

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldError("Must be a string.")
        if not value:
            raise FieldError("This field may not be blank.")
        if len(value) > self.max_length:
            raise FieldError(f"Ensure this field has no more than {self.max_length} characters.")
        bad = re.search(f"[{_SURROGATES}]", value)
        if bad:
            raise FieldError(_bad_character(bad.group()))
        if self.new and len(value) < self.min_length:
            raise FieldError("This password is too short. It must contain at least 8 characters.")
        if self.new and re.fullmatch(self._ALL_DIGITS, value):
            raise FieldError("This password is entirely numeric.")
        return value

    def extra_schema(self) -> dict:
        schema = {"minLength": self.min_length, "maxLength": self.max_length, "writeOnly": True}
        if self.new:
            schema["pattern"] = "[^0-9]"  # some character is not a digit
        return schema


class Email(Str):
    def __init__(self, **kw):
        super().__init__(max_length=254, pattern=_EMAIL, pattern_message="Enter a valid email address.", **kw)

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    # No `format: email`: validators read that format differently (surrounding spaces, a local part
    # over 64 characters), while the pattern says exactly what is taken.


class Date(Field):
    """A calendar date, YYYY-MM-DD, from MIN_DATE to MAX_DATE."""

    def convert(self, value: Any) -> Any:
        message = "Enter a valid date in YYYY-MM-DD format."
        if not isinstance(value, str) or not re.fullmatch(_DATE_SHAPE, value):
            raise FieldError(message)
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise FieldError(message) from None
        if not MIN_DATE <= parsed <= MAX_DATE:
            raise FieldError(f"Enter a date from {MIN_DATE} to {MAX_DATE}.")
        return parsed

    def extra_schema(self) -> dict:
        return {"format": "date", "pattern": f"^{_DATE}{_END}"}


class Instant(Field):
    """An ISO 8601 instant with seconds and a zone, in years 1900 to 9998; stored and returned in UTC."""

    def convert(self, value: Any) -> Any:
        message = "Enter a valid date/time in ISO 8601 format with a time zone, e.g. 2023-12-15T10:00:00Z."
        if not isinstance(value, str) or not re.fullmatch(_INSTANT, value):
            raise FieldError(message)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(message) from None
        return parsed.astimezone(UTC)

    def extra_schema(self) -> dict:
        return {"format": "date-time", "pattern": f"^{_INSTANT}{_END}"}


class Int(Field):
    json_type = "integer"

    def __init__(self, *, minimum: int | None = 1, maximum: int = 2**53 - 1, **kw):
        super().__init__(**kw)
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any) -> Any:
        # JSON Schema counts 5.0 as an integer, and so does this API.
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise FieldError("A valid integer is required.")
        if self.minimum is not None and value < self.minimum:
            raise FieldError(f"Ensure this value is greater than or equal to {self.minimum}.")
        if value > self.maximum:
            raise FieldError(f"Ensure this value is less than or equal to {self.maximum}.")
        return value

    def extra_schema(self) -> dict:
        schema: dict[str, Any] = {"maximum": self.maximum}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        return schema


class Bool(Field):
    json_type = "boolean"

    def convert(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise FieldError("Must be true or false.")
        return value


class Choice(Field):
    def __init__(self, choices: tuple[str, ...] | list[str], **kw):
        super().__init__(**kw)
        self.choices = tuple(choices)

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str) or value not in self.choices:
            raise FieldError(f"Must be one of: {', '.join(self.choices)}.")
        return value

    def extra_schema(self) -> dict:
        return {"enum": list(self.choices) + ([None] if self.nullable else [])}


class Obj(Field):
    """A nested object, for response descriptions."""
    json_type = "object"

    def __init__(self, schema: Schema, **kw):
        super().__init__(**kw)
        self.schema = schema

    def json_schema(self) -> dict:
        reference = {"$ref": f"#/components/schemas/{self.schema.name}"}
        if not self.nullable:
            return reference
        schema: dict[str, Any] = {"oneOf": [reference, {"type": "null"}]}
        if self.description:
            schema["description"] = self.description
        return schema


class List(Field):
    """A list of one kind of item, for response descriptions."""
    json_type = "array"

    def __init__(self, item: Field, **kw):
        super().__init__(**kw)
        self.item = item

    def extra_schema(self) -> dict:
        return {"items": self.item.json_schema()}


class RequiredUnless:
    """A rule across fields: `field` is required, and not null, unless `other` is one of `values`
    (a field left out counts as its `default`)."""
    partial = False  # a whole body's rule: not checked on a PATCH

    def __init__(self, field: str, other: str, values: tuple[str, ...], default: str, message: str):
        self.field, self.other, self.values, self.default, self.message = field, other, values, default, message

    def broken_by(self, data: dict) -> dict[str, str]:
        if data.get(self.other, self.default) in self.values or data.get(self.field) is not None:
            return {}
        return {self.field: self.message}

    def json_schema(self) -> dict:
        condition: dict[str, Any] = {"properties": {self.other: {"enum": list(self.values)}}}
        if self.default not in self.values:
            condition["required"] = [self.other]
        return {"if": condition,
                "else": {"required": [self.field], "properties": {self.field: {"not": {"type": "null"}}}}}


class OnlyWhen:
    """A rule across fields: `fields` may be given only when `other` is `value`."""
    partial = False

    def __init__(self, fields: tuple[str, ...], other: str, value: str, message: str):
        self.fields, self.other, self.value, self.message = fields, other, value, message

    def broken_by(self, data: dict) -> dict[str, str]:
        if data.get(self.other) == self.value:
            return {}
        return {name: self.message % name for name in self.fields if name in data}

    def json_schema(self) -> dict:
        return {"if": {"properties": {self.other: {"const": self.value}}, "required": [self.other]},
                "else": {"properties": {name: False for name in self.fields}}}


class NotWhen:
    """A rule across fields: `fields` may not be given when `other` is one of `values` (a missing
    `other` takes its default, which is not among them)."""
    partial = False

    def __init__(self, fields: tuple[str, ...], other: str, values: tuple[str, ...], message: str):
        self.fields, self.other, self.values, self.message = fields, other, values, message

    def broken_by(self, data: dict) -> dict[str, str]:
        if data.get(self.other) not in self.values:
            return {}
        return {name: self.message for name in self.fields if name in data}

    def json_schema(self) -> dict:
        return {"if": {"properties": {self.other: {"enum": list(self.values)}}, "required": [self.other]},
                "then": {"properties": {name: False for name in self.fields}}}


class NotNullWhen:
    """A rule across fields: `field` may not be null when `other` is given as `value`. It speaks
    only of fields the body gives, so it holds on a PATCH too."""
    partial = True

    def __init__(self, field: str, other: str, value: str, message: str):
        self.field, self.other, self.value, self.message = field, other, value, message

    def broken_by(self, data: dict) -> dict[str, str]:
        if data.get(self.other) == self.value and self.field in data and data[self.field] is None:
            return {self.field: self.message}
        return {}

    def json_schema(self) -> dict:
        return {"if": {"properties": {self.other: {"const": self.value}}, "required": [self.other]},
                "then": {"properties": {self.field: {"not": {"type": "null"}}}}}


Rule = RequiredUnless | OnlyWhen | NotWhen | NotNullWhen


class Schema:
    """A named JSON object shape: validates request bodies, describes responses.

    `rules` relate fields to one another; they are checked once every field is valid,
    and described as JSON Schema conditions (`allOf` of `if`/`then`).
    """

    def __init__(self, name: str, fields: dict[str, Field], *, description: str = "",
                 rules: tuple[Rule, ...] = ()):
        self.name = name
        self.fields = fields
        self.description = description
        self.rules = rules

    def validate(self, data: Any, *, partial: bool = False) -> dict:
        """Clean a decoded body; raise ValidationFailed naming every bad field.

        With partial=True (PATCH) required fields may be absent.
        """
        if not isinstance(data, dict):
            raise ValidationFailed("The request body must be a JSON object.")
        errors: dict[str, str] = {}
        cleaned: dict[str, Any] = {}
        for name, spec in self.fields.items():
            value = data.get(name, MISSING)
            if value is MISSING:
                if spec.required and not partial:
                    errors[name] = "This field is required."
                continue
            try:
                cleaned[name] = spec.clean(value)
            except FieldError as exc:
                errors[name] = str(exc)
        for key in data:
            if key not in self.fields:
                errors[str(key)[:100]] = "Unknown field."
        if not errors:
            for rule in self._rules(partial):
                for name, message in rule.broken_by(cleaned).items():
                    errors.setdefault(name, message)
        if errors:
            first = next(iter(errors))
            raise ValidationFailed(f"{first}: {errors[first]}", fields=errors)
        return cleaned

    def json_schema(self, *, partial: bool = False) -> dict:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {name: spec.json_schema() for name, spec in self.fields.items()},
            "additionalProperties": False,
        }
        required = [name for name, spec in self.fields.items() if spec.required and not partial]
        if required:
            schema["required"] = required
        rules = self._rules(partial)
        if rules:
            schema["allOf"] = [rule.json_schema() for rule in rules]
        if self.description:
            schema["description"] = self.description
        return schema

    def _rules(self, partial: bool) -> list[Rule]:
        """The rules a body is held to: on a PATCH (`partial`), those that hold of a part."""
        return [rule for rule in self.rules if rule.partial or not partial]


# A query string's bytes that are not UTF-8 reach the app as U+FFFD (API Gateway and the local
# server decode them so), and a query parameter never needs that character: it is refused, so that
# such bytes are a 400 naming the parameter rather than text to search for.
NOT_UTF8 = "Must be UTF-8 text: this holds bytes that are not UTF-8 (or U+FFFD)."


def query_pattern(schema: dict) -> dict:
    """A query parameter's JSON schema, its text refusing U+FFFD as query_params() does."""
    if schema.get("type") != "string" or "enum" in schema:
        return schema
    return {**schema, "pattern": _refusing(r"\ufffd") + schema.get("pattern", "")}


def query_params(params: dict | None, spec: dict[str, Field]) -> dict:
    """Validate query-string parameters (always strings) against field specs."""
    params = params or {}
    errors: dict[str, str] = {}
    cleaned: dict[str, Any] = {}
    for key in params:
        if key not in spec:
            errors[str(key)[:100]] = "Unknown query parameter."
    for name, field in spec.items():
        if name not in params:
            continue
        raw = params[name]
        try:
            if "\ufffd" in raw:
                raise FieldError(NOT_UTF8)
            if isinstance(field, Int):
                if not re.fullmatch(r"-?[0-9]{1,16}", raw):
                    raise FieldError("A valid integer is required.")
                raw = int(raw)
            cleaned[name] = field.clean(raw)
        except FieldError as exc:
            errors[name] = str(exc)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first]}", fields=errors)
    return cleaned
