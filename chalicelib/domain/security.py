"""Password hashing (argon2id) and signed, expiring, revocable tokens (JWT HS256)."""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chalicelib.errors import Unauthenticated
from chalicelib.settings import Settings, jwt_secret

# OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (about 17 ms here).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
ALGORITHM = "HS256"


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths take as long.

    Made at first use, not at import: a cold start does not pay for a hash.
    """
    return _hasher.hash("not a real password, used for timing only")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; always does the full work of one check."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def issue_token(user_id: int, token_version: int, now: datetime, settings: Settings) -> tuple[str, datetime]:
    """A token for the user, valid until the returned instant or the next logout."""
    expires = now + timedelta(seconds=settings.token_ttl_seconds)
    claims = {"sub": str(user_id), "ver": token_version, "iat": int(now.timestamp()),
              "exp": int(expires.timestamp())}
    return jwt.encode(claims, jwt_secret(settings), algorithm=ALGORITHM), expires


def read_token(token: str, settings: Settings) -> tuple[int, int]:
    """The (user id, token version) a token carries; 401 if forged, malformed or expired."""
    try:
        claims = jwt.decode(
            token, jwt_secret(settings), algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat", "ver"], "verify_iat": False},
            leeway=0,
        )
        user_id = int(claims["sub"])
        version = claims["ver"]
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValueError
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("Token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise Unauthenticated("Invalid token.") from None
    return user_id, version
