"""Domain errors. They say what went wrong in the clinic's terms; the API layer
maps each to an HTTP status in one place (chalicelib.api.http)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, NoReturn, Self, TypeVar

T = TypeVar("T")


class DomainError(Exception):
    """Base of every error a client can cause."""

    def __init__(self, message: str, *, fields: dict[str, str] | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.fields = fields or {}
        self.extra = extra or {}

    @classmethod
    def field(cls, name: str, message: str, **extra) -> Self:
        """The error, naming one field."""
        return cls(message, fields={name: message}, extra=extra)


class ValidationFailed(DomainError):
    """The request's data is not acceptable (400)."""


class Conflict(DomainError):
    """The request is well formed, but conflicts with what is stored (409): a name already
    taken, a patient already holding a place, the last active admin."""


class Unprocessable(DomainError):
    """Well formed, but it contradicts what the request claims to be (422): an Idempotency-Key
    sent again with another request."""


class Unavailable(DomainError):
    """A service the request needs is not answering (503): the operator's problem, not the client's."""


class Unauthenticated(DomainError):
    """No valid credentials (401)."""


class Forbidden(DomainError):
    """Authenticated, but not allowed (403)."""


class NotFound(DomainError):
    """No such object (404)."""


class TooManyRequests(DomainError):
    """Too many failed attempts; try again after `retry_after` seconds (429)."""

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


def existing(obj: T | None, what: str, object_id: int) -> T:
    """The object looked up, or NotFound naming what is missing."""
    if obj is None:
        raise NotFound(f"No {what} with id {object_id}.")
    return obj


class ConditionFailed(Exception):
    """A conditional write lost; `labels` name the conditions that failed.

    Raised by storage, turned into an answer by the domain. The label CONFLICT
    means another writer held the same items: read again and retry.
    """

    CONFLICT = "conflict"

    def __init__(self, labels: list[str]):
        super().__init__(", ".join(labels) or "transaction cancelled")
        self.labels = labels

    @property
    def conflicted(self) -> bool:
        return self.labels == [self.CONFLICT]


class Missing(NamedTuple):
    """An entry of a `taken` map for a check that a referenced record exists: a 400, not a conflict."""
    field: str
    message: str


def raise_taken(exc: ConditionFailed, taken: Mapping[str, tuple[str, str]]) -> NoReturn:
    """A failed claim or check named in `taken` (label -> (field, message)) as a 409 naming
    each field, or a 400 if one of them is a `Missing` record (bad data comes first); any
    other failure is raised again as it is."""
    fields: dict[str, str] = {}
    missing: dict[str, str] = {}
    for label in exc.labels:
        if label in taken:
            name, message = taken[label]
            fields.setdefault(name, message)
            if isinstance(taken[label], Missing):
                missing.setdefault(name, message)
    if not fields:
        raise exc
    if missing:
        raise ValidationFailed(next(iter(missing.values())), fields=missing) from None
    raise Conflict(next(iter(fields.values())), fields=fields) from None


class ConfigurationError(Exception):
    """The deployment is misconfigured; the server refuses to serve rather than guess."""


def retry_on_conflict(action: Callable[[], Any], attempts: int = 5) -> Any:
    """Run `action` again while another writer on the same items won (a "conflict")."""
    for attempt in range(attempts):
        try:
            return action()
        except ConditionFailed as exc:
            if not exc.conflicted or attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")
