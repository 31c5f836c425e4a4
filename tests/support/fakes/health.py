"""A storage probe in memory, which a test can make fail."""
from __future__ import annotations


class MemoryProbe:
    def __init__(self):
        self.failure: Exception | None = None
        self.pings = 0

    def ping(self) -> None:
        self.pings += 1
        if self.failure is not None:
            raise self.failure
