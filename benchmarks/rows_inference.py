"""Rows 2 and 4: the inference cache's hit and the proxy's miss path, with upstream."""

from __future__ import annotations

from harness import Bench, Side, latency, rate
from http_check import CheckError, expect, fetch
from load import Request
from payloads import (
    API_KEY,
    API_KEY_HEADER,
    INFERENCE_ANSWER,
    INFERENCE_REQUEST,
    MODEL_PATH,
)
from processes import Server
from report import Row, at_least

#: The upstream's delay: about the fastest a hosted model answers.
UPSTREAM_DELAY = "delay_ms=50"

JSON_POST = {"Content-Type": "application/json"}
KEYED_POST = {**JSON_POST, API_KEY_HEADER: API_KEY}

#: The same inference call, at the gateway (cached) and at its plain route.
HIT = Request(
    f"/api/hf/{MODEL_PATH}?{UPSTREAM_DELAY}", "POST", KEYED_POST, INFERENCE_REQUEST
)
PLAIN = Request(f"/api/plain/{MODEL_PATH}", "POST", KEYED_POST, INFERENCE_REQUEST)
BARE = Request(f"/api/hf/{MODEL_PATH}", "POST", JSON_POST, INFERENCE_REQUEST)

#: Every request a different body: each one a real miss (lookup, call, store).
MISS = Request(HIT.path, "POST", KEYED_POST, unique_bodies=True)

#: The miss path without the cache (RFC 9111 5.2.1.5: no-store neither reads
#: nor writes it), against the upstream called directly.
BYPASS = Request(
    HIT.path, "POST", {**KEYED_POST, "Cache-Control": "no-store"}, INFERENCE_REQUEST
)
DIRECT = Request(
    f"/{MODEL_PATH}?{UPSTREAM_DELAY}", "POST", JSON_POST, INFERENCE_REQUEST
)


def inference_rows(bench: Bench) -> list[Row]:
    services = bench.services
    connections = bench.plan.connections
    upstream = services.gunicorn(
        "upstream", "upstream:app", worker_class="gthread", threads=2 * connections
    )
    proxy_env = {"HEADY_HF_BASE_URL": upstream.url}
    bare = services.gunicorn("bare", "bare_app:create_app()")
    synced = services.gunicorn(
        "gateway-sync", "gateway_app:create_app()", env=proxy_env
    )
    threaded = services.gunicorn(
        "gateway-gthread",
        "gateway_app:create_app()",
        worker_class="gthread",
        threads=bench.plan.threads,
        env=proxy_env,
    )
    services.ready()

    for gateway in (synced, threaded):
        _fill_cache(gateway)

    expect(bare.url, BARE, 200, body=INFERENCE_ANSWER)
    expect(synced.url, PLAIN, 200, body=INFERENCE_ANSWER)
    expect(upstream.url, DIRECT, 200, body=INFERENCE_ANSWER)
    expect(threaded.url, BYPASS, 200, {"X-Heady-Cache": "BYPASS"}, INFERENCE_ANSWER)
    expect(
        threaded.url,
        Request(HIT.path, "POST", KEYED_POST, '{"inputs":"a body never sent before"}'),
        200,
        {"X-Heady-Cache": "MISS"},
    )

    hits = bench.compare(
        [
            Side("hit", synced, HIT),
            Side("bare", bare, BARE),
            Side("plain", synced, PLAIN),
        ]
    )
    one_by_one = bench.compare(
        [Side("hit", threaded, HIT), Side("miss", threaded, MISS)], connections=1
    )
    misses = bench.compare(
        [
            Side("direct", upstream, DIRECT),
            Side("gthread", threaded, BYPASS),
            Side("sync", synced, BYPASS),
        ]
    )

    return [
        Row(
            "2",
            "POST /api/hf/… cache hit",
            rate(hits["hit"]),
            rate(hits["bare"], "bare Flask route, same bytes"),
            at_least(0.75),
        ),
        Row(
            "2",
            "POST /api/hf/… cache hit",
            rate(hits["hit"]),
            rate(hits["plain"], "gateway route, same bytes, no cache"),
            at_least(0.9),
        ),
        Row(
            "2",
            "cache hit vs miss to a 50 ms upstream, 1 connection (gthread)",
            rate(one_by_one["hit"]),
            rate(one_by_one["miss"], "miss"),
            at_least(20),
        ),
        Row(
            "4",
            "proxy miss path (no-store), 50 ms upstream (gthread)",
            rate(misses["gthread"]),
            rate(misses["direct"], "upstream direct"),
            at_least(0.8),
        ),
        Row(
            "4",
            "mean latency of that call (lower is better)",
            latency(misses["gthread"]),
            latency(misses["direct"], "upstream direct"),
        ),
        Row(
            "4b",
            f"gthread vs sync workers before a 50 ms upstream, {connections} conns",
            rate(misses["gthread"]),
            rate(misses["sync"], "2 sync workers"),
        ),
    ]


def _fill_cache(gateway: Server) -> None:
    """Ask until every worker has the answer cached (each has a cache of its own).

    Connections are not kept, so successive requests land on any worker;
    ten hits in a row after the first ones make a cold worker unlikely, and
    a miss during the measurement would show in its rate anyway.
    """
    streak = 0
    for _ in range(200):
        answer = fetch(gateway.url, HIT)
        if answer.status != 200 or answer.body != INFERENCE_ANSWER:
            raise CheckError(f"{gateway.name}: {HIT.path} answered {answer.status}")

        streak = streak + 1 if answer.headers.get("x-heady-cache") == "HIT" else 0
        if streak >= 10:
            return

    raise CheckError(f"{gateway.name}: the inference answer is never a cache HIT")
