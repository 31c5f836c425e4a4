"""The check of the IAM policies against the code's DynamoDB calls (tests/support/iam_calls.py),
and the scheduled reset's calls against its own policy."""
from __future__ import annotations

from datetime import datetime

import boto3

from chalicelib import messaging, storage
from chalicelib.domain import clock
from devtools import package
from tests.support.iam_calls import Recorder, _actions, merge, to_rows, unauthorised, unused


def test_transaction_items_are_recorded_as_the_actions_iam_checks():
    items = [{"ConditionCheck": {"TableName": "dqs-dev-patients"}}, {"Delete": {"TableName": "dqs-dev-uniques"}},
             {"Put": {"TableName": "dqs-dev-users"}}, {"Update": {"TableName": "dqs-dev-queue-entries"}}]
    assert list(_actions("TransactWriteItems", {"TransactItems": items})) == [
        ("ConditionCheckItem", "dqs-dev-patients", None), ("DeleteItem", "dqs-dev-uniques", None),
        ("PutItem", "dqs-dev-users", None), ("UpdateItem", "dqs-dev-queue-entries", None)]
    assert list(_actions("TransactGetItems", {"TransactItems": [{"Get": {"TableName": "t"}}]})) == [
        ("GetItem", "t", None)]
    assert list(_actions("BatchGetItem", {"RequestItems": {"a": {}, "b": {}}})) == [
        ("BatchGetItem", "a", None), ("BatchGetItem", "b", None)]
    assert list(_actions("Query", {"TableName": "t", "IndexName": "i"})) == [("Query", "t", "i")]


def test_a_call_its_functions_policy_lacks_is_reported():
    calls = {
        ("queue_reset", "Query", "queue-entries", "open-date-index"): "test_a",
        ("queue_reset", "GetItem", "users", None): "test_b",  # the reset's policy has no GetItem
        ("api_handler", "Query", "queue-entries", None): "test_c",  # the API queries indexes only
        ("api_handler", "GetItem", "users", None): "test_d",
    }
    assert unauthorised(calls) == [
        "api_handler: dynamodb:Query on queue-entries is not granted (first made by test_c)",
        "queue_reset: dynamodb:GetItem on users is not granted (first made by test_b)",
    ]


def test_an_action_granted_but_never_needed_is_reported():
    calls = {(function, *grant): "t" for function in package.FUNCTION_ACCESS for grant in package.grants(function)}
    assert unused(calls) == []
    del calls[("queue_reset", "DeleteItem", "uniques", None)]
    assert unused(calls) == ["queue_reset: dynamodb:DeleteItem is granted but no test needed it"]


def test_local_only_calls_and_the_tests_own_calls_are_not_counted(aws):
    recorder = Recorder()
    recorder.install()
    try:
        storage.create_tables()  # DescribeTable (Model.exists), declared local-only
        boto3.client("dynamodb", region_name="us-east-1").scan(TableName="dqs-dev-users")  # a test's own call
    finally:
        recorder.uninstall()
    assert recorder.calls == {}


def test_the_scheduled_reset_makes_exactly_the_calls_its_policy_grants(api, people, monkeypatch):
    patient = people.make("patient")
    doctor = people.make("doctor").record["doctor_id"]  # records2: for an appointment whose reminder is due
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat("2024-03-10T10:00:00+00:00"))
    assert api.post("/queues/join_queue", {}, token=patient.token).status == 201
    # an appointment whose reminder is due at the run (records2): the reminder pass's calls
    monkeypatch.setattr(messaging, "send_email", lambda *args: None)
    assert api.post("/appointments", {"doctor": doctor, "date": "2024-03-11T15:00:00Z"},
                    token=patient.token).status == 201
    monkeypatch.setattr(clock, "now", lambda: datetime.fromisoformat("2024-03-11T10:00:00+00:00"))
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={},
        resources=["arn:aws:events:us-east-1:123456789012:rule/queue_reset"])
    recorder = Recorder()
    recorder.install()
    try:
        assert api.client.lambda_.invoke("queue_reset", event).payload == {"expired": 1, "reminders": 1}
    finally:
        recorder.uninstall()
    assert {function for function, *_ in recorder.calls} == {"queue_reset"}
    assert {(action, table, index) for _, action, table, index in recorder.calls} == package.grants("queue_reset")


# A test file run by the test below, in a pytest of its own on two xdist workers. Its DynamoDB
# call is made by code that says it is the app's (compiled under chalicelib/), as the app's are.
_XDIST_SUITE = '''
import boto3
import pytest
from botocore.stub import Stubber

from tests.support.iam_calls import CODE_DIR

APP_CODE = compile("""
def call(operation):
    client = boto3.client("dynamodb", region_name="us-east-1")
    with Stubber(client) as stubber:  # answers without a server
        stubber.add_response(operation, {})
        getattr(client, operation)(TableName="dqs-dev-users")
""", CODE_DIR + "made_up.py", "exec")


@pytest.mark.parametrize("operation", [OPERATIONS])
def test_a_call(operation):
    namespace = {"boto3": boto3, "Stubber": Stubber}
    exec(APP_CODE, namespace)
    namespace["call"](operation)
'''


def _run_on_two_workers(tmp_path, operations: list[str]):
    import os
    import subprocess
    import sys

    from tests.support.iam_calls import PROJECT_DIR

    (tmp_path / "test_suite.py").write_text(_XDIST_SUITE.replace("[OPERATIONS]", repr(operations)))
    env = dict(os.environ, PYTHONPATH=str(PROJECT_DIR), AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION="us-east-1")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "tests.support.iam_calls",
                           "-p", "no:cacheprovider", "-n", "2", "--rootdir", str(tmp_path), str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def test_under_xdist_the_calls_of_every_worker_are_checked(tmp_path):
    """Two tests on two workers, each making a call the API's policy lacks: the controller
    reports both workers' calls and fails the run, though every test passed."""
    refused = _run_on_two_workers(tmp_path, ["describe_time_to_live", "scan"])
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "2 passed" in refused.stdout, refused.stdout
    for operation in ("Scan", "DescribeTimeToLive"):
        assert (f"api_handler: dynamodb:{operation} on users is not granted (first made by test_suite.py::test_a_call["
                in refused.stdout), refused.stdout


def test_the_workers_calls_are_merged_so_a_grant_one_worker_used_counts_as_used():
    every = {(function, *grant): "t" for function in package.FUNCTION_ACCESS for grant in package.grants(function)}
    keys = sorted(every, key=lambda key: tuple(map(str, key)))
    first, second = to_rows({k: "a" for k in keys[::2]}), to_rows({k: "b" for k in keys[1::2]})
    calls: dict = {}
    merge(calls, first)
    assert unused(calls) != []  # one worker's calls alone leave grants unused
    merge(calls, second)
    assert unused(calls) == [] and set(calls) == set(every)
    merge(calls, to_rows({keys[0]: "later"}))
    assert calls[keys[0]] == "a"  # the first test seen making a call is the one named
