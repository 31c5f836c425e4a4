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
CONTACT_CODES = "contact-codes"  # one-time codes that verify a patient's phone or email
PURPOSES = (TOKENS, CURSORS, LINK_CODES, CONTACT_CODES)


def derived_key(purpose: str, settings: Settings | None = None) -> bytes:
    """The 32-byte key for one purpose (one of PURPOSES)."""
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown key purpose {purpose!r}.")
    return hmac.new(jwt_secret(settings).encode(), b"dqs key/" + purpose.encode() + b"\x01", hashlib.sha256).digest()
