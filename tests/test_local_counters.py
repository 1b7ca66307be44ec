"""The in-process counters behind ``memory://``."""

from __future__ import annotations

import pytest

from flask_heady_edge import local_counters
from flask_heady_edge.local_counters import LocalCounters


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_counts_within_a_window_and_starts_over_after_it() -> None:
    clock = Clock()
    counters = LocalCounters(clock)

    counts = [counters.incr("k", 60) for _ in range(3)]
    end = counters.get_expiry("k")
    clock.now += 60
    after = counters.incr("k", 60)

    assert counts == [1, 2, 3]
    assert end == 1060.0
    assert after == 1
    assert counters.get_expiry("k") == 1120.0


def test_keys_count_apart() -> None:
    counters = LocalCounters(Clock())

    counters.incr("a", 60)
    counters.incr("a", 60)

    assert counters.incr("b", 60) == 1
    assert counters.get("a") == 2


def test_ended_windows_are_swept_when_the_table_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(local_counters, "SWEEP_AT", 3)
    clock = Clock()
    counters = LocalCounters(clock)
    for key in ("a", "b", "c"):
        counters.incr(key, 10)

    clock.now += 10
    counters.incr("d", 10)

    assert counters.get("a") == 0
    assert sorted(counters._windows) == ["d"]
