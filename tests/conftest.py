from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from flask_heady_edge import HeadyEdge

from .servers import RedisServer

API_KEY = "test-key-0123456789"

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(tmp_path: Any) -> AppFactory:
    """Build a Flask app with the gateway from any ``HEADY_*`` settings.

    The app has a guarded route ``/api/echo`` and an open route ``/open``.
    Its root path is a fresh folder, so no ``public`` folder is found unless
    a test makes one or names ``HEADY_PUBLIC_DIR``.
    """

    def factory(register_blueprints: bool = True, **config: Any) -> Flask:
        app = Flask("heady_test_app", root_path=str(tmp_path))
        app.config["HEADY_API_KEY"] = API_KEY
        app.config.update(config)

        @app.route("/api/echo", methods=["GET", "POST"])
        def echo() -> dict[str, str]:
            return {"path": "/api/echo"}

        @app.get("/open")
        def open_route() -> str:
            return "open"

        HeadyEdge(app, register_blueprints=register_blueprints)
        return app

    return factory


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One private Redis for the session; tests that stop it make their own."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    """A Redis of this test's own, to stop and start."""
    server = RedisServer()
    server.start()
    yield server
    server.stop()
