"""`make run`'s live boards survive what used to freeze them for good: a cancelled transaction on the
entries table (moto puts copies of the tables in place, and the feed's shard with them) and a burst of
16 desks colliding. The server runs on a moto DynamoDB in this process, so the test can cancel a
transaction on it directly. Real threads, bounded in time."""
from __future__ import annotations

import json
import threading
import time

import boto3
import pytest

from tests.e2e.test_waiting_room_live import department, join, socket_to
from tests.support.local_process import LocalServer, free_port, server_env

PREFIX = "dqs-heal-"


@pytest.fixture(scope="module")
def server(moto_endpoint, tmp_path_factory):
    served = LocalServer(server_env(DQS_ADMIN_USERNAME="boss", DQS_ADMIN_PASSWORD="boss-password-1",
                                    DQS_WS_PORT=str(free_port()), DQS_DYNAMODB_ENDPOINT=moto_endpoint,
                                    DQS_TABLE_PREFIX=PREFIX,
                                    DQS_DATA_DIR=str(tmp_path_factory.mktemp("data")))).wait_serving(90)
    served.ws_url = next(line for line in served.lines if "WebSocket at" in line).split("WebSocket at ")[1].split()[0]
    assert "fed by the entries table's stream" in served.output, served.output
    served.token = served.login("boss", "boss-password-1")
    served.dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)
    yield served
    served.stop()


def next_board(ws, seconds: float) -> tuple[dict, float]:
    started = time.monotonic()
    ws.settimeout(seconds)
    message = json.loads(ws.recv())
    assert message["type"] == "board"
    return message["board"], time.monotonic() - started


def test_a_join_reaches_the_screen_within_2_s_after_a_cancelled_transaction_and_16_desks_colliding(server):
    clinic = department(server, "Heal")
    ws = socket_to(server, clinic)
    next_board(ws, 5)
    first = join(server, "Ada Lovelace", clinic)
    assert next_board(ws, 2)[0]["next"] == [1]

    entries = f"{PREFIX}queue-entries"
    with pytest.raises(server.dynamodb.exceptions.TransactionCanceledException):
        server.dynamodb.transact_write_items(TransactItems=[{"ConditionCheck": {
            "TableName": entries, "Key": {"id": {"N": str(first["id"])}},
            "ConditionExpression": "attribute_not_exists(id)"}}])
    join(server, "Grace Hopper", clinic)
    board, seconds = next_board(ws, 2)
    assert board["next"] == [1, 2] and seconds < 2

    for name in ("Alan Turing", "Edsger Dijkstra"):
        join(server, name, clinic)
        next_board(ws, 2)
    answers: list[int] = []
    start = threading.Barrier(16)

    def desk() -> None:
        start.wait()
        status, called = server.call("POST", "/queues/call_next/", {"department": clinic}, server.token)
        answers.append((called or {}).get("token_number") if status == 200 else status)
    desks = [threading.Thread(target=desk) for _ in range(16)]
    for thread in desks:
        thread.start()
    for thread in desks:
        thread.join(30)
    assert sorted(a for a in answers if isinstance(a, int) and a < 100) == [1, 2, 3, 4] and len(answers) == 16
    deadline = time.monotonic() + 10
    while True:  # the boards the calls pushed
        board, _ = next_board(ws, max(0.1, deadline - time.monotonic()))
        if board["next"] == []:
            break
    ws.settimeout(0.5)
    try:
        while True:
            ws.recv()
    except Exception:  # noqa: BLE001 - nothing more queued
        pass
    join(server, "Barbara Liskov", clinic)
    board, seconds = next_board(ws, 2)
    assert board["next"] == [5] and seconds < 2
