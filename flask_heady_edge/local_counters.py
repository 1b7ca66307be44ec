"""Fixed-window counters kept in this process, for ``memory://``."""

from __future__ import annotations

import threading
from collections.abc import Callable

#: Past this many counters, those whose window has ended are dropped.
SWEEP_AT = 100_000


class LocalCounters:
    """The part of a ``limits`` storage that the rate limiter asks of it.

    ``limits``' own memory storage expires keys from a timer thread that it
    starts again every 10 ms while requests arrive; starting a thread costs
    more than all the rest of a request's rate limiting. Here a counter whose
    window has ended simply starts over when it is next counted, and ended
    windows are swept out when the table grows large.
    """

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._lock = threading.Lock()
        # key -> [count, end of its window]
        self._windows: dict[str, list[float]] = {}

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = self.clock()
        with self._lock:
            window = self._windows.get(key)
            if window is None or window[1] <= now:
                if len(self._windows) >= SWEEP_AT:
                    self._sweep(now)

                window = self._windows[key] = [0, now + expiry]

            window[0] += amount
            return int(window[0])

    def get(self, key: str) -> int:
        window = self._windows.get(key)
        return int(window[0]) if window and window[1] > self.clock() else 0

    def get_expiry(self, key: str) -> float:
        window = self._windows.get(key)
        return window[1] if window else self.clock()

    def check(self) -> bool:
        return True

    def _sweep(self, now: float) -> None:
        self._windows = {
            key: window for key, window in self._windows.items() if window[1] > now
        }
