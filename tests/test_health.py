"""The bare liveness answer and the detailed health report (PROTOCOL.md 5)."""

from __future__ import annotations

from flask import Flask

import flask_heady_edge

from .conftest import API_KEY, AppFactory
from .servers import RedisServer, serve

GOOD = {"x-heady-api-key": API_KEY}
PREFLIGHT = {
    "Origin": "https://ide.example",
    "Access-Control-Request-Method": "POST",
}


def upstream_stand_in() -> Flask:
    """A loopback stand-in for the upstream, so no health probe leaves the host."""
    app = Flask("upstream_stand_in")

    @app.route("/", defaults={"path": ""}, methods=["GET", "HEAD", "POST"])
    @app.route("/<path:path>", methods=["GET", "HEAD", "POST"])
    def anything(path: str) -> dict[str, str]:
        return {"ok": path}

    return app


def test_liveness_answers_without_key_or_details(make_app: AppFactory) -> None:
    client = make_app().test_client()

    plain = client.get("/healthz")
    wrong_key = client.get("/healthz", headers={"x-heady-api-key": "wrong"})

    for response in (plain, wrong_key):
        assert response.status_code == 200
        assert response.data == b"ok\n"
        assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Heady-Served-By"] == "origin"
        assert "X-RateLimit-Limit" not in response.headers


def test_liveness_is_never_rate_limited(make_app: AppFactory) -> None:
    client = make_app(HEADY_RATE_LIMIT="1 per minute").test_client()

    statuses = {client.get("/healthz").status_code for _ in range(5)}

    assert statuses == {200}


def test_report_needs_the_key(make_app: AppFactory) -> None:
    client = make_app().test_client()

    response = client.get("/api/edge/health")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'ApiKey header="x-heady-api-key"'
    assert b"parts" not in response.data


def test_report_has_the_protocol_shape(make_app: AppFactory) -> None:
    with serve(upstream_stand_in()) as upstream:
        app = make_app(HEADY_HF_BASE_URL=upstream)
        response = app.test_client().get("/api/edge/health", headers=GOOD)

    body = response.get_json()
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Heady-Served-By"] == "origin"
    assert response.headers["RateLimit-Policy"] == '"default";q=120;w=60'
    assert set(body) == {"status", "version", "edge", "parts"}
    assert body["status"] == "ok"
    assert body["version"] == flask_heady_edge.__version__
    assert body["edge"] is None
    assert body["parts"]["limiter"] == {
        "state": "ok",
        "storage": "memory",
        "fail_open": True,
    }
    assert {"limiter", "cache", "upstream"} <= set(body["parts"])
    for part in body["parts"].values():
        assert isinstance(part["state"], str)

    assert body["parts"]["upstream"]["base_url"] == upstream
    assert API_KEY not in response.get_data(as_text=True)


def test_report_names_the_edge_that_forwarded_it(make_app: AppFactory) -> None:
    client = make_app().test_client()

    response = client.get(
        "/api/edge/health", headers={**GOOD, "X-Heady-Edge": "heady-edge-worker/2.3.1"}
    )

    assert response.get_json()["edge"] == "heady-edge-worker/2.3.1"


def test_report_is_under_a_custom_prefix(make_app: AppFactory) -> None:
    client = make_app(HEADY_API_PREFIX="/gw").test_client()

    moved = client.get("/gw/edge/health", headers=GOOD)
    old = client.get("/api/edge/health", headers=GOOD)

    assert moved.status_code == 200
    assert moved.get_json()["version"] == flask_heady_edge.__version__
    assert old.status_code == 404


def test_report_is_degraded_while_the_limiter_storage_is_down(
    make_app: AppFactory, own_redis: RedisServer
) -> None:
    client = make_app(HEADY_RATELIMIT_STORAGE_URI=own_redis.url).test_client()
    healthy = client.get("/api/edge/health", headers=GOOD).get_json()

    own_redis.stop()
    down = client.get("/api/edge/health", headers=GOOD)
    liveness = client.get("/healthz")

    own_redis.start()
    recovered = client.get("/api/edge/health", headers=GOOD).get_json()

    assert healthy["status"] == "ok"
    assert healthy["parts"]["limiter"] == {
        "state": "ok",
        "storage": "redis",
        "fail_open": True,
    }
    assert down.status_code == 200
    assert down.get_json()["status"] == "degraded"
    assert down.get_json()["parts"]["limiter"] == {
        "state": "down",
        "storage": "redis",
        "fail_open": True,
    }
    assert own_redis.url not in down.get_data(as_text=True)
    assert liveness.status_code == 200
    assert recovered["status"] == "ok"
    assert recovered["parts"]["limiter"]["state"] == "ok"


def test_served_by_origin_on_guarded_answers_only(make_app: AppFactory) -> None:
    client = make_app(HEADY_RATE_LIMIT="3 per minute").test_client()

    guarded = [
        client.get("/api/echo", headers=GOOD),
        client.get("/api/echo"),
        client.get("/api/missing", headers=GOOD),
        client.get("/api/echo", headers=GOOD),
        client.options("/api/echo", headers=PREFLIGHT),
        client.get("/api/edge/health", headers=GOOD),
    ]
    outside = [client.get("/open"), client.get("/apiary")]

    assert [r.status_code for r in guarded] == [200, 401, 404, 429, 200, 429]
    assert [r.headers.getlist("X-Heady-Served-By") for r in guarded] == [["origin"]] * 6
    assert all("X-Heady-Served-By" not in r.headers for r in outside)
