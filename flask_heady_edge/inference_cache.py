"""The inference cache: answers kept in a Flask-Caching store, and its outages."""

from __future__ import annotations

import hashlib
import importlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from cachelib import BaseCache
from flask import Flask
from flask_caching import Cache

from .config import Settings
from .errors import ConfigError

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: While the store is down, it is tried again at most this often.
RETRY_INTERVAL = 1.0

#: Bumped when the layout of a stored entry changes.
ENTRY_FORMAT = 1

#: Every setting Flask-Caching or one of its backends reads, with the value it
#: would fall back to. ``Cache.init_app`` starts from a copy of the host app's
#: config, so each one is set here and a host ``CACHE_*`` key never leaks in.
FLASK_CACHING_DEFAULTS: dict[str, Any] = {
    "CACHE_TYPE": "SimpleCache",
    "CACHE_DEFAULT_TIMEOUT": 300,
    "CACHE_IGNORE_ERRORS": False,
    "CACHE_THRESHOLD": 500,
    "CACHE_KEY_PREFIX": "heady_edge_hf:",
    "CACHE_ARGS": [],
    "CACHE_OPTIONS": None,
    "CACHE_NO_NULL_WARNING": False,
    "CACHE_SOURCE_CHECK": False,
    "CACHE_ENABLE_SIGNALS": False,
    "CACHE_SERIALIZER": None,
    "CACHE_HASH_METHOD": hashlib.sha256,
    "CACHE_FILE_HASH_METHOD": hashlib.sha256,
    "CACHE_DIR": None,
    "CACHE_MEMCACHED_SERVERS": None,
    "CACHE_MEMCACHED_USERNAME": None,
    "CACHE_MEMCACHED_PASSWORD": None,
    "CACHE_REDIS_URL": "",
    "CACHE_REDIS_HOST": "localhost",
    "CACHE_REDIS_PORT": 6379,
    "CACHE_REDIS_DB": 0,
    "CACHE_REDIS_PASSWORD": None,
    "CACHE_REDIS_SENTINELS": [("127.0.0.1", 26379)],
    "CACHE_REDIS_SENTINEL_MASTER": "mymaster",
    "CACHE_REDIS_SENTINEL_PASSWORD": None,
    "CACHE_REDIS_CLUSTER": "",
}

Header = tuple[str, str]


@dataclass(frozen=True, slots=True)
class Answer:
    """A complete upstream answer, as it is relayed to the client."""

    status: int
    #: Relayed headers, ``Content-Type`` among them; these are stored.
    headers: tuple[Header, ...]
    body: bytes
    #: The upstream's ``RateLimit`` fields; relayed, never stored.
    quota: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Entry:
    """A stored answer and its age."""

    answer: Answer
    age: int
    seconds_left: int


def store_errors() -> tuple[type[BaseException], ...]:
    """What a cache store raises when it cannot be reached.

    Only transport errors: anything else is a bug and must not be taken for
    an outage.
    """
    errors: list[type[BaseException]] = [OSError]
    for module, name in (
        ("redis.exceptions", "RedisError"),
        ("pymemcache.exceptions", "MemcacheError"),
    ):
        try:
            errors.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue

    return tuple(errors)


def _store_error(cache_type: Any, cause: str) -> ConfigError:
    return ConfigError(
        "HEADY_CACHE_TYPE",
        f"cannot set up a {cache_type!r} store ({cause}; is it a Flask-Caching"
        " backend, is its client library installed and are its HEADY_CACHE_*"
        " settings right?)",
    )


