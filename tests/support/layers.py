"""A pytest plugin: the time the tests of each layer took (tests/unit, api, e2e, deploy),
printed at the end of the run.

A test's time is its setup, call and teardown. Under pytest-xdist the workers' times
add up, so the layers' sum may exceed the wall-clock time of the run.
"""
from __future__ import annotations

import time
from collections import defaultdict

import pytest

_seconds: dict[str, float] = defaultdict(float)
_tests: dict[str, int] = defaultdict(int)
_started = {"at": time.monotonic()}


def layer(nodeid: str) -> str:
    """tests/api/test_x.py::test_y -> api."""
    parts = nodeid.split("::", 1)[0].split("/")
    return parts[1] if len(parts) > 2 and parts[0] == "tests" else parts[0]


def pytest_sessionstart(session):
    _started["at"] = time.monotonic()


def pytest_runtest_logreport(report):
    if getattr(report, "duration", None) is None:
        return
    name = layer(report.nodeid)
    _seconds[name] += report.duration
    if report.when == "call":
        _tests[name] += 1


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if hasattr(config, "workerinput") or not _seconds:
        return
    workers = getattr(config.option, "numprocesses", None)
    how = f" (summed over {workers} workers)" if workers else ""
    parts = [f"{name} {_seconds[name]:.0f} s ({_tests[name]} tests)" for name in sorted(_seconds)]
    terminalreporter.write_line(f"Test time by layer{how}: {', '.join(parts)}; "
                                f"wall clock {time.monotonic() - _started['at']:.0f} s.")
