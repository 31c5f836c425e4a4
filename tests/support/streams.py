"""DynamoDB stream records as the tests need them."""
from __future__ import annotations


def counter_record(event_name: str, name: str, old: dict | None, new: dict | None) -> dict:
    """A record of the counters table's stream (NEW_AND_OLD_IMAGES): the item `name`, with `old` and
    `new` its other attributes before and after (None: no such image)."""
    images = {image: {"name": {"S": name}, **fields} for image, fields in (("OldImage", old), ("NewImage", new))
              if fields is not None}
    return {"eventName": event_name, "dynamodb": {"Keys": {"name": {"S": name}}, **images}}
