"""One key per use of the deployment's secret (DQS_JWT_SECRET): tokens, list cursors and link
codes are each keyed with their own key, derived from the secret as HMAC-SHA256(secret, purpose)
(HKDF's expand step with a single block), so a value made for one use is never valid for another.

A leaf below the domain and storage: both take their keys from here.
"""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.settings import Settings, jwt_secret

TOKENS = "tokens"
CURSORS = "cursors"
LINK_CODES = "link-codes"
WEBHOOK_SECRETS = "webhook-secrets"  # seals the webhooks' signing secrets at rest
PURPOSES = (TOKENS, CURSORS, LINK_CODES, WEBHOOK_SECRETS)


def derived_key(purpose: str, settings: Settings | None = None) -> bytes:
    """The 32-byte key for one purpose (one of PURPOSES)."""
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown key purpose {purpose!r}.")
    return hmac.new(jwt_secret(settings).encode(), b"dqs key/" + purpose.encode() + b"\x01", hashlib.sha256).digest()
