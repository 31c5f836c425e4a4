"""The suite's own scheduling (tests/conftest.py): every test module that makes something costly
once per module (a server, a build) runs whole on one worker, and the races run one after another."""
from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import SHARED, group_of

TESTS = Path(__file__).resolve().parents[1]


def test_every_module_with_a_module_or_session_fixture_is_one_group():
    shared = {path.relative_to(TESTS.parent).as_posix() for path in TESTS.rglob("test_*.py")
              if re.search(r"scope=\"(module|session)\"", path.read_text())}
    assert shared and shared <= set(SHARED)
    assert all(group_of(f"{module}::test_a") == SHARED[module] for module in shared)


def test_the_races_share_one_group_and_other_tests_none():
    assert group_of("tests/e2e/test_desk_races.py::a") == group_of("tests/e2e/test_queue_races.py::b[1]") == "races"
    assert group_of("tests/api/test_queue.py::test_x") is None
    assert group_of("tests/deploy/test_package_webhooks.py::t") == group_of("tests/deploy/test_package.py::t")
