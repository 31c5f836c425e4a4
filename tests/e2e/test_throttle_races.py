"""A sliding window on a real DynamoDB over HTTP (moto's server, thread-safe like the real thing),
with real threads: attempts at once never get past its limit."""
from __future__ import annotations

import threading
import time

from chalicelib.domain.ports.attempts import Entry, Limits


def test_a_sliding_window_lets_no_more_than_its_limit_through_threads_at_once(dynamodb_server):
    """Twenty threads at once on one window of ten: the versioned conditional write lets exactly ten in."""
    from chalicelib.storage import attempts

    start, waits = threading.Barrier(20), []

    def take(n: int) -> None:
        start.wait()
        waits.append((n, attempts.take_sliding("race-window", Entry(time.time(), f"from#192.0.2.{n % 2}", f"t{n}"),
                                           Limits(900, 10))))

    threads = [threading.Thread(target=take, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(w == 0 for _, w in waits) == [False] * 10 + [True] * 10, waits
    admitted = next(n for n, w in waits if w == 0)
    assert attempts.parts_since("race-window", time.time() - 900) == {"from#192.0.2.0", "from#192.0.2.1"}
    # Given back, an attempt frees its place.
    attempts.give_back_sliding("race-window", f"t{admitted}")
    assert attempts.take_sliding("race-window", Entry(time.time(), "from#192.0.2.0", "late"), Limits(900, 10)) == 0