class InferenceCache:
    """Stored inference answers, for ``ttl`` seconds, in any Flask-Caching store.

    Entries are plain tuples of built-in types, so a store shared by hosts
    running different versions never meets a class it cannot unpickle. Age
    and expiry are counted with ``clock`` (wall time, as hosts sharing a store
    must agree on it); the store's own expiry only frees the memory.

    Failure policy: when the store cannot be reached, reads miss and writes are
    dropped, so requests are still proxied, uncached. The outage is logged once
    at WARNING when it starts and once at INFO when it ends, and for
    :data:`RETRY_INTERVAL` seconds after a failure the store is not asked at
    all, so a dead backend does not add its timeout to every request.
    """

    def __init__(
        self,
        backend: BaseCache,
        ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.backend = backend
        self.ttl = ttl
        self.clock = clock
        self.errors = store_errors()
        self._down_since: float | None = None
        self._next_attempt = 0.0
        self._transition = threading.Lock()

    @classmethod
    def for_app(cls, app: Flask, settings: Settings) -> InferenceCache:
        """A Flask-Caching store from ``HEADY_CACHE_*`` alone."""
        config = {
            **FLASK_CACHING_DEFAULTS,
            **settings.cache_config,
            "CACHE_DEFAULT_TIMEOUT": settings.cache_ttl,
        }
        cache = Cache(with_jinja2_ext=False)
        try:
            cache.init_app(app, config=config)
        except Exception as error:  # noqa: BLE001
            # Whatever HEADY_CACHE_TYPE names is imported and called with the
            # HEADY_CACHE_* values (a function that is no cache, a class that
            # rejects its arguments), so any failure here is the setting's,
            # never a bug of ours. The message is left out: it may quote a
            # store URL and password.
            raise _store_error(config["CACHE_TYPE"], type(error).__name__) from None

        backend = app.extensions["cache"][cache]
        if not isinstance(backend, BaseCache):
            built = f"it built a {type(backend).__name__}"
            raise _store_error(config["CACHE_TYPE"], built)

        return cls(backend, settings.cache_ttl)

    @property
    def is_down(self) -> bool:
        return self._down_since is not None

    @property
    def backend_name(self) -> str:
        return type(self.backend).__name__

    def get(self, key: str) -> Entry | None:
        """The fresh entry under ``key``, or ``None`` (also when the store is down)."""
        stored = self.call(self.backend.get, key)
        return self.entry_from(stored)

    def entry_from(self, stored: Any) -> Entry | None:
        """Read a stored tuple back; anything else, or an expired one, is a miss."""
        if not isinstance(stored, tuple) or len(stored) != 5:
            return None

        format_, status, headers, body, stored_at = stored
        if format_ != ENTRY_FORMAT:
            return None

        elapsed = self.clock() - stored_at
        if elapsed >= self.ttl:
            return None

        # RFC 9111 5.1: Age in whole seconds, never negative even when the
        # storing host's clock ran ahead of ours.
        age = max(0, int(elapsed))
        return Entry(Answer(status, headers, body), age, self.ttl - age)

    def put(self, key: str, answer: Answer) -> bool:
        """Store ``answer`` under ``key``; whether it was stored."""
        if self.ttl <= 0:
            return False

        stored_at = self.clock()
        stored = (ENTRY_FORMAT, answer.status, answer.headers, answer.body, stored_at)
        return bool(self.call(self.backend.set, key, stored, timeout=self.ttl))

    def call(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """Run one store operation with the failure policy; ``None`` when down."""
        now = self.clock()
        if self._down_since is not None and now < self._next_attempt:
            return None

        try:
            result = operation(*args, **kwargs)
        except self.errors as error:
            self._mark_down(now, error)
            return None

        self._mark_up(now)
        return result

    def health(self) -> dict[str, Any]:
        """Ask the store whether it answers, for the health report."""
        self._next_attempt = 0.0
        self.call(self.backend.get, "heady_edge:health")
        return {"state": "down" if self.is_down else "ok", "type": self.backend_name}

    def _mark_down(self, now: float, error: BaseException) -> None:
        self._next_attempt = now + RETRY_INTERVAL
        with self._transition:
            if self._down_since is not None:
                return

            self._down_since = now
            logger.warning(
                "Inference cache store %s unreachable (%s); proxying uncached"
                " until it recovers",
                self.backend_name,
                type(error).__name__,
            )

    def _mark_up(self, now: float) -> None:
        if self._down_since is None:
            return

        with self._transition:
            if self._down_since is None:
                return

            logger.info(
                "Inference cache store %s recovered after %.1f seconds",
                self.backend_name,
                now - self._down_since,
            )
            self._down_since = None
