"""What a username and a password may be, wherever an account is made or changed (the API's
schemas and the first-admin command take them from here)."""
from __future__ import annotations

from chalicelib.errors import ValidationFailed

USERNAME_PATTERN = r"[A-Za-z0-9@.+_-]+"
USERNAME_MAX_LENGTH = 150
USERNAME_MESSAGE = "Enter a valid username: letters, digits and @/./+/-/_ only."


def username_field(**kw):
    """A username as the contract spells it: 1-150 of letters, digits and @.+-_ (a schema field)."""
    from chalicelib.schema import Str

    return Str(max_length=USERNAME_MAX_LENGTH, pattern=USERNAME_PATTERN, pattern_message=USERNAME_MESSAGE, **kw)


def check_password_rules(password: str, username: str, field: str = "password") -> None:
    """What the schema cannot see: a password is not the username."""
    if password.casefold() == username.casefold():
        raise ValidationFailed.field(field, "The password is too similar to the username.")
