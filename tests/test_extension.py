"""The ``HeadyEdge`` extension contract: both set-ups, per-app state, blueprints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask

import flask_heady_edge
from flask_heady_edge import ConfigError, HeadyEdge
from flask_heady_edge.state import edge_state

from .conftest import API_KEY, AppFactory

GOOD = {"x-heady-api-key": API_KEY}

BLUEPRINT_NAMES = {"heady_edge_hf", "heady_edge_static"}


def bare_app(tmp_path: Path, name: str, **config: Any) -> Flask:
    app = Flask(name, root_path=str(tmp_path))
    app.config.update({"HEADY_API_KEY": API_KEY, **config})

    @app.get("/api/echo")
    def echo() -> str:
        return name

    return app


def test_package_exports_the_entry_point() -> None:
    assert flask_heady_edge.HeadyEdge is HeadyEdge
    assert flask_heady_edge.ConfigError is ConfigError
    assert isinstance(flask_heady_edge.__version__, str)


def test_constructor_with_app_sets_up_the_gateway(tmp_path: Path) -> None:
    app = bare_app(tmp_path, "direct")

    edge = HeadyEdge(app)
    client = app.test_client()

    assert app.extensions["heady_edge"] is edge
    assert client.get("/api/echo").status_code == 401
    assert client.get("/api/echo", headers=GOOD).data == b"direct"
    assert BLUEPRINT_NAMES <= set(app.blueprints)


def test_init_app_later_sets_up_the_gateway(tmp_path: Path) -> None:
    app = bare_app(tmp_path, "factory")
    edge = HeadyEdge()

    assert "heady_edge" not in app.extensions

    edge.init_app(app)
    client = app.test_client()

    assert app.extensions["heady_edge"] is edge
    assert client.get("/api/echo").status_code == 401
    assert client.get("/api/echo", headers=GOOD).data == b"factory"
    assert BLUEPRINT_NAMES <= set(app.blueprints)


def test_blueprints_are_reachable_on_the_instance() -> None:
    edge = HeadyEdge()

    assert isinstance(edge.hf_blueprint, Blueprint)
    assert isinstance(edge.static_blueprint, Blueprint)
    assert {edge.hf_blueprint.name, edge.static_blueprint.name} == BLUEPRINT_NAMES


def test_one_instance_keeps_each_app_apart(tmp_path: Path) -> None:
    first = bare_app(
        tmp_path, "first", HEADY_API_KEY="first-key", HEADY_RATE_LIMIT="2 per minute"
    )
    second = bare_app(
        tmp_path,
        "second",
        HEADY_API_KEY="second-key",
        HEADY_RATE_LIMIT="5 per minute",
        HEADY_API_PREFIX="/api",
    )
    edge = HeadyEdge()
    edge.init_app(first)
    edge.init_app(second)
    first_client, second_client = first.test_client(), second.test_client()

    first_statuses = [
        first_client.get("/api/echo", headers={"x-heady-api-key": key}).status_code
        for key in ("first-key", "second-key", "first-key")
    ]
    second_answer = second_client.get(
        "/api/echo", headers={"x-heady-api-key": "second-key"}
    )
    wrong_app_key = second_client.get(
        "/api/echo", headers={"x-heady-api-key": "first-key"}
    )

    assert first.extensions["heady_edge"] is second.extensions["heady_edge"] is edge
    assert edge_state(first) is not edge_state(second)
    assert edge_state(first).limiter is not edge_state(second).limiter
    assert first_statuses == [200, 401, 429]
    assert second_answer.status_code == 200
    assert second_answer.data == b"second"
    assert second_answer.headers["X-RateLimit-Remaining"] == "4"
    assert wrong_app_key.status_code == 401
    assert not hasattr(edge, "app")


def test_without_blueprints_the_gate_limits_and_health_still_work(
    make_app: AppFactory,
) -> None:
    app = make_app(register_blueprints=False, HEADY_RATE_LIMIT="2 per minute")
    edge = app.extensions["heady_edge"]
    client = app.test_client()

    statuses = [
        client.get("/api/echo").status_code,
        client.get("/api/edge/health", headers=GOOD).status_code,
        client.get("/api/echo", headers=GOOD).status_code,
    ]
    liveness = client.get("/healthz")

    assert edge.register_blueprints is False
    assert BLUEPRINT_NAMES.isdisjoint(app.blueprints)
    assert statuses == [401, 200, 429]
    assert liveness.status_code == 200


def test_app_registers_the_blueprints_itself(make_app: AppFactory) -> None:
    app = make_app(register_blueprints=False)
    edge = app.extensions["heady_edge"]

    app.register_blueprint(edge.hf_blueprint)
    app.register_blueprint(edge.static_blueprint)

    assert BLUEPRINT_NAMES <= set(app.blueprints)
    assert app.test_client().get("/api/echo", headers=GOOD).status_code == 200


def test_state_of_an_app_without_the_gateway_is_a_clear_error(tmp_path: Path) -> None:
    app = bare_app(tmp_path, "plain")

    with pytest.raises(RuntimeError, match="HeadyEdge is not set up on this app"):
        edge_state(app)


def test_failed_init_leaves_the_app_untouched(tmp_path: Path) -> None:
    app = bare_app(tmp_path, "broken", HEADY_RATE_LIMIT="often")
    rules_before = {rule.rule for rule in app.url_map.iter_rules()}

    with pytest.raises(ConfigError):
        HeadyEdge(app)

    assert "heady_edge" not in app.extensions
    assert {rule.rule for rule in app.url_map.iter_rules()} == rules_before
    assert app.before_request_funcs.get(None, []) == []
