"""Password hashing (argon2id), signed, expiring, revocable tokens (JWT HS256), and
the one-time codes that link an account to a patient record made at the desk.

Tokens and link codes each use their own key derived from the secret (chalicelib.keys).
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from functools import cache

from chalicelib.errors import Unauthenticated
from chalicelib.keys import LINK_CODES, TOKENS, derived_key, signing_key, verification_keys
from chalicelib.settings import Settings, refresh_secrets

# argon2 (cffi) and PyJWT (with cryptography) are loaded at their first use, not at import:
# a cold start pays for them only on the request that needs them.
ALGORITHM = "HS256"
TOKEN_KEY_BYTES = 16
# Link codes: no 0/O, 1/I/L, so a code read aloud or copied from paper comes out right.
LINK_CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LINK_CODE_LENGTH = 8


@cache
def _hasher():
    """OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane (about 17 ms here)."""
    from argon2 import PasswordHasher

    return PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)


@cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so both paths take as long.

    Made at first use, not at import: a cold start does not pay for a hash.
    """
    return _hasher().hash("not a real password, used for timing only")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether the password matches; always does the full work of one check."""
    from argon2.exceptions import InvalidHashError, VerificationError

    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def new_token_key() -> str:
    """The random value an account gets at creation; its tokens carry it (hex, 128 bits)."""
    return secrets.token_hex(TOKEN_KEY_BYTES)


def same_secret(expected: str | None, given: str | None) -> bool:
    """Whether two secret values are equal, compared in constant time; a missing one never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def issue_token(user_id: int, token_version: int, token_key: str, now: datetime,
                settings: Settings) -> tuple[str, datetime]:
    """A token for the user, valid until the returned instant or the next logout.

    It names the account by id and by the account's own random key, so a token
    never authenticates another account that later gets the same id (after a wipe).
    """
    import jwt

    expires = now + timedelta(seconds=settings.token_ttl_seconds)
    claims = {"sub": str(user_id), "key": token_key, "ver": token_version, "iat": int(now.timestamp()),
              "exp": int(expires.timestamp())}
    kid, key = signing_key(TOKENS, settings)
    return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid}), expires


def _token_key(token: str, settings: Settings) -> bytes:
    """The key that signed a token: the one its `kid` names (the current or the previous secret's);
    the current one for a token without a kid. A kid this instance does not know may be a rotation it
    has not read yet: the secrets are read again once before the token is refused."""
    import jwt

    kid = jwt.get_unverified_header(token).get("kid")
    if kid is None:
        return derived_key(TOKENS, settings)
    if not isinstance(kid, str):
        raise ValueError("kid")
    keys = verification_keys(TOKENS, settings)
    if kid not in keys and (settings.jwt_secret_param or settings.jwt_previous_secret_param):
        refresh_secrets()
        keys = verification_keys(TOKENS, settings)
    if kid not in keys:
        raise ValueError("unknown kid")
    return keys[kid]


def read_token(token: str, settings: Settings) -> tuple[int, int, str]:
    """The (user id, token version, account key) a token carries; 401 if forged, malformed or expired."""
    import jwt

    try:
        claims = jwt.decode(
            token, _token_key(token, settings), algorithms=[ALGORITHM],
            options={"require": ["sub", "exp", "iat", "ver", "key"], "verify_iat": False},
            leeway=0,
        )
        user_id = int(claims["sub"])
        version = claims["ver"]
        key = claims["key"]
        if isinstance(version, bool) or not isinstance(version, int) or not isinstance(key, str):
            raise ValueError
    except jwt.ExpiredSignatureError:
        raise Unauthenticated("Token has expired.") from None
    except (jwt.InvalidTokenError, ValueError, TypeError):
        raise Unauthenticated("Invalid token.") from None
    return user_id, version, key


# -- link codes -------------------------------------------------------------------

def new_link_code() -> str:
    """A fresh link code: LINK_CODE_LENGTH characters of LINK_CODE_ALPHABET, from `secrets`."""
    return "".join(secrets.choice(LINK_CODE_ALPHABET) for _ in range(LINK_CODE_LENGTH))


def normalize_link_code(text: str) -> str | None:
    """A code as typed (any case, with spaces or dashes) in its canonical form, or None if it cannot be one."""
    code = "".join(text.split()).replace("-", "").upper()
    if len(code) != LINK_CODE_LENGTH or any(c not in LINK_CODE_ALPHABET for c in code):
        return None
    return code


def link_code_hash(code: str, settings: Settings) -> str:
    """What is stored of a link code: an HMAC-SHA256 keyed with the link codes' own key.

    The code itself is never stored; without the key a copy of the tables does
    not tell which code opens which record.
    """
    return hmac.new(derived_key(LINK_CODES, settings), b"link-code:" + code.encode(), hashlib.sha256).hexdigest()
