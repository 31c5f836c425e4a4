"""Who is calling: the user a token belongs to."""
from __future__ import annotations

from chalicelib.domain.entities import User
from chalicelib.domain.security import read_token, same_secret
from chalicelib.domain.stores import stores
from chalicelib.errors import Unauthenticated
from chalicelib.settings import get_settings


def authenticate(token: str) -> User:
    """The active user a token belongs to; 401 if it is forged, expired or revoked, or was
    issued to an earlier account with the same id (its key is not this account's)."""
    user_id, version, key = read_token(token, get_settings())
    user = stores().users.get(user_id)
    if user is None or not same_secret(user.token_key, key) or not user.is_active or user.token_version != version:
        raise Unauthenticated("Invalid token.")
    return user
