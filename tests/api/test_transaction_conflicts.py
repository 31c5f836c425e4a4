"""What real DynamoDB does and moto does not: a plain write that meets another request's
transaction on the same item fails with TransactionConflictException, which botocore does
not retry. Injected here at the client, it is a conflict, never a 500."""
from __future__ import annotations

from botocore.exceptions import ClientError

from tests.support.dynamodb import listening


def _conflict_once(operation: str, table_suffix: str):
    """A listener that fails the first `operation` on that table as a transaction conflict."""
    fired = []

    def listener(name, kwargs):
        if name == operation and kwargs.get("TableName", "").endswith(table_suffix) and not fired:
            fired.append(kwargs)
            raise ClientError({"Error": {"Code": "TransactionConflictException",
                                         "Message": "Transaction is ongoing for the item"}}, operation)

    return listener, fired


def test_call_next_moves_on_when_the_head_is_held_by_another_transaction(api, people):
    staff = people.make("staff")
    joined = [api.post("/queues/join_queue", token=people.make("patient").token).body for _ in range(2)]
    listener, fired = _conflict_once("UpdateItem", "queue-entries")
    with listening(listener):
        called = api.post("/queues/call_next", token=staff.token)
    assert fired, "the conflict was never injected"
    assert called.status == 200, called
    # The held entry is not ours to take: the desk gets the next one, and the first stays waiting.
    assert called.body["id"] == joined[1]["id"]
    assert api.get(f"/queues/{joined[0]['id']}", token=staff.token).body["status"] == "waiting"
    assert api.post("/queues/call_next", token=staff.token).body["id"] == joined[0]["id"]


def test_logout_retries_when_the_account_is_held_by_another_transaction(api, people):
    patient = people.make("patient")
    listener, fired = _conflict_once("UpdateItem", "users")
    with listening(listener):
        response = api.post("/auth/logout", token=patient.token)
    assert fired and response.status == 200, response
    assert api.get(f"/users/{patient.id}", token=patient.token).status == 401


def test_every_transaction_carries_its_own_client_request_token(api, people):
    """So botocore's retry of a transaction whose answer was lost is not refused by its own success."""
    tokens = []
    with listening(lambda name, kwargs: tokens.append(kwargs.get("ClientRequestToken"))
                   if name == "TransactWriteItems" else None):
        for _ in range(3):
            people.make("patient")
    assert len(tokens) == 3 and all(tokens) and len(set(tokens)) == 3
