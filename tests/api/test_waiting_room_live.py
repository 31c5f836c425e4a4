"""The waiting room's deployed handlers on moto: the WebSocket API's connect, message and
disconnect, and the entries stream's handler fed with real stream records read from moto's
DynamoDB Streams, posting each changed board to the connections that follow its queue."""
from __future__ import annotations

import copy
import json

import boto3
import pytest
from chalice import WebsocketDisconnectedError

import app as handlers
from app import app
from chalicelib.domain import departments, queue, service_points, waiting_room
from chalicelib.storage.connections import ConnectionModel
from chalicelib.storage.queue_entries import QueueEntryModel
from tests.support.queue import add_patients, admin
from tests.support.queue import desk as desk_user


class Sent:
    """Stands in for API Gateway's Management API: what was posted to which connection."""

    def __init__(self):
        self.messages: list[tuple[str, dict]] = []
        self.gone: set[str] = set()

    def send(self, connection_id: str, text: str) -> None:
        if connection_id in self.gone:
            raise WebsocketDisconnectedError(connection_id)
        self.messages.append((connection_id, json.loads(text)))

    def to(self, connection_id: str) -> list[dict]:
        return [message for to, message in self.messages if to == connection_id]


@pytest.fixture
def sent(monkeypatch, dynamodb_server):
    posted = Sent()
    monkeypatch.setattr(app.websocket_api, "send", posted.send)
    monkeypatch.setattr(app.websocket_api, "session", object())
    monkeypatch.setenv("DQS_WEBSOCKET_URL", "wss://abc123.execute-api.us-east-1.amazonaws.com/api")
    return posted


def ws_event(route: str, connection_id: str, body: str | None = None) -> dict:
    return {"requestContext": {"routeKey": route, "eventType": route.strip("$").upper(), "connectionId": connection_id,
                               "apiId": "abc123", "stage": "api",
                               "domainName": "abc123.execute-api.us-east-1.amazonaws.com"},
            "body": body, "isBase64Encoded": False}


class Stream:
    """The entries table's stream on moto, read from where it was when this was made."""

    def __init__(self, endpoint: str):
        self.client = boto3.client("dynamodbstreams", region_name="us-east-1", endpoint_url=endpoint)
        described = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint).describe_table(
            TableName=QueueEntryModel.Meta.table_name)["Table"]
        assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
        arn = described["LatestStreamArn"]
        [shard] = self.client.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.iterator = self.client.get_shard_iterator(StreamArn=arn, ShardId=shard["ShardId"],
                                                       ShardIteratorType="LATEST")["ShardIterator"]

    def records(self) -> list[dict]:
        answer = self.client.get_records(ShardIterator=self.iterator)
        self.iterator = answer["NextShardIterator"]
        return answer["Records"]


def test_connect_subscribe_and_push_each_change_to_the_queues_followers(sent, dynamodb_server):
    cardiology = departments.ensure_department("Cardiology")
    desk = service_points.create_service_point(admin(), service_points.NewServicePoint("Desk 1", "desk", cardiology))
    for connection in ("screen-1", "screen-2", "phone"):
        assert handlers.websocket_connect(ws_event("$connect", connection), None) == {"statusCode": 200}
    subscribe = json.dumps({"action": "subscribe", "department": cardiology})
    handlers.websocket_message(ws_event("$default", "screen-1", subscribe), None)
    handlers.websocket_message(ws_event("$default", "screen-2", subscribe), None)
    handlers.websocket_message(ws_event("$default", "phone", json.dumps({"action": "subscribe", "department": None})),
                               None)
    assert sent.to("screen-1") == [{"type": "board", "board": waiting_room.board(cardiology)}]
    handlers.websocket_message(ws_event("$default", "phone", "hello"), None)
    assert sent.to("phone")[-1]["type"] == "error"
    handlers.websocket_message(ws_event("$default", "phone", json.dumps({"action": "subscribe", "department": 999})),
                               None)
    assert sent.to("phone")[-1] == {"type": "error", "message": "No department with id 999."}

    stream = Stream(dynamodb_server)
    for patient_id in add_patients(3):
        queue.join(desk_user(), queue.JoinRequest(patient_id=patient_id, department=cardiology))
    queue.call_next(desk_user(), cardiology, desk.id)
    records = stream.records()
    assert {r["eventName"] for r in records} >= {"INSERT", "MODIFY"}
    sent.messages.clear()
    assert handlers.queue_changes({"Records": records}, None) == {"batchItemFailures": []}
    [(to, pushed), _] = sent.messages
    assert pushed["board"]["now_calling"][0]["service_point"] == {"id": desk.id, "name": "Desk 1"}
    assert pushed["board"]["next"] == [2, 3] and {to for to, _ in sent.messages} == {"screen-1", "screen-2"}

    # A screen gone without a disconnect is forgotten at the first push that fails; one that
    # disconnects is forgotten at once.
    sent.gone.add("screen-2")
    handlers.websocket_disconnect(ws_event("$disconnect", "screen-1"), None)
    queue.call_next(desk_user(), cardiology)
    sent.messages.clear()
    assert handlers.queue_changes({"Records": stream.records()}, None) == {"batchItemFailures": []}
    assert sent.messages == [] and _connections(dynamodb_server) == ["phone"]  # connected, following no queue
    queue.call_next(desk_user(), cardiology)
    assert handlers.queue_changes({"Records": stream.records()}, None) == {"batchItemFailures": []}
    assert sent.messages == []


