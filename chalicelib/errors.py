"""Domain errors. They say what went wrong in the clinic's terms; the API layer
maps each to an HTTP status in one place (chalicelib.api.http)."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """Base of every error a client can cause."""

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}


class ValidationFailed(DomainError):
    """The request's data is not acceptable (400)."""

    @classmethod
    def field(cls, name: str, message: str, **extra) -> "ValidationFailed":
        return cls(message, fields={name: message}, extra=extra)


class Unauthenticated(DomainError):
    """No valid credentials (401)."""


class Forbidden(DomainError):
    """Authenticated, but not allowed (403)."""


class NotFound(DomainError):
    """No such object (404)."""


def found(obj: T | None, what: str, object_id: int) -> T:
    """The object looked up, or NotFound naming what is missing."""
    if obj is None:
        raise NotFound(f"No {what} with id {object_id}.")
    return obj


class ConfigurationError(Exception):
    """The deployment is misconfigured; the server refuses to serve rather than guess."""
