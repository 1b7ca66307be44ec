"""Single flight: identical misses at the same time make one upstream call."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from .errors import (
    Problem,
    UpstreamCutShort,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from .inference_cache import Answer, Entry, InferenceCache

#: What a leader hands its waiters: its answer, its error, or ``None`` when
#: the answer cannot be shared (streamed, or too large to hold) and each
#: waiter must ask for itself.
Outcome = Answer | Problem | None

#: Problems a leader can pass to waiters in other processes, by name.
_SHAREABLE_PROBLEMS: dict[str, type[Problem]] = {
    cls.__name__: cls
    for cls in (UpstreamUnreachable, UpstreamTimeout, UpstreamCutShort, UpstreamInvalid)
}

#: How long a published outcome stays readable for waiters that poll.
RESULT_SECONDS = 10

#: A lock outlives the upstream timeout by this much, in case its holder dies.
LOCK_MARGIN = 5.0

#: How often a waiter in another process looks for the leader's outcome.
POLL_INTERVAL = 0.02

# Deletes the lock only while it still holds our token, so a leader whose lock
# expired never frees the lock of the next one.
_RELEASE_SCRIPT = """
if redis.call("get", KEYS[1]) == ARGV[1] then
    return redis.call("del", KEYS[1])
end
return 0
"""


class Flight:
    """One upstream call in progress in this process."""

    __slots__ = ("done", "outcome")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.outcome: Outcome = None


class LocalFlights:
    """Flights of this process, one per cache key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._flights: dict[str, Flight] = {}

    def join(self, key: str) -> tuple[Flight, bool]:
        """The flight for ``key``, and whether the caller leads it."""
        with self._lock:
            flight = self._flights.get(key)
            if flight is not None:
                return flight, False

            flight = self._flights[key] = Flight()
            return flight, True

    def finish(self, key: str, flight: Flight, outcome: Outcome) -> None:
        """Hand ``outcome`` to the waiters; the next miss starts a new flight.

        The leader stores its answer before it calls this, so a request that
        comes too late for the flight finds the answer in the cache.
        """
        with self._lock:
            if self._flights.get(key) is flight:
                del self._flights[key]

        flight.outcome = outcome
        flight.done.set()


@dataclass(frozen=True, slots=True)
class Lead:
    """Who leads a flight across processes: us, or the holder of ``token``."""

    leading: bool
    #: The lock's token; ``None`` when the store was unreachable and no lock
    #: was taken.
    token: str | None


class RedisFlights:
    """Flights across every process that shares one Redis cache store.

    The leader holds a lock key (``SET NX PX``) for the length of its call,
    publishes its outcome under a key named after its token, and frees the
    lock. Waiters poll for the cache entry or that outcome, for at most the
    upstream timeout. Should the leader vanish without an outcome, waiters
    call the upstream themselves. With the store down, nobody coordinates and
    every process calls for itself (the cache's failure policy applies).
    """

    def __init__(self, cache: InferenceCache, client: Any, timeout: float) -> None:
        self.cache = cache
        self.client = client
        self.lock_ms = int((timeout + LOCK_MARGIN) * 1000)
        self._release = client.register_script(_RELEASE_SCRIPT)

    @classmethod
    def for_cache(cls, cache: InferenceCache, timeout: float) -> RedisFlights | None:
        """Flights over ``cache``'s Redis, or ``None`` for other stores."""
        try:
            from cachelib.redis import RedisCache
        except ImportError:
            return None

        if not isinstance(cache.backend, RedisCache):
            return None

        # cachelib keeps its Redis client here; the lock needs commands
        # (SET NX PX, a script) that the cache interface does not offer.
        return cls(cache, cache.backend._write_client, timeout)

    def lead(self, key: str) -> Lead:
        token = secrets.token_hex(16)
        lock_key = self._name(f"{key}:lock")
        for _attempt in range(3):
            taken = self.cache.call(
                lambda: bool(self.client.set(lock_key, token, nx=True, px=self.lock_ms))
            )
            if taken is None:
                return Lead(True, None)

            if taken:
                return Lead(True, token)

            holder = self.cache.call(self.client.get, lock_key)
            if holder is not None:
                return Lead(False, holder.decode("ascii"))

        # The lock came and went under us three times; call without it.
        return Lead(True, None)

    def wait(self, key: str, token: str, timeout: float) -> Entry | Outcome:
        """The leader's outcome, the entry it stored, or a 504 after ``timeout``.

        ``None`` means the leader is gone without an outcome to share.
        """
        deadline = time.monotonic() + timeout
        lock_key = self._name(f"{key}:lock")
        while time.monotonic() < deadline:
            found = self._look(key, token)
            if found is not None:
                return found

            held = self.cache.call(self.client.exists, lock_key)
            if not held:
                # The leader publishes before it frees the lock: one more look
                # cannot miss an outcome that exists.
                return self._look(key, token)

            time.sleep(POLL_INTERVAL)

        return UpstreamTimeout(
            f"No answer from the inference server within {timeout:g} seconds."
        )

    def settle(self, key: str, token: str, outcome: Outcome) -> None:
        """Publish the leader's outcome, then free the lock."""
        if outcome is not None:
            self.cache.call(
                self.cache.backend.set,
                f"{key}:flight:{token}",
                _encode(outcome),
                timeout=RESULT_SECONDS,
            )

        self.cache.call(self._release, keys=[self._name(f"{key}:lock")], args=[token])

    def _look(self, key: str, token: str) -> Entry | Outcome:
        # Two reads rather than one MGET: in a Redis Cluster the two keys may
        # live on different nodes.
        entry = self.cache.entry_from(self.cache.call(self.cache.backend.get, key))
        if entry is not None:
            return entry

        return _decode(self.cache.call(self.cache.backend.get, f"{key}:flight:{token}"))

    def _name(self, key: str) -> str:
        prefix = getattr(self.cache.backend, "key_prefix", "")
        return f"{prefix() if callable(prefix) else prefix}{key}"


def _encode(outcome: Answer | Problem) -> tuple[Any, ...]:
    if isinstance(outcome, Answer):
        return ("answer", outcome.status, outcome.headers, outcome.body, outcome.quota)

    return ("problem", type(outcome).__name__, outcome.description)


def _decode(published: Any) -> Outcome:
    if not isinstance(published, tuple) or not published:
        return None

    if published[0] == "answer" and len(published) == 5:
        return Answer(*published[1:])

    if published[0] == "problem" and len(published) == 3:
        problem_class = _SHAREABLE_PROBLEMS.get(published[1])
        return problem_class(published[2]) if problem_class else None

    return None
