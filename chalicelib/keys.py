"""One key per use of the deployment's secret (DQS_JWT_SECRET): tokens, list cursors, link codes
and password reset codes are each keyed with their own key, derived from the secret as
HMAC-SHA256(secret, purpose) (HKDF's expand step with a single block), so a value made for one
use is never valid for another.

Rotation: the current secret signs everything new; the previous one (DQS_JWT_PREVIOUS_SECRET[_PARAM]),
while it is kept, still verifies what it signed, so nobody is logged out by a rotation. Each secret
has a short public id (`key_id`), which a token carries as its `kid`.

A leaf below the domain and storage: both take their keys from here.
"""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.settings import Settings, jwt_secret, previous_jwt_secret

TOKENS = "tokens"
CURSORS = "cursors"
LINK_CODES = "link-codes"
RESET_CODES = "password-reset-codes"
WEBHOOK_SECRETS = "webhook-secrets"  # seals the webhooks' signing secrets at rest
CONTACT_CODES = "contact-codes"  # one-time codes that verify a patient's phone or email
PURPOSES = (TOKENS, CURSORS, LINK_CODES, RESET_CODES, WEBHOOK_SECRETS, CONTACT_CODES)


def _derive(secret: str, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown key purpose {purpose!r}.")
    return hmac.new(secret.encode(), b"dqs key/" + purpose.encode() + b"\x01", hashlib.sha256).digest()


def key_id(secret: str) -> str:
    """A secret's public name: 12 hex digits of a keyed hash, which tell nothing of the secret."""
    return hmac.new(secret.encode(), b"dqs key id", hashlib.sha256).hexdigest()[:12]


def derived_key(purpose: str, settings: Settings | None = None) -> bytes:
    """The current 32-byte key for one purpose (one of PURPOSES)."""
    return _derive(jwt_secret(settings), purpose)


def signing_key(purpose: str, settings: Settings | None = None) -> tuple[str, bytes]:
    """(key id, key) to sign something new with: the current secret's."""
    secret = jwt_secret(settings)
    return key_id(secret), _derive(secret, purpose)


def verification_keys(purpose: str, settings: Settings | None = None) -> dict[str, bytes]:
    """Every key that may have signed something still valid, by key id: the current secret's
    first, then the previous one's while it is kept."""
    keys = {}
    for secret in (jwt_secret(settings), previous_jwt_secret(settings)):
        if secret is not None:
            keys.setdefault(key_id(secret), _derive(secret, purpose))
    return keys
