"""Per-client rate limits over a shared ``limits`` storage, and their headers."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from limits import RateLimitItem
from limits.errors import ConfigurationError, StorageError
from limits.storage import Storage, storage_from_string

from .errors import ConfigError, LimiterUnavailable, RateLimited
from .local_counters import LocalCounters

logger = logging.getLogger(__name__)

#: Namespace of our counters, so they never meet a host app's own limiter.
KEY_NAMESPACE = "heady_edge"

#: While the storage is down, it is tried again at most this often.
RETRY_INTERVAL = 1.0

#: Window ends remembered per process; past this many, expired ones go.
MAX_REMEMBERED_WINDOWS = 10_000


# Plain slotted classes: two of these are built per request, and a frozen
# dataclass costs several times as much to build.
@dataclass(slots=True)
class WindowState:
    """One limit after this request was counted against it."""

    item: RateLimitItem
    name: str
    remaining: int
    reset_at: float
    exceeded: bool

    def seconds_left(self, now: float) -> int:
        window = self.item.get_expiry()
        return min(max(0, math.ceil(self.reset_at - now)), window)


@dataclass(slots=True)
class Verdict:
    """Every configured limit for one request, as counted."""

    windows: tuple[WindowState, ...]
    now: float
    #: The ``RateLimit-Policy`` items; they only change with the configuration.
    policy: str

    def refusal(self) -> RateLimited | None:
        """The 429 to answer when a limit is exceeded, else ``None``."""
        for window in self.windows:
            if window.exceeded:
                # RFC 9110 10.2.3: whole seconds; at least 1 so clients do
                # not retry at once, at most one window and a second.
                seconds = window.seconds_left(self.now)
                retry_after = min(max(seconds, 1), window.item.get_expiry() + 1)
                return RateLimited(str(window.item), retry_after)

        return None

    def stamp(self, headers: list[tuple[str, str]]) -> None:
        """Add the Flask-Limiter style and the IETF draft fields.

        ``headers`` is the plain list a WSGI app hands to ``start_response``.
        ``RateLimit`` and ``RateLimit-Policy`` are structured-field lists
        (draft-ietf-httpapi-ratelimit-headers): ours go first and any items
        already present, such as the upstream's, follow.
        """
        windows = self.windows
        tightest = (
            windows[0]
            if len(windows) == 1
            else min(windows, key=lambda window: window.remaining)
        )
        state = ", ".join(
            f'"{w.name}";r={w.remaining};t={w.seconds_left(self.now)}'
            for w in windows
        )

        headers += (
            ("X-RateLimit-Limit", str(tightest.item.amount)),
            ("X-RateLimit-Remaining", str(tightest.remaining)),
            ("X-RateLimit-Reset", str(math.ceil(tightest.reset_at))),
        )
        _prepend_items(
            headers, (("RateLimit-Policy", self.policy), ("RateLimit", state))
        )


class RateLimiter:
    """Counts requests per client in fixed windows.

    Failure policy: when the storage cannot be reached, ``fail_open`` decides
    between serving the request uncounted and refusing it with a 503. Either
    way the outage is logged once at WARNING when it starts and once at INFO
    when it ends, and for :data:`RETRY_INTERVAL` after a failure the storage is
    not asked at all, so a dead backend does not add its timeout to every
    request.
    """

    def __init__(
        self,
        limits: Sequence[RateLimitItem],
        storage_uri: str,
        fail_open: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = tuple(limits)
        self.names = _policy_names(self.limits)
        self.policy = ", ".join(
            f'"{name}";q={item.amount};w={item.get_expiry()}'
            for item, name in zip(self.limits, self.names, strict=True)
        )
        self.fail_open = fail_open
        self.clock = clock
        self.storage_scheme = urlsplit(storage_uri).scheme
        self.storage: Storage | LocalCounters = (
            LocalCounters(clock)
            if self.storage_scheme == "memory"
            else _open_storage(storage_uri)
        )
        self._window_ends: dict[str, float] = {}
        self._down_since: float | None = None
        self._next_attempt = 0.0

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    def hit(self, client: str) -> Verdict | None:
        """Count one request of ``client``.

        Returns the state of every limit, or ``None`` when the storage is
        down and the policy is to serve; raises :class:`LimiterUnavailable`
        when it is down and the policy is to refuse.
        """
        now = self.clock()
        if self._down_since is not None and now < self._next_attempt:
            return self._when_down()

        try:
            windows = tuple(
                self._count(item, name, client, now)
                for item, name in zip(self.limits, self.names, strict=True)
            )
        except (StorageError, OSError) as error:
            # ``limits`` wraps only the client library's own errors; pymemcache
            # lets socket errors (a refused connection, a timeout) through.
            self._mark_down(now, error)
            return self._when_down()

        self._mark_up(now)
        return Verdict(windows, now, self.policy)

    def check_storage(self) -> bool:
        """Ask the storage whether it answers, for the health report."""
        try:
            return bool(self.storage.check())
        except StorageError:
            return False

    def _count(
        self, item: RateLimitItem, name: str, client: str, now: float
    ) -> WindowState:
        # The fixed-window algorithm of ``limits``, asked directly: going
        # through its strategy object would read the counter a second time
        # for the headers.
        key = item.key_for(KEY_NAMESPACE, client)
        count = self.storage.incr(key, item.get_expiry())
        reset_at = self._window_end(key, item, count, now)
        return WindowState(
            item, name, max(0, item.amount - count), reset_at, count > item.amount
        )

    def _window_end(
        self, key: str, item: RateLimitItem, count: int, now: float
    ) -> float:
        """When the window of ``key`` ends, asking the storage once per window.

        A window does not move once opened, so its end is remembered: with a
        network storage this saves a round trip on every request but the
        first of each window in each process. A count of 1 means this request
        opened the window.
        """
        reset_at = self._window_ends.get(key)
        if count == 1:
            reset_at = now + item.get_expiry()
        elif reset_at is None or reset_at <= now:
            reset_at = self.storage.get_expiry(key)
        else:
            return reset_at

        if len(self._window_ends) >= MAX_REMEMBERED_WINDOWS:
            self._window_ends = {
                k: end for k, end in self._window_ends.items() if end > now
            }
            if len(self._window_ends) >= MAX_REMEMBERED_WINDOWS:
                self._window_ends.clear()

        self._window_ends[key] = reset_at
        return reset_at

    def _when_down(self) -> Verdict | None:
        if self.fail_open:
            return None

        raise LimiterUnavailable()

    def _mark_down(self, now: float, error: StorageError | OSError) -> None:
        self._next_attempt = now + RETRY_INTERVAL
        if self._down_since is None:
            self._down_since = now
            policy = "serving uncounted" if self.fail_open else "refusing with 503"
            logger.warning(
                "Rate limit storage unreachable (%s); %s until it recovers",
                type(getattr(error, "storage_error", error)).__name__,
                policy,
            )

    def _mark_up(self, now: float) -> None:
        if self._down_since is not None:
            logger.info(
                "Rate limit storage recovered after %.1f seconds",
                now - self._down_since,
            )
            self._down_since = None


def _open_storage(uri: str) -> Storage:
    try:
        storage = storage_from_string(uri, wrap_exceptions=True)
    except (ConfigurationError, ValueError) as error:
        # The message of ``limits`` may quote the URI and its password.
        scheme = urlsplit(uri).scheme or uri.split(":", 1)[0]
        raise ConfigError(
            "HEADY_RATELIMIT_STORAGE_URI",
            f"cannot use a {scheme!r} storage ({type(error).__name__};"
            " is the scheme right and its client library installed?)",
        ) from None

    if not isinstance(storage, Storage):
        raise ConfigError(
            "HEADY_RATELIMIT_STORAGE_URI",
            "an async storage cannot serve a WSGI app; drop the 'async+' prefix",
        )

    return storage


def _policy_names(limits: Sequence[RateLimitItem]) -> tuple[str, ...]:
    """``default`` for a single limit; one name per window when there are more."""
    if len(limits) == 1:
        return ("default",)

    return tuple(f"{item.amount}-per-{item.get_expiry()}s" for item in limits)


def _prepend_items(
    headers: list[tuple[str, str]], items: tuple[tuple[str, str], ...]
) -> None:
    """Put each of ``items`` before the existing value of its field, if any."""
    pending = {name.lower(): (name, value) for name, value in items}
    for index, (name, value) in enumerate(headers):
        ours = pending.pop(name.lower(), None)
        if ours is not None:
            headers[index] = (name, f"{ours[1]}, {value}")

    headers.extend(pending.values())
