"""Ids of stored objects: one atomic ADD on a counter item per id, or per block of ids."""
from __future__ import annotations

import threading

from chalicelib.storage.counters import next_value


def next_id(kind: str) -> int:
    """A new id for an entity kind; ids are never reused."""
    return next_value(f"id#{kind}")


# Ids handed out from blocks reserved by one ADD each: kind -> [next, last].
ID_BLOCK = 32
_blocks: dict[str, list[int]] = {}
_blocks_lock = threading.Lock()


def reserved_id(kind: str) -> int:
    """A new id for a kind written often (queue entries), from a block this process reserved.

    One ADD reserves ID_BLOCK ids, so most calls make no DynamoDB call at all. Ids stay
    unique and are never reused; they are not consecutive across processes (each Lambda
    container holds its own block), and a block a process did not use up is skipped.
    """
    with _blocks_lock:
        block = _blocks.get(kind)
        if block is None or block[0] > block[1]:
            last = next_value(f"id#{kind}", ID_BLOCK)
            block = _blocks[kind] = [last - ID_BLOCK + 1, last]
        block[0] += 1
        return block[0] - 1


def forget_reserved_ids() -> None:
    """Drop the blocks held (the tables were created anew: their counters start again)."""
    with _blocks_lock:
        _blocks.clear()
