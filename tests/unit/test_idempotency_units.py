"""Idempotency keys in the domain, on the in-memory stores."""
from __future__ import annotations

import pytest

from chalicelib.domain import clock, idempotency
from chalicelib.errors import Conflict, Unprocessable, ValidationFailed


def test_claim_finish_replay(fakes):
    fp = idempotency.fingerprint("POST", "/queues/join_queue {}", b'{"a": 1, "b": 2}')
    assert fp == idempotency.fingerprint("POST", "/queues/join_queue {}", b'{"b":2,"a":1}')
    ticket = idempotency.begin(1, "k", fp)
    assert isinstance(ticket, idempotency.Ticket)
    with pytest.raises(Conflict):
        idempotency.begin(1, "k", fp)
    with pytest.raises(Unprocessable):
        idempotency.begin(1, "k", idempotency.fingerprint("POST", "/queues/join_queue {}", b"{}"))
    assert isinstance(idempotency.begin(2, "k", fp), idempotency.Ticket)  # another caller's key
    idempotency.finish(ticket, 201, '{"id": 7}')
    assert idempotency.begin(1, "k", fp) == idempotency.Replay(201, '{"id": 7}')


def test_an_abandoned_claim_runs_again_and_a_lapsed_one_is_free(fakes, monkeypatch):
    fp = idempotency.fingerprint("POST", "/p {}", b"{}")
    ticket = idempotency.begin(1, "k", fp)
    idempotency.abandon(ticket)
    second = idempotency.begin(1, "k", fp)
    assert isinstance(second, idempotency.Ticket)
    idempotency.finish(second, 201, "{}")
    start = clock.now()
    monkeypatch.setattr(clock, "now", lambda: start + _seconds(idempotency.KEEP_SECONDS + 1))
    assert isinstance(idempotency.begin(1, "k", idempotency.fingerprint("POST", "/p {}", b"[]")),
                      idempotency.Ticket)


def test_a_stale_running_claim_is_taken_over_once_and_its_late_answer_ignored(fakes, monkeypatch):
    fp = idempotency.fingerprint("POST", "/p {}", b"{}")
    start = clock.now()
    dead = idempotency.begin(1, "k", fp)
    monkeypatch.setattr(clock, "now", lambda: start + _seconds(idempotency.STALE_SECONDS + 1))
    taken = idempotency.begin(1, "k", fp)
    assert isinstance(taken, idempotency.Ticket)
    with pytest.raises(Conflict):
        idempotency.begin(1, "k", fp)
    idempotency.finish(dead, 500, "late")  # the dead request's answer lands nowhere
    idempotency.finish(taken, 201, '{"id": 1}')
    assert idempotency.begin(1, "k", fp) == idempotency.Replay(201, '{"id": 1}')


@pytest.mark.parametrize("key", ["", "x" * 256, "é", "a\tb"])
def test_bad_keys(key):
    with pytest.raises(ValidationFailed) as raised:
        idempotency.check_key(key)
    assert "Idempotency-Key" in raised.value.fields


def _seconds(n: int):
    from datetime import timedelta
    return timedelta(seconds=n)
