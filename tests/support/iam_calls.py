"""A pytest plugin: every DynamoDB call the app's code makes during the test run is
recorded, and at the end checked against the IAM policies `make package` deploys
(devtools/package.py: FUNCTION_ACCESS, LOCAL_ONLY).

Calls are seen through botocore's event system (tests/support/dynamodb.py), which
every client call announces, so the calls made under moto's mock_aws and those sent
to moto's server are seen alike. A call counts when the app's code made it (a frame of
chalicelib/ or app.py on the stack); calls the tests make themselves (a scan to
look at a table) do not. A call made inside app.py's `queue_reset` belongs to that
function; every other call to the API's. The items of a transaction are recorded as
the actions IAM checks them as (PutItem, UpdateItem, DeleteItem, ConditionCheckItem,
GetItem).

Under pytest-xdist (`-n`), each worker records its own calls and hands them to the
controller with its results (xdist's `workeroutput`); the controller checks the calls
of all workers together.

At the end of the session:
- a call that its function's policy does not grant fails the run, whatever was selected;
- an action a policy grants that no call needed fails the run only when the whole
  suite ran and passed (no path narrower than the project or tests/, nothing
  deselected, every test run).
"""
from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from tests.support import dynamodb

PROJECT_DIR = Path(__file__).resolve().parents[2]
APP_FILE = str(PROJECT_DIR / "app.py")
CODE_DIR = str(PROJECT_DIR / "chalicelib") + "/"
API_FUNCTION = "api_handler"

# The items of a transaction or batch, and the action IAM checks each one as.
TRANSACTION_ITEMS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem",
                     "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}


class Recorder:
    """The calls seen: {(function, action, table, index or None): a test that made it}."""

    def __init__(self):
        self.calls: dict[tuple[str, str, str, str | None], str] = {}
        self.current_test = "(outside a test)"
        self._lock = threading.Lock()
        self._installed = False

    def install(self) -> None:
        if not self._installed:
            dynamodb.add_listener(self.record)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            dynamodb.remove_listener(self.record)
            self._installed = False

    def record(self, operation: str, params: dict) -> None:
        from devtools.package import LOCAL_ONLY

        function = None
        from_code = False
        names = set()
        frame = sys._getframe(1)
        while frame is not None:
            filename = frame.f_code.co_filename
            names.add(frame.f_code.co_name)
            if filename == APP_FILE:
                from_code = True
                if function is None and frame.f_code.co_name != "<module>":
                    function = frame.f_code.co_name
            elif filename.startswith(CODE_DIR):
                from_code = True
            frame = frame.f_back
        if not from_code or LOCAL_ONLY.get(operation) in names:
            return
        if function is None or function not in _functions():
            function = API_FUNCTION
        with self._lock:
            for action, table, index in _actions(operation, params):
                self.calls.setdefault((function, action, _suffix(table), index), self.current_test)


def _functions() -> set[str]:
    from devtools.package import FUNCTION_ACCESS

    return set(FUNCTION_ACCESS)


def _actions(operation: str, params: dict):
    """(action, table name, index name or None) for each thing IAM checks in one call."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        for item in params.get("TransactItems", []):
            for kind, body in item.items():
                yield TRANSACTION_ITEMS[kind], body["TableName"], None
    elif operation in ("BatchWriteItem", "BatchGetItem"):
        for table in params.get("RequestItems", {}):
            yield operation, table, None
    elif "TableName" in params:
        yield operation, params["TableName"], params.get("IndexName")
    else:
        yield operation, "*", None


def _suffix(table: str) -> str:
    """The model's table suffix, whatever prefix the test's stage gave the table."""
    from chalicelib import storage

    for model in storage.MODELS:
        if table.endswith(model.Meta.table_suffix):
            return model.Meta.table_suffix
    return table


def unauthorised(calls) -> list[str]:
    """Calls that their function's policy does not grant, one line each."""
    from devtools import package

    lines = []
    for (function, action, table, index), test in sorted(calls.items(), key=lambda c: tuple(map(str, c[0]))):
        if (action, table, index) not in package.grants(function):
            where = f"{table} index {index}" if index else table
            lines.append(f"{function}: dynamodb:{action} on {where} is not granted (first made by {test})")
    return lines


