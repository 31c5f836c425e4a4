"""The domain's store registry and the ids fake."""
from __future__ import annotations

import threading

import pytest

from chalicelib.domain import stores as installed
from chalicelib.domain.stores import stores
from chalicelib.errors import ConfigurationError


def test_unbound_stores_are_a_configuration_error(monkeypatch):
    monkeypatch.setattr(installed, "_current", None)
    with pytest.raises(ConfigurationError, match="storage.bind"):
        stores()


def test_fake_ids_are_unique_under_threads(fakes):
    got: list[int] = []

    def take():
        for _ in range(200):
            got.append(stores().ids.next_id("patient"))

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(got) == list(range(1, 801))
    assert stores().ids.reserved_id("queue_entry") == 1
