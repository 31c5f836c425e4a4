"""The tables of the template, generated from the PynamoDB models registered in chalicelib.storage:
keys, attribute types, indexes, stream and TTL as the models declare them; on-demand, PITR,
deletion protection, encryption and Retain as the deployment wants them."""
from __future__ import annotations

from devtools.overrides import table_schema


def cfn_name(name: str) -> str:
    """A CloudFormation logical id from a table suffix or function name (chalice's rule)."""
    from chalice.utils import to_cfn_resource_name

    return to_cfn_resource_name(name)


def table_logical_id(model) -> str:
    return cfn_name(model.Meta.table_suffix) + "Table"


def models() -> list:
    """Every model of the app, each with a table suffix of its own."""
    from chalicelib import storage

    suffixes = [model.Meta.table_suffix for model in storage.MODELS]
    duplicates = {s for s in suffixes if suffixes.count(s) > 1}
    if duplicates:
        raise SystemExit(f"Two models share the table suffix(es) {sorted(duplicates)}.")
    return list(storage.MODELS)


def model_of(suffix: str):
    """The model whose table has this suffix."""
    return next(m for m in models() if m.Meta.table_suffix == suffix)


def indexes(model) -> list[str]:
    schema = table_schema(model)
    return sorted(i["index_name"] for i in schema["global_secondary_indexes"] + schema["local_secondary_indexes"])


def _key_schema(entries: list[dict]) -> list[dict]:
    # DynamoDB wants HASH before RANGE; PynamoDB lists them in attribute order.
    return sorted(({"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in entries),
                  key=lambda e: e["KeyType"] != "HASH")


def _projection(index: dict) -> dict:
    projection = {"ProjectionType": index["projection"]["ProjectionType"]}
    if index["projection"].get("NonKeyAttributes"):
        projection["NonKeyAttributes"] = sorted(index["projection"]["NonKeyAttributes"])
    return projection


def table_resource(model, prefix: str) -> dict:
    """A model's table as a CloudFormation resource: on-demand, PITR, protected, encrypted."""
    schema = table_schema(model)
    definitions: dict[str, str] = {}
    for entry in schema["attribute_definitions"]:
        definitions[entry["AttributeName"]] = entry["AttributeType"]
    for index in schema["global_secondary_indexes"] + schema["local_secondary_indexes"]:
        for entry in index.get("attribute_definitions", []):
            definitions[entry["AttributeName"]] = entry["AttributeType"]
    properties: dict = {
        "TableName": prefix + model.Meta.table_suffix,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": name, "AttributeType": kind}
                                 for name, kind in sorted(definitions.items())],
        "KeySchema": _key_schema(schema["key_schema"]),
        "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
        "DeletionProtectionEnabled": True,
        "SSESpecification": {"SSEEnabled": True},
    }
    if schema["global_secondary_indexes"]:
        properties["GlobalSecondaryIndexes"] = [
            {"IndexName": index["index_name"], "KeySchema": _key_schema(index["key_schema"]),
             "Projection": _projection(index)}
            for index in sorted(schema["global_secondary_indexes"], key=lambda i: i["index_name"])
        ]
    if schema["local_secondary_indexes"]:
        properties["LocalSecondaryIndexes"] = [
            {"IndexName": index["index_name"], "KeySchema": _key_schema(index["key_schema"]),
             "Projection": _projection(index)}
            for index in sorted(schema["local_secondary_indexes"], key=lambda i: i["index_name"])
        ]
    stream = getattr(model.Meta, "stream_view_type", None)
    if stream:
        properties["StreamSpecification"] = {"StreamViewType": stream}
    ttl = getattr(model.Meta, "ttl_attribute", None)
    if ttl:
        properties["TimeToLiveSpecification"] = {"AttributeName": ttl, "Enabled": True}
    # Retained: deleting the stack (or rolling back a failed first create) leaves the
    # tables and the clinic's data in place, instead of failing on their deletion
    # protection (DELETE_FAILED, ROLLBACK_FAILED). A key change (a replacement) keeps
    # the old table too. Deleting a stage's tables is a separate, deliberate step (docs).
    return {"Type": "AWS::DynamoDB::Table", "DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain",
            "Properties": properties}
