"""Every place where the development tools reach into a library's private or undocumented
internals, each with why no public hook does it and what upstream change would remove it.
Nothing else under devtools/ (or bench/) may; a library upgrade that breaks one breaks it here.

chalice (1.34) local mode
  thread_local_requests: `Chalice.current_request` is one attribute of the app, so two requests
      on a threaded server would see each other's (aws/chalice#759). chalice's fix is the
      LocalChalice class, which keeps it per thread; its own `create_local_server` swaps the app's
      class to it, but builds the server with chalice's request handler, which cannot take the
      /api prefix, the idle timeout or the JSON 404s (devtools/http_server.py). Gone when
      `create_local_server` takes a handler and server class (LocalDevServer already does), or
      when Chalice keeps current_request per thread itself.
  set_source_ip: chalice's LocalGateway puts `LambdaEventConverter.LOCAL_SOURCE_IP`, a constant
      127.0.0.1, in every event's requestContext.identity.sourceIp (aws/chalice#293); the app's
      throttles key on it, so it must be the socket's peer. Set on the connection's own gateway.
      Gone when LocalGateway.handle_request takes the request context (aws/chalice#438 asks for
      a fuller context in local mode).

PynamoDB (6.1)
  table_schema: `Model._get_schema()`, the CreateTable schema PynamoDB builds from a model (keys,
      attribute types, indexes). `make package` turns it into CloudFormation tables and the
      stream feed adds missing indexes with it; PynamoDB has no public accessor (the nearest
      upstream discussion: pynamodb/PynamoDB#749). Gone with a public `Model.get_schema()`.
  (Not here: chalicelib/storage/binding.py overrides `Model._get_connection` to share one
  connection among the models, in the Lambda code, which cannot import devtools:
  pynamodb/PynamoDB#1245 / #876 would remove it.)

moto (5.2)
  reset_moto: empties moto's in-process backends (`moto_api_backend.reset()`), before restoring a
      data folder into a fresh engine in the same process (the restore benchmark, the journal's
      tests). The public reset is `POST /moto-api/reset` to a running server (getmoto/moto#5608),
      but the journal treats that as a write to keep (it compacts the journal to what is left).
  fast_dynamodb_results: moto 5.2 writes every answer through its ResponseSerializer, which walks
      botocore's output shape value by value; for the item operations (GetItem, Query, Scan, the
      writes and their batch and transaction forms) that walk is 14 % of the API tests' time and
      22 % of the fuzz pass's, where `json.dumps` of the same result takes 2 % of it. Those answers
      are built from dicts of DynamoDB's own JSON shape, so dumping them, less any top-level key the
      operation's output shape does not name (DeleteItem's ConsumedCapacityUnits), gives the same
      parsed answer: tests/unit/test_moto_results.py compares the two. Other operations and every
      error still go through moto's serializer. Gone when moto serializes its JSON protocols
      without a per-value walk; no upstream issue asks for it yet.
  method names: every call moto answers lists its handler class's methods anew
      (`method_names_from_class`, an `inspect.getmembers` walk: 3 % of the API tests' time); the
      list never changes, so fast_dynamodb_results also keeps it per class. Gone when moto caches it.
  devtools/moto_memory.py and devtools/journal.py also reach into moto's DynamoDB models (the
      objects list its dashboard keeps, the shard iterators, a table's items); their docstrings
      say why.
"""
from __future__ import annotations

import functools


def thread_local_requests(app) -> None:
    """Give the app a `current_request` per thread, as chalice's local mode does."""
    from chalice.local import LocalChalice

    if not isinstance(app, LocalChalice):
        app.__class__ = LocalChalice


def set_source_ip(gateway, address: str) -> None:
    """The sourceIp of the events this LocalGateway (one per connection) makes from now on."""
    gateway.event_converter.LOCAL_SOURCE_IP = address


def table_schema(model) -> dict:
    """A PynamoDB model's CreateTable schema (pythonic keys: key_schema, attribute_definitions,
    global_secondary_indexes, local_secondary_indexes)."""
    return model._get_schema()


def reset_moto() -> None:
    """Empty every moto backend in this process."""
    from moto.moto_api._internal import moto_api_backend

    moto_api_backend.reset()


# The item operations whose answers fast_dynamodb_results writes itself.
ITEM_OPERATIONS = frozenset({"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem",
                             "BatchWriteItem", "TransactGetItems", "TransactWriteItems"})


def fast_dynamodb_results() -> None:
    """moto's DynamoDB answers to the item operations, written with `json.dumps` (see above).
    Installed once per process; the embedded DynamoDB and the tests' moto both use it."""
    import json

    from moto.core import responses
    from moto.dynamodb.responses import DynamoHandler, DynamoResult

    serialized = DynamoHandler.serialized
    if hasattr(serialized, "moto_serialized"):
        return

    def fast(self, action_result):
        operation = self.get_endpoint_name(self.headers)
        if type(action_result) is not DynamoResult or operation not in ITEM_OPERATIONS:
            return serialized(self, action_result)
        members = _output_members(operation)
        result = {key: value for key, value in action_result.result.items() if key in members and value is not None}
        try:
            body = json.dumps(result)
        except TypeError:  # a value JSON cannot hold as it is (a binary attribute's bytes): moto's own way
            return serialized(self, action_result)
        return 200, {"Content-Type": "application/x-amz-json-1.0", **self.response_headers}, body

    fast.moto_serialized = serialized  # moto's own, which the tests compare with
    DynamoHandler.serialized = fast
    responses.method_names_from_class = functools.cache(responses.method_names_from_class)


@functools.cache
def _output_members(operation: str) -> frozenset[str]:
    """The top-level keys of an operation's answer, as botocore's model names them."""
    from moto.core.utils import get_service_model

    return frozenset(get_service_model("dynamodb").operation_model(operation).output_shape.members)
