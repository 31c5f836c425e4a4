"""The desk's arithmetic, without I/O: wait estimates and the statistics' spreads."""
from __future__ import annotations

from chalicelib.domain.queue.positions import estimate_wait
from chalicelib.domain.queue.stats import spread as _spread


def test_the_estimate_needs_three_calls_and_scales_with_people_ahead():
    assert estimate_wait([], 0) is None
    assert estimate_wait(["2026-03-02T08:10:00Z", "2026-03-02T08:05:00Z"], 4) is None
    calls = ["2026-03-02T08:20:00Z", "2026-03-02T08:15:00Z", "2026-03-02T08:10:00Z"]  # newest first: 5 min a call
    assert [estimate_wait(calls, ahead) for ahead in (0, 1, 5)] == [5, 10, 30]
    same_instant = ["2026-03-02T08:00:00Z"] * 3
    assert estimate_wait(same_instant, 9) == 0


def test_median_and_nearest_rank_90th_percentile():
    assert _spread([]) is None
    assert _spread([4.0]) == {"median": 4.0, "p90": 4.0}
    assert _spread([1, 2, 3, 4]) == {"median": 2.5, "p90": 4}
    assert _spread(list(range(1, 11))) == {"median": 5.5, "p90": 9}