def test_records_of_other_days_push_nothing(sent, dynamodb_server):
    from datetime import timedelta

    from chalicelib.domain import clock
    from tests.support.queue import waiting_entries

    stream = Stream(dynamodb_server)
    waiting_entries(2, day=clock.today() - timedelta(days=1))
    assert handlers.queue_changes({"Records": stream.records()}, None) == {"batchItemFailures": []}


def test_make_run_upgrades_an_entries_table_kept_from_before_the_waiting_room(moto_endpoint):
    """Data kept in .dqs-data/ from an older version: the stream and the newer indexes are added."""
    from devtools.stream_feed import ensure_stream

    dynamodb = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint)
    table = "dqs-upgrade-queue-entries"
    dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "N"}])
    arn = ensure_stream(dynamodb, table, QueueEntryModel)
    described = dynamodb.describe_table(TableName=table)["Table"]
    assert described["LatestStreamArn"] == arn
    assert described["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}
    indexes = {index["IndexName"] for index in described["GlobalSecondaryIndexes"]}
    assert indexes == {index.Meta.index_name for index in QueueEntryModel._indexes.values()}
    assert ensure_stream(dynamodb, table, QueueEntryModel) == arn  # once is enough
    dynamodb.delete_table(TableName=table)


def test_the_stream_feed_leaves_moto_one_iterator_a_shard(dynamodb_server):
    """moto keeps every shard iterator GetRecords hands out; make run's feed asks a few times a second."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends

    from devtools.stream_feed import StreamFeed

    batches = []
    feed = StreamFeed(dynamodb_server, "us-east-1", batches.append, QueueEntryModel)
    patients = add_patients(3)
    for patient in patients:
        queue.join(desk_user(), queue.JoinRequest(patient_id=patient))
        for _ in range(10):
            feed.poll_once()
    assert sum(len(batch) for batch in batches) == 3  # each join's entry, once
    kept = [iterator for regions in dynamodbstreams_backends.values() for backend in regions.values()
            for iterator in backend.shard_iterators]
    assert len(kept) == len(feed._iterators)


class LambdaContext:
    aws_request_id = "c0ffee00-0000-4000-8000-000000000018"
    function_name = "digital-queue-system-dev-queue_changes"

    def get_remaining_time_in_millis(self) -> int:
        return 120_000


def test_a_poison_record_and_a_forbidden_connection_hold_back_nothing_else(sent, dynamodb_server, monkeypatch):
    """Driven as Lambda drives it (a raw event and a context): the batch holds a record whose image does not
    deserialize and one without its image, and one screen's connection answers 403. The other records' boards
    reach the other screens and batchItemFailures names only the poison records."""
    from botocore.exceptions import ClientError

    cardiology = departments.ensure_department("Cardiology")
    for connection in ("screen-ok", "screen-403", "general"):
        handlers.websocket_connect(ws_event("$connect", connection), None)
    for connection, department in (("screen-ok", cardiology), ("screen-403", cardiology), ("general", None)):
        handlers.websocket_message(ws_event("$default", connection,
                                            json.dumps({"action": "subscribe", "department": department})), None)
    answer = sent.send

    def send(connection_id: str, text: str) -> None:
        if connection_id == "screen-403":
            raise ClientError({"Error": {"Code": "ForbiddenException", "Message": "Forbidden"}}, "PostToConnection")
        answer(connection_id, text)
    monkeypatch.setattr(app.websocket_api, "send", send)

    stream = Stream(dynamodb_server)
    first, second = add_patients(2)
    queue.join(desk_user(), queue.JoinRequest(patient_id=first, department=cardiology))
    queue.join(desk_user(), queue.JoinRequest(patient_id=second))
    good = stream.records()
    assert len(good) == 2
    poison = copy.deepcopy(good[0])
    poison["dynamodb"]["SequenceNumber"] = "900000000000000000001"
    poison["dynamodb"]["NewImage"]["token_number"] = {"N": "not a number"}
    imageless = copy.deepcopy(good[1])
    imageless["dynamodb"]["SequenceNumber"] = "900000000000000000002"
    imageless["eventName"] = "MODIFY"
    del imageless["dynamodb"]["NewImage"]
    sent.messages.clear()

    result = app.websocket_api and handlers.queue_changes({"Records": [poison, good[0], imageless, good[1]]},
                                                          LambdaContext())
    assert result == {"batchItemFailures": [{"itemIdentifier": "900000000000000000001"},
                                            {"itemIdentifier": "900000000000000000002"}]}
    assert [message["board"]["next"] for message in sent.to("screen-ok")] == [[1]]
    assert [message["board"]["next"] for message in sent.to("general")] == [[1]]
    # A 403 is not a gone screen: both rows stay (read as the test, not as a function of the app).
    assert _connections(dynamodb_server) == ["general", "screen-403", "screen-ok"]


def test_a_screen_gone_before_the_answer_is_forgotten(sent, dynamodb_server):
    handlers.websocket_connect(ws_event("$connect", "leaving"), None)
    sent.gone.add("leaving")
    subscribe = json.dumps({"action": "subscribe", "department": None})
    assert handlers.websocket_message(ws_event("$default", "leaving", subscribe), None) == {"statusCode": 200}
    assert _connections(dynamodb_server) == []


def stream_costs(dynamodb_server, change, changes: int = 1) -> list[str]:
    """The DynamoDB calls of the stream handler for the records of `change()` (`changes` of them), in one
    batch: each call's operation, and the index a Query reads."""
    from tests.support.dynamodb import listening

    stream = Stream(dynamodb_server)
    change()
    records = stream.records()
    assert len(records) == changes
    calls: list[str] = []

    def record(name: str, params: dict) -> None:
        calls.append(f"{name} {params['IndexName']}" if "IndexName" in params else name)

    with listening(record):
        assert handlers.queue_changes({"Records": records}, None) == {"batchItemFailures": []}
    return calls


# The stream handler's reads: the screens following a queue, those still to be told their turn is near,
# and the live board's (the called now, the waiting list's head read whole, the day's closed flag and
# names, the latest calls for the estimate).
SCREENS, TO_TELL = "Query queue-index", "Query notify-rank-index"
BOARD = ["Query called-index", "Query waiting-head-index", "TransactGetItems", "Query call-day-index"]


def test_an_entry_change_costs_little_when_nobody_watches_and_nobody_asked(sent, dynamodb_server):
    """No screen on the queue and nobody asked to be told: a call costs two small Queries (the
    connections following the queue; the entries to tell, since the list moved up), a join one, and
    no board is built. With screens: the board's four reads in place of the second Query (the
    messages' candidates are read from the board's head), once for them all."""
    cardiology = departments.ensure_department("Cardiology")
    desk = service_points.create_service_point(admin(), service_points.NewServicePoint("Desk 1", "desk", cardiology))
    patients = add_patients(5)
    for patient_id in patients[:4]:
        queue.join(desk_user(), queue.JoinRequest(patient_id=patient_id, department=cardiology))
    call = lambda: queue.call_next(desk_user(), cardiology, desk.id)  # noqa: E731
    assert stream_costs(dynamodb_server, call) == [SCREENS, TO_TELL]
    join = lambda: queue.join(desk_user(), queue.JoinRequest(patient_id=patients[4], department=cardiology))  # noqa: E731
    assert stream_costs(dynamodb_server, join) == [SCREENS]
    for screen in ("screen", "screen-2"):  # the board is built once for both
        handlers.websocket_connect(ws_event("$connect", screen), None)
        handlers.websocket_message(ws_event("$default", screen, json.dumps({"action": "subscribe",
                                                                            "department": cardiology})), None)
    sent.messages.clear()
    assert stream_costs(dynamodb_server, call) == [SCREENS, *BOARD]
    assert [message["board"]["next"] for message in sent.to("screen")] == [[3, 4, 5]]
    assert sent.to("screen-2") == sent.to("screen")


def test_a_batch_of_one_queues_changes_reads_once_for_them_all(sent, dynamodb_server):
    """Ten calls of one queue in one batch cost what one does: the queue's screens, its entries to tell
    and its board are read once a queue, not once a record."""
    cardiology = departments.ensure_department("Cardiology")
    for patient_id in add_patients(25):
        queue.join(desk_user(), queue.JoinRequest(patient_id=patient_id, department=cardiology))

    def ten_calls() -> None:
        for _ in range(10):
            queue.call_next(desk_user(), cardiology)

    assert stream_costs(dynamodb_server, ten_calls, changes=10) == [SCREENS, TO_TELL]
    handlers.websocket_connect(ws_event("$connect", "screen"), None)
    handlers.websocket_message(ws_event("$default", "screen", json.dumps({"action": "subscribe",
                                                                          "department": cardiology})), None)
    sent.messages.clear()
    assert stream_costs(dynamodb_server, ten_calls, changes=10) == [SCREENS, *BOARD]
    [pushed] = sent.to("screen")  # one board for the batch, as it stands after the last change
    assert pushed["board"]["next"] == [21, 22, 23, 24, 25] and pushed["board"]["now_calling"][0]["token_number"] == 20


def _connections(endpoint: str) -> list[str]:
    """The stored connections, read as the test (not as a function of the app, whose IAM is checked)."""
    rows = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=endpoint).scan(
        TableName=ConnectionModel.Meta.table_name)["Items"]
    return sorted(row["connection_id"]["S"] for row in rows)
