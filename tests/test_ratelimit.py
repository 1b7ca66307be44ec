"""Per-client rate limits, their headers, shared storage and outages (PROTOCOL.md 2)."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from limits import parse, parse_many
from werkzeug.test import TestResponse

from flask_heady_edge.errors import LimiterUnavailable
from flask_heady_edge.ratelimit import RETRY_INTERVAL, RateLimiter, Verdict
from flask_heady_edge.state import edge_state

from .conftest import API_KEY, AppFactory
from .servers import RedisServer, free_port

GOOD = {"x-heady-api-key": API_KEY}
PREFLIGHT = {
    "Origin": "https://ide.example",
    "Access-Control-Request-Method": "POST",
}
BAD = {"x-heady-api-key": "not-the-key"}

START = 1_800_000_000.0

RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "RateLimit-Policy",
    "RateLimit",
}


class FakeClock:
    """A wall clock that moves only when told; stands in for ``time.time``."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    """A fake clock for the limiter, and so for its ``memory://`` counters."""
    return FakeClock()


def use_clock(app: Flask, clock: FakeClock) -> Flask:
    """Give ``app`` a limiter like its own that reads ``clock``."""
    state = edge_state(app)
    settings = state.settings
    state.limiter = RateLimiter(
        settings.rate_limits,
        settings.ratelimit_storage_uri,
        settings.ratelimit_fail_open,
        clock=clock.time,
    )
    return app


def remaining(response: TestResponse) -> int:
    return int(response.headers["X-RateLimit-Remaining"])


def limit_headers(response: TestResponse) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name in RATE_LIMIT_HEADERS
    }