def unused(calls) -> list[str]:
    """Actions a function's policy grants that no recorded call needed, one line each."""
    from devtools import package

    lines = []
    for function in sorted(package.FUNCTION_ACCESS):
        used = {action for (f, action, _, _) in calls if f == function}
        granted = {action for action, _, _ in package.grants(function)}
        lines += [f"{function}: dynamodb:{action} is granted but no test needed it"
                  for action in sorted(granted - used)]
    return lines


def to_rows(calls) -> list[list]:
    """The calls as lists of text, as xdist carries them from a worker to the controller."""
    return [[*key, test] for key, test in calls.items()]


def merge(calls, rows) -> None:
    """Add a worker's rows (to_rows) to `calls`, keeping the first test seen for each kind of call."""
    for function, action, table, index, test in rows:
        calls.setdefault((function, action, table, index), test)


RECORDER = Recorder()
# The controller's view of the run (under xdist, also what the workers report).
_run = {"deselected": 0, "finished": 0}
WORKER_OUTPUT = "iam_calls"


def _is_worker(config) -> bool:
    return hasattr(config, "workerinput")


def pytest_configure(config):
    RECORDER.install()


def pytest_unconfigure(config):
    RECORDER.uninstall()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    RECORDER.current_test = item.nodeid


def pytest_runtest_logfinish(nodeid, location):
    _run["finished"] += 1


def pytest_deselected(items):
    _run["deselected"] += len(items)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    """Under xdist, on the controller: a worker is done; take its calls."""
    output = getattr(node, "workeroutput", None) or {}
    if WORKER_OUTPUT in output:
        merge(RECORDER.calls, output[WORKER_OUTPUT]["calls"])
        # Every worker collects (and deselects) the whole selection.
        _run["deselected"] = max(_run["deselected"], output[WORKER_OUTPUT]["deselected"])


def _whole_suite_ran(session) -> bool:
    """pytest was given the project or tests/ (or nothing), deselected nothing, and ran every test, all passing."""
    config = session.config
    suite = {PROJECT_DIR, PROJECT_DIR / "tests"}
    paths = {Path(config.invocation_params.dir, arg.split("::", 1)[0]).resolve() for arg in config.args}
    # Under xdist the controller collects nothing itself: its count is the workers' (each collects all).
    collected = len(session.items) if session.items else session.testscollected
    return (paths <= suite and not _run["deselected"] and _run["finished"] == collected
            and session.testsfailed == 0)


def pytest_sessionfinish(session, exitstatus):
    if _is_worker(session.config):
        # The controller checks everything the workers saw (pytest_testnodedown).
        session.config.workeroutput[WORKER_OUTPUT] = {"calls": to_rows(RECORDER.calls),
                                                      "deselected": _run["deselected"]}
        return
    if exitstatus not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED):
        return
    problems = unauthorised(RECORDER.calls)
    whole = _whole_suite_ran(session)
    if whole:
        problems += unused(RECORDER.calls)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if not problems:
        if reporter is not None and RECORDER.calls:
            checked = "granted and used, both ways" if whole else "granted (a partial run: unused grants not checked)"
            reporter.write("\n")
            reporter.write_line(f"IAM lists: {len(RECORDER.calls)} kinds of DynamoDB call recorded, all {checked}.")
        return
    if reporter is not None:
        reporter.write("\n")
        reporter.write_sep("=", "IAM policies and the DynamoDB calls the tests made differ", red=True)
        for line in problems:
            reporter.write_line(line)
        reporter.write_line("Change FUNCTION_ACCESS (or LOCAL_ONLY) in devtools/package.py to match the code.")
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
