"""Row 1: the guarded API route, with memory and Redis storage, against bare Flask."""

from __future__ import annotations

from harness import Bench, Side, rate
from http_check import expect
from load import Request
from payloads import API_KEY, API_KEY_HEADER
from report import Row, at_least

ECHO = Request("/api/echo", headers={API_KEY_HEADER: API_KEY})

#: Headers that show the guard ran: the limit was counted and reported.
GUARD_HEADERS = {"X-RateLimit-Remaining": "", "RateLimit": "", "RateLimit-Policy": ""}


def guarded_route_rows(bench: Bench) -> list[Row]:
    services = bench.services
    redis = services.redis()
    bare = services.gunicorn("bare", "bare_app:create_app()")
    memory = services.gunicorn("gateway-memory", "gateway_app:create_app()")
    shared = services.gunicorn(
        "gateway-redis",
        "gateway_app:create_app()",
        env={"HEADY_RATELIMIT_STORAGE_URI": redis.extra["url"]},
    )
    services.ready()

    # The guard must really be in front: a request without the key is
    # refused, and a keyed one is counted.
    for gateway in (memory, shared):
        expect(gateway.url, Request("/api/echo"), 401)
        expect(gateway.url, ECHO, 200, GUARD_HEADERS)

    expect(bare.url, ECHO, 200)

    results = bench.compare(
        [
            Side("bare", bare, ECHO),
            Side("memory", memory, ECHO),
            Side("redis", shared, ECHO),
        ]
    )
    for server in (bare, memory, shared, redis):
        services.stop(server)

    bare_rate = rate(results["bare"], "bare Flask")
    return [
        Row(
            "1",
            "GET /api/echo, auth + rate limit, memory storage",
            rate(results["memory"]),
            bare_rate,
            at_least(0.85),
        ),
        Row(
            "1",
            "GET /api/echo, auth + rate limit, Redis storage",
            rate(results["redis"]),
            bare_rate,
        ),
    ]
