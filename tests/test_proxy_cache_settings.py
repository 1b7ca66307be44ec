from __future__ import annotations

import pytest

from flask_heady_edge import ConfigError
from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .conftest import AppFactory
from .hf_fixtures import KEY_HEADER, MODEL_URL, HfAppFactory, proxy_of
from .servers import RedisServer

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app


@pytest.mark.parametrize(
    ("cache_type", "cause"),
    [
        # A function that is no cache: called with the wrong arguments.
        ("os.system", "TypeError"),
        # A class whose constructor rejects the arguments.
        ("collections.OrderedDict", "TypeError"),
        ("types.SimpleNamespace", "TypeError"),
        # A callable that accepts them and builds something that is no cache.
        ("itertools.chain", "it built a chain"),
        # Not importable at all, or not a name.
        ("no_such_module.Cache", "ImportStringError"),
        (42, "TypeError"),
    ],
)
def test_cache_type_that_builds_no_cache_fails_at_startup_naming_the_key(
    make_app: AppFactory, cache_type: object, cause: str
) -> None:
    with pytest.raises(ConfigError) as failure:
        make_app(HEADY_CACHE_TYPE=cache_type)

    assert failure.value.key == "HEADY_CACHE_TYPE"
    assert str(failure.value).startswith(
        f"HEADY_CACHE_TYPE: cannot set up a {cache_type!r} store ({cause};"
    )


def test_cache_settings_given_as_strings_serve_misses_and_hits(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    app = hf_app(
        HEADY_CACHE_THRESHOLD="500",
        HEADY_CACHE_DEFAULT_TIMEOUT="300",
        HEADY_CACHE_IGNORE_ERRORS="false",
    )
    client = app.test_client()

    answers = [
        client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
        for _ in "ab"
    ]

    assert [answer.status_code for answer in answers] == [200, 200]
    assert [answer.headers["X-Heady-Cache"] for answer in answers] == ["MISS", "HIT"]
    assert len(fake_hf.calls) == 1
    assert proxy_of(app).cache.backend._threshold == 500


def test_redis_port_and_database_given_as_strings_reach_redis(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, redis_server: RedisServer
) -> None:
    import redis

    redis_server.flush()
    client = hf_app(
        HEADY_CACHE_TYPE="RedisCache",
        HEADY_CACHE_REDIS_HOST="127.0.0.1",
        HEADY_CACHE_REDIS_PORT=str(redis_server.port),
        HEADY_CACHE_REDIS_DB="3",
    ).test_client()

    answers = [
        client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)
        for _ in "ab"
    ]

    assert [answer.headers["X-Heady-Cache"] for answer in answers] == ["MISS", "HIT"]
    database = redis.Redis(host="127.0.0.1", port=redis_server.port, db=3)
    assert len(database.keys("heady_edge_hf:*")) == 1
