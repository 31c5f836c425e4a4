"""Request and response shapes, defined once.

Each Schema validates a decoded JSON body (every bad field named, with a clear
message) and describes itself as JSON Schema, so the OpenAPI description is
generated from the same definitions that check requests.
"""
from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from chalicelib.errors import ValidationFailed

MISSING = object()

# Django's pragmatic email check: a local part, an @, a dotted domain.
_EMAIL_RE = re.compile(
    r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_INSTANT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})$")


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
    def __init__(self, *, max_length: int = 200, min_length: int = 1, pattern: str | None = None,
                 pattern_message: str = "Enter a valid value.", **kw):
        super().__init__(**kw)
        self.max_length = max_length
        self.min_length = min_length
        self.pattern = re.compile(pattern) if pattern else None
        self.pattern_message = pattern_message

    def convert(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise FieldError("Must be a string.")
        value = value.strip()
        if len(value) < self.min_length:
            raise FieldError("This field may not be blank." if self.min_length == 1
                             else f"Ensure this field has at least {self.min_length} characters.")
        if len(value) > self.max_length:
            raise FieldError(f"Ensure this field has no more than {self.max_length} characters.")
        if "\x00" in value:
            raise FieldError("Null characters are not allowed.")
        if self.pattern and not self.pattern.fullmatch(value):
            raise FieldError(self.pattern_message)
        return value

    def extra_schema(self) -> dict:
        # minLength/maxLength count the text after surrounding spaces are stripped.
        schema: dict[str, Any] = {"maxLength": self.max_length}
        if self.min_length:
            schema["minLength"] = self.min_length
        if self.pattern:
            # JSON Schema patterns match anywhere in the text; the check above matches all of it.
            schema["pattern"] = f"^(?:{self.pattern.pattern})$"
        return schema


class Password(Str):
    """A password, kept exactly as typed. New passwords follow the rules;
    a password given at login is only bounded."""

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
        if self.new and len(value) < self.min_length:
            raise FieldError("This password is too short. It must contain at least 8 characters.")
        if self.new and value.isdigit():
            raise FieldError("This password is entirely numeric.")
        return value

    def extra_schema(self) -> dict:
        return {"minLength": self.min_length, "maxLength": self.max_length, "writeOnly": True}


class Email(Str):
    def __init__(self, **kw):
        super().__init__(max_length=254, **kw)

    def convert(self, value: Any) -> Any:
        value = super().convert(value)
        if not _EMAIL_RE.match(value):
            raise FieldError("Enter a valid email address.")
        local, _, domain = value.rpartition("@")
        return f"{local}@{domain.lower()}"

    def extra_schema(self) -> dict:
        return {"format": "email", "maxLength": self.max_length}


class Date(Field):
    def convert(self, value: Any) -> Any:
        if not isinstance(value, str) or not _DATE_RE.match(value):
            raise FieldError("Enter a valid date in YYYY-MM-DD format.")
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise FieldError("Enter a valid date in YYYY-MM-DD format.") from None
        if parsed.year < 1900:
            raise FieldError("Enter a date after 1900-01-01.")
        return parsed

    def extra_schema(self) -> dict:
        return {"format": "date"}


class Instant(Field):
    """An ISO 8601 instant with a zone; stored and returned in UTC."""

    def convert(self, value: Any) -> Any:
        message = "Enter a valid date/time in ISO 8601 format with a time zone, e.g. 2023-12-15T10:00:00Z."
        if not isinstance(value, str) or not _INSTANT_RE.match(value):
            raise FieldError(message)
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(message) from None
        if parsed.year < 1900 or parsed.year > 9998:
            raise FieldError(message)
        return parsed.astimezone(UTC)

    def extra_schema(self) -> dict:
        return {"format": "date-time"}


class Int(Field):
    json_type = "integer"

    def __init__(self, *, minimum: int | None = 1, maximum: int = 2**53 - 1, **kw):
        super().__init__(**kw)
        self.minimum = minimum
        self.maximum = maximum

    def convert(self, value: Any) -> Any:
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
        return {"$ref": f"#/components/schemas/{self.schema.name}"}


class List(Field):
    """A list of one kind of item, for response descriptions."""
    json_type = "array"

    def __init__(self, item: Field, **kw):
        super().__init__(**kw)
        self.item = item

    def extra_schema(self) -> dict:
        return {"items": self.item.json_schema()}


class Schema:
    """A named JSON object shape: validates request bodies, describes responses."""

    def __init__(self, name: str, fields: dict[str, Field], *, description: str = ""):
        self.name = name
        self.fields = fields
        self.description = description

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
        if self.description:
            schema["description"] = self.description
        return schema


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
            if isinstance(field, Int):
                if not re.fullmatch(r"-?\d{1,16}", raw):
                    raise FieldError("A valid integer is required.")
                raw = int(raw)
            cleaned[name] = field.clean(raw)
        except FieldError as exc:
            errors[name] = str(exc)
    if errors:
        first = next(iter(errors))
        raise ValidationFailed(f"{first}: {errors[first]}", fields=errors)
    return cleaned