def test_sixth_request_in_a_minute_gets_429_whatever_its_key(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()

    statuses = [
        client.get("/api/echo", headers=headers).status_code
        for headers in (GOOD, BAD, GOOD, BAD, GOOD, GOOD, BAD, {})
    ]
    refused = client.get("/api/echo", headers=GOOD)

    assert statuses == [200, 401, 200, 401, 200, 429, 429, 429]
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "60"
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.get_json() == {
        "type": "urn:heady-edge:problem:rate-limited",
        "title": "Too Many Requests",
        "status": 429,
        "detail": "Rate limit of 5 per 1 minute exceeded; retry in 60 seconds.",
    }
    assert API_KEY.encode() not in refused.data


def test_window_turns_over_after_its_length(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()
    for _ in range(5):
        client.get("/api/echo", headers=GOOD)

    refused_at_once = client.get("/api/echo", headers=GOOD)
    clock.advance(45.5)
    refused_later = client.get("/api/echo", headers=GOOD)
    clock.advance(14.5)
    served = client.get("/api/echo", headers=GOOD)

    assert refused_at_once.headers["Retry-After"] == "60"
    assert refused_later.headers["Retry-After"] == "15"
    assert refused_later.headers["RateLimit"] == '"default";r=0;t=15'
    assert served.status_code == 200
    assert limit_headers(served) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "4",
        "X-RateLimit-Reset": str(int(START) + 120),
        "RateLimit-Policy": '"default";q=5;w=60',
        "RateLimit": '"default";r=4;t=60',
    }


def test_every_guarded_answer_carries_the_limit_headers(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()

    answers = []
    for headers, path in [
        (GOOD, "/api/echo"),
        (BAD, "/api/echo"),
        (GOOD, "/api/nothing-here"),
        (GOOD, "/api/edge/health"),
        (GOOD, "/api/echo"),
        (GOOD, "/api/echo"),
    ]:
        answers.append(client.get(path, headers=headers))
        clock.advance(1)

    assert [answer.status_code for answer in answers] == [200, 401, 404, 200, 200, 429]
    reset = str(int(START) + 60)
    for index, answer in enumerate(answers):
        left = max(0, 4 - index)
        assert limit_headers(answer) == {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": str(left),
            "X-RateLimit-Reset": reset,
            "RateLimit-Policy": '"default";q=5;w=60',
            "RateLimit": f'"default";r={left};t={60 - index}',
        }

    assert answers[-1].headers["Retry-After"] == "55"


def test_unrouted_paths_under_the_prefix_count(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()

    probes = [client.get(f"/api/probe-{n}", headers=GOOD).status_code for n in range(5)]
    real = client.get("/api/echo", headers=GOOD)

    assert probes == [404] * 5
    assert real.status_code == 429


def test_options_preflights_do_not_count(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()

    preflights = [client.options("/api/echo", headers=PREFLIGHT) for _ in range(20)]
    first = client.get("/api/echo", headers=GOOD)

    assert {preflight.status_code for preflight in preflights} == {200}
    assert all(limit_headers(preflight) == {} for preflight in preflights)
    assert remaining(first) == 4


def test_paths_outside_the_prefix_neither_count_nor_get_headers(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()

    outside = [client.get(path) for path in ["/open", "/apiary", "/healthz"] * 4]
    first = client.get("/api/echo", headers=GOOD)

    assert [answer.status_code for answer in outside] == [200, 404, 200] * 4
    assert all(limit_headers(answer) == {} for answer in outside)
    assert remaining(first) == 4


def test_another_client_has_its_own_budget(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="5 per minute"), clock)
    client = app.test_client()
    first_client = {"REMOTE_ADDR": "192.0.2.10"}
    second_client = {"REMOTE_ADDR": "2001:db8::20"}

    exhausted = [
        client.get("/api/echo", headers=GOOD, environ_base=first_client).status_code
        for _ in range(6)
    ]
    other = client.get("/api/echo", headers=GOOD, environ_base=second_client)

    assert exhausted == [200, 200, 200, 200, 200, 429]
    assert other.status_code == 200
    assert remaining(other) == 4


def test_several_limits_each_reported_and_tightest_in_x_fields(
    make_app: AppFactory, clock: FakeClock
) -> None:
    app = use_clock(make_app(HEADY_RATE_LIMIT="2 per second; 5 per minute"), clock)
    client = app.test_client()
    policy = '"2-per-1s";q=2;w=1, "5-per-60s";q=5;w=60'

    first = client.get("/api/echo", headers=GOOD)
    second = client.get("/api/echo", headers=GOOD)
    burst = client.get("/api/echo", headers=GOOD)
    clock.advance(1)
    fourth = client.get("/api/echo", headers=GOOD)
    clock.advance(1)
    fifth = client.get("/api/echo", headers=GOOD)
    sixth = client.get("/api/echo", headers=GOOD)

    assert [r.status_code for r in (first, second, burst, fourth, fifth, sixth)] == [
        200,
        200,
        429,
        200,
        200,
        429,
    ]
    assert limit_headers(first) == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": str(int(START) + 1),
        "RateLimit-Policy": policy,
        "RateLimit": '"2-per-1s";r=1;t=1, "5-per-60s";r=4;t=60',
    }
    assert burst.headers["Retry-After"] == "1"
    assert burst.headers["RateLimit"] == '"2-per-1s";r=0;t=1, "5-per-60s";r=2;t=60'
    # The burst was counted too: the minute has one left after the fourth.
    assert limit_headers(fourth) == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": str(int(START) + 2),
        "RateLimit-Policy": policy,
        "RateLimit": '"2-per-1s";r=1;t=1, "5-per-60s";r=1;t=59',
    }
    assert limit_headers(fifth) == {
        "X-RateLimit-Limit": "5",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(int(START) + 60),
        "RateLimit-Policy": policy,
        "RateLimit": '"2-per-1s";r=1;t=1, "5-per-60s";r=0;t=58',
    }
    assert sixth.headers["Retry-After"] == "58"
    assert "5 per 1 minute" in sixth.get_json()["detail"]


def test_limiter_counts_fixed_windows_on_its_own_clock(clock: FakeClock) -> None:
    limiter = RateLimiter(parse_many("3 per 10 seconds"), "memory://", clock=clock.time)

    counted = [limiter.hit("client") for _ in range(4)]
    clock.advance(9.5)
    still_refused = limiter.hit("client")
    clock.advance(0.5)
    fresh = limiter.hit("client")

    assert [v.windows[0].remaining for v in counted if v] == [2, 1, 0, 0]
    assert [v.refusal() is None for v in counted if v] == [True, True, True, False]
    assert still_refused is not None
    refusal = still_refused.refusal()
    assert refusal is not None and refusal.retry_after == 1
    assert fresh is not None and fresh.refusal() is None
    assert fresh.windows[0].remaining == 2


def test_window_turns_over_in_redis(redis_url: str) -> None:
    limiter = RateLimiter([parse("1 per second")], redis_url)

    first = limiter.hit("client")
    second = limiter.hit("client")
    time.sleep(1.05)
    third = limiter.hit("client")

    assert first is not None and first.refusal() is None
    assert second is not None
    refusal = second.refusal()
    assert refusal is not None and refusal.retry_after == 1
    assert third is not None and third.refusal() is None


def test_two_apps_on_one_redis_share_one_limit(
    make_app: AppFactory, redis_url: str
) -> None:
    config = {
        "HEADY_RATE_LIMIT": "5 per minute",
        "HEADY_RATELIMIT_STORAGE_URI": redis_url,
    }
    first = make_app(**config).test_client()
    second = make_app(**config).test_client()

    statuses = [
        client.get("/api/echo", headers=GOOD).status_code
        for client in (first, second, first, second, second)
    ]
    refused_first = first.get("/api/echo", headers=GOOD)
    refused_second = second.get("/api/echo", headers=BAD)

    assert statuses == [200] * 5
    for refused in (refused_first, refused_second):
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 61
        assert refused.headers["X-RateLimit-Remaining"] == "0"


def test_redis_counters_live_under_their_own_namespace(redis_url: str) -> None:
    limiter = RateLimiter([parse("5 per minute")], redis_url)
    limiter.hit("203.0.113.9")

    assert limiter.storage.get("LIMITER/heady_edge/203.0.113.9/5/1/minute") == 1


def counted(limiter: RateLimiter, client: str) -> Verdict:
    verdict = limiter.hit(client)
    assert verdict is not None
    return verdict


def test_window_end_is_asked_of_redis_once_per_window(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.config_resetstat()
    opener = RateLimiter([parse("5 per minute")], redis_url)
    other_worker = RateLimiter([parse("5 per minute")], redis_url)

    opened = counted(opener, "203.0.113.9")
    later = [counted(opener, "203.0.113.9") for _ in range(2)]
    elsewhere = [counted(other_worker, "203.0.113.9") for _ in range(2)]
    ttl_calls = client.info("commandstats").get("cmdstat_ttl", {}).get("calls", 0)

    # The opener knows its window's end; the other process asks once.
    assert ttl_calls == 1
    end = opened.windows[0].reset_at
    assert [v.windows[0].reset_at for v in later] == [end, end]
    assert [v.windows[0].remaining for v in elsewhere] == [1, 0]
    # Redis keeps whole seconds of TTL: the other process's end is that close.
    for verdict in elsewhere:
        assert abs(verdict.windows[0].reset_at - end) <= 1.0


class MemcachedServer:
    """A private ``memcached`` on loopback that a test may stop."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"memcached://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        # ``-u`` only matters when run as root, which memcached refuses otherwise.
        self.process = subprocess.Popen(
            [self.binary, "-l", "127.0.0.1", "-p", str(self.port), "-U", "0"]
            + ["-u", "nobody"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.02)

        raise RuntimeError(f"memcached did not start on port {self.port}")

    def stop(self) -> None:
        # Killed rather than asked: memcached takes a second to wind down, and
        # an abrupt end is the outage these tests are about.
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def memcached() -> Iterator[MemcachedServer]:
    """A memcached of this test's own; only these tests skip without the binary."""
    binary = shutil.which("memcached")
    if binary is None:
        pytest.skip("memcached is not installed; Memcached storage is untested here")

    server = MemcachedServer(binary)
    server.start()
    yield server
    server.stop()


def close_storage_clients(*apps: Flask) -> None:
    """Close the storage client sockets of this thread now, not in the GC."""
    for app in apps:
        storage: Any = edge_state(app).limiter.storage
        storage.storage.close()


def test_two_apps_on_one_memcached_share_one_limit(
    make_app: AppFactory, memcached: MemcachedServer
) -> None:
    config = {
        "HEADY_RATE_LIMIT": "5 per minute",
        "HEADY_RATELIMIT_STORAGE_URI": memcached.url,
    }
    first_app, second_app = make_app(**config), make_app(**config)
    first, second = first_app.test_client(), second_app.test_client()

    statuses = [
        client.get("/api/echo", headers=GOOD).status_code
        for client in (second, first, second, first, first, second, first)
    ]
    close_storage_clients(first_app, second_app)

    assert statuses == [200, 200, 200, 200, 200, 429, 429]


def test_memcached_outage_is_served_not_a_500(
    make_app: AppFactory, memcached: MemcachedServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(HEADY_RATELIMIT_STORAGE_URI=memcached.url)
    client = app.test_client()
    before = client.get("/api/echo", headers=GOOD)

    memcached.stop()
    during = [client.get("/api/echo", headers=GOOD) for _ in range(3)]
    close_storage_clients(app)

    assert remaining(before) == 119
    assert [answer.status_code for answer in during] == [200, 200, 200]
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == [
        "WARNING"
    ]


def test_storage_outage_fails_open_logs_once_and_recovers(
    make_app: AppFactory,
    own_redis: RedisServer,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = make_app(
        HEADY_RATE_LIMIT="5 per minute", HEADY_RATELIMIT_STORAGE_URI=own_redis.url
    )
    use_clock(app, clock)
    client = app.test_client()
    before = client.get("/api/echo", headers=GOOD)
    caplog.set_level(logging.DEBUG)

    own_redis.stop()
    during = []
    for _ in range(3):
        during.append(client.get("/api/echo", headers=GOOD))
        clock.advance(RETRY_INTERVAL)

    during.append(client.get("/api/echo", headers=BAD))
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]

    own_redis.start()
    not_retried_yet = client.get("/api/echo", headers=GOOD)
    clock.advance(RETRY_INTERVAL)
    after = client.get("/api/echo", headers=GOOD)

    assert remaining(before) == 4
    assert [answer.status_code for answer in during] == [200, 200, 200, 401]
    assert all(limit_headers(answer) == {} for answer in during)
    assert [(r.name, r.levelname) for r in warnings] == [
        ("flask_heady_edge.ratelimit", "WARNING")
    ]
    assert "serving uncounted" in warnings[0].getMessage()
    assert limit_headers(not_retried_yet) == {}
    assert after.status_code == 200
    assert remaining(after) == 4
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert [(r.name, r.levelname) for r in recovered] == [
        ("flask_heady_edge.ratelimit", "INFO")
    ]
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == warnings


def test_storage_outage_fails_closed_with_503_problem(
    make_app: AppFactory, own_redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        HEADY_RATELIMIT_STORAGE_URI=own_redis.url, HEADY_RATELIMIT_FAIL_OPEN="false"
    )
    client = app.test_client()
    served = client.get("/api/echo", headers=GOOD)

    own_redis.stop()
    refused = [
        client.get("/api/echo", headers=headers) for headers in (GOOD, BAD, GOOD)
    ]
    outside = client.get("/open")
    preflight = client.options("/api/echo", headers=PREFLIGHT)

    assert served.status_code == 200
    assert [answer.status_code for answer in refused] == [503, 503, 503]
    for answer in refused:
        assert answer.headers["Content-Type"] == "application/problem+json"
        assert answer.headers["Retry-After"] == "1"
        assert answer.get_json() == {
            "type": "urn:heady-edge:problem:limiter-unavailable",
            "title": "Service Unavailable",
            "status": 503,
            "detail": "The rate limit storage cannot be reached; try again shortly.",
        }
        assert own_redis.url.encode() not in answer.data

    assert outside.status_code == 200
    assert preflight.status_code == 200
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == [
        "WARNING"
    ]
    assert "refusing with 503" in caplog.records[-1].getMessage()


def test_limiter_raises_limiter_unavailable_when_closed_and_down() -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    closed = RateLimiter(parse_many("5 per minute"), dead, fail_open=False)
    open_ = RateLimiter(parse_many("5 per minute"), dead, fail_open=True)

    with pytest.raises(LimiterUnavailable):
        closed.hit("client")

    assert open_.hit("client") is None
    assert closed.is_down and open_.is_down
    assert closed.check_storage() is False
