from __future__ import annotations

import logging
import time

import pytest

from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, MODEL_URL, FakeClock, HfAppFactory, use_clock
from .servers import RedisServer

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

CACHE_LOGGER = "flask_heady_edge.inference_cache"


def redis_config(url: str) -> dict[str, str]:
    return {"HEADY_CACHE_TYPE": "RedisCache", "HEADY_CACHE_REDIS_URL": url}


def test_a_miss_on_one_app_is_a_hit_on_another(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, redis_url: str
) -> None:
    one = hf_app(**redis_config(redis_url)).test_client()
    two = hf_app(**redis_config(redis_url)).test_client()

    first = one.post(MODEL_URL, json={"inputs": "shared"}, headers=KEY_HEADER)
    second = two.post(MODEL_URL, json={"inputs": "shared"}, headers=KEY_HEADER)

    assert len(fake_hf.calls) == 1
    assert (first.headers["X-Heady-Cache"], second.headers["X-Heady-Cache"]) == (
        "MISS",
        "HIT",
    )
    assert second.data == first.data
    assert second.headers["Content-Type"] == "application/json"


def test_entries_live_under_our_own_key_prefix(
    hf_app: HfAppFactory, redis_server: RedisServer, redis_url: str
) -> None:
    import redis

    client = hf_app(**redis_config(redis_url)).test_client()
    client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    keys = redis.Redis.from_url(redis_url).keys("*")
    assert len(keys) == 1
    assert keys[0].startswith(b"heady_edge_hf:")


def test_redis_outage_serves_uncached_and_logs_once(
    hf_app: HfAppFactory,
    fake_hf: FakeHuggingFace,
    own_redis: RedisServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = hf_app(**redis_config(own_redis.url))
    clock = use_clock(app, FakeClock())
    client = app.test_client()
    client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
    own_redis.stop()
    caplog.set_level(logging.INFO, logger=CACHE_LOGGER)

    started = time.monotonic()
    answers = [
        client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
        for _ in range(3)
    ]
    outage_seconds = time.monotonic() - started
    health = client.get("/api/edge/health", headers=KEY_HEADER).json

    assert [answer.status_code for answer in answers] == [200, 200, 200]
    assert {answer.headers["Cache-Status"] for answer in answers} == {
        "heady-origin; fwd=uri-miss; fwd-status=200"
    }
    assert len(fake_hf.calls) == 4
    assert outage_seconds < 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "unreachable" in warnings[0].getMessage()
    assert health["status"] == "degraded"
    assert health["parts"]["cache"] == {"state": "down", "type": "RedisCache"}

    own_redis.start()
    clock.advance(2)
    caplog.clear()
    recovered = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
    hit = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert recovered.headers["Cache-Status"].endswith("; stored")
    assert hit.headers["X-Heady-Cache"] == "HIT"
    assert [r.levelname for r in caplog.records] == ["INFO"]
    assert "recovered" in caplog.records[0].getMessage()
    health = client.get("/api/edge/health", headers=KEY_HEADER).json
    assert health["parts"]["cache"]["state"] == "ok"


def test_redis_down_at_startup_still_serves(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, own_redis: RedisServer
) -> None:
    own_redis.stop()
    client = hf_app(**redis_config(own_redis.url)).test_client()

    response = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert response.status_code == 200
    assert response.headers["X-Heady-Cache"] == "MISS"
