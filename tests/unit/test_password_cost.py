"""Passwords are hashed at OWASP's argon2id baseline where the app runs; the tests' own process
hashes them at argon2's least cost (tests/conftest.py), which changes nothing else."""
from __future__ import annotations

from chalicelib.domain import security
from tests.conftest import DEPLOYED_HASHER


def test_deployed_passwords_are_hashed_at_owasps_baseline_and_verify():
    hasher = DEPLOYED_HASHER()
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (2, 19 * 1024, 1)
    stored = hasher.hash("pw-123456")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert security.verify_password(stored, "pw-123456")
    assert not security.verify_password(stored, "pw-1234567")


def test_the_tests_hash_at_the_least_cost_and_the_same_checks_hold():
    stored = security.hash_password("pw-123456")
    assert stored.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert stored != security.hash_password("pw-123456")  # salted
    assert security.verify_password(stored, "pw-123456")
    assert not security.verify_password(stored, "pw-1234567")
    assert not security.verify_password(None, "pw-123456")
