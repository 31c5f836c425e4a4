"""One key per use of the secret: tokens, cursors and link codes never share one."""
from __future__ import annotations

import pytest

from chalicelib.keys import PURPOSES, TOKENS, derived_key
from chalicelib.settings import jwt_secret


def test_each_purpose_has_its_own_key_and_none_is_the_secret():
    keys = [derived_key(purpose) for purpose in PURPOSES]
    assert len(set(keys)) == len(PURPOSES) == 6
    assert jwt_secret().encode() not in keys and all(len(key) == 32 for key in keys)
    assert derived_key(TOKENS) == derived_key(TOKENS)


def test_an_unknown_purpose_is_refused():
    with pytest.raises(ValueError):
        derived_key("everything")

