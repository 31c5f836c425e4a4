"""Whether storage answers."""
from __future__ import annotations

from typing import Protocol


class Probe(Protocol):
    def ping(self) -> None:
        """One cheap read of the storage; raises whatever the storage raises when it does not answer."""
