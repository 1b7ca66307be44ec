"""Methods other than GET and HEAD on asset paths: problem 405, and OPTIONS."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, Response
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.test import TestResponse

from flask_heady_edge import HeadyEdge

from .conftest import API_KEY, AppFactory
from .test_static_serving import write_site

ALLOW = "GET, HEAD, OPTIONS"


@pytest.fixture
def public(tmp_path: Path) -> str:
    return write_site(tmp_path / "site")


def assert_problem_405(response: TestResponse) -> None:
    assert response.status_code == 405
    assert response.headers["Allow"] == ALLOW
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Heady-Served-By"] == "origin"
    assert response.json == {
        "type": "about:blank",
        "title": "Method Not Allowed",
        "status": 405,
        "detail": f"Use {ALLOW}.",
    }


@pytest.mark.parametrize("mount", ["", "/admin"], ids=["root", "admin"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/app.js"),
        ("DELETE", "/"),
        ("POST", "/index.html"),
        ("PATCH", "/docs/"),
        ("POST", "/docs"),
        ("DELETE", "/missing.png"),
        ("PROPFIND", "/app.js"),
    ],
)
def test_other_methods_on_asset_paths_get_a_problem_405(
    make_app: AppFactory, public: str, mount: str, method: str, path: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_URL_PREFIX=mount)

    assert_problem_405(app.test_client().open(mount + path, method=method))


def test_a_method_on_the_bare_mount_point_gets_a_problem_405(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, HEADY_STATIC_URL_PREFIX="/admin")

    assert_problem_405(app.test_client().post("/admin"))


@pytest.mark.parametrize("path", ["/", "/app.js", "/docs", "/missing.png"])
def test_options_on_an_asset_path_names_the_methods(
    make_app: AppFactory, public: str, path: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)

    response = app.test_client().options(path)

    assert response.status_code == 204
    assert response.headers["Allow"] == ALLOW
    assert response.data == b""
    assert "Content-Length" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Heady-Served-By"] == "origin"


def allowed(response: TestResponse) -> set[str]:
    return {method.strip() for method in response.headers["Allow"].split(",")}


def test_routes_of_the_app_keep_their_method_answers(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    app.add_url_rule("/status", "status", lambda: "up", methods=["GET", "DELETE"])
    app.add_url_rule(
        "/uploads/<path:name>", "upload", lambda name: name, methods=["PUT"]
    )
    client = app.test_client()

    refused = client.put("/status")
    options = client.options("/status")

    assert refused.status_code == 405
    assert allowed(refused) == {"DELETE", "GET", "HEAD", "OPTIONS"}
    assert refused.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "X-Heady-Served-By" not in refused.headers
    assert options.status_code == 200
    assert allowed(options) == {"DELETE", "GET", "HEAD", "OPTIONS"}
    assert "X-Heady-Served-By" not in options.headers
    assert client.put("/uploads/a.txt").data == b"a.txt"
    assert client.delete("/status").data == b"up"


def test_an_app_route_taking_the_method_at_an_asset_path_wins(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    app.add_url_rule(
        "/<path:name>", "upload", lambda name: f"stored {name}", methods=["PUT"]
    )
    client = app.test_client()

    assert client.put("/app.js").data == b"stored app.js"
    assert client.get("/app.js").headers["X-Heady-Served-By"] == "origin"

    options = client.options("/app.js")
    assert options.headers["Allow"] == "GET, HEAD, OPTIONS, PUT"

    refused = client.post("/app.js")
    assert refused.headers["Allow"] == "GET, HEAD, OPTIONS, PUT"
    assert refused.headers["Content-Type"] == "application/problem+json"


def test_the_api_prefix_keeps_its_own_method_answers(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    client = app.test_client()
    key = {"x-heady-api-key": API_KEY}

    route = client.put("/api/echo", headers=key)
    unrouted = client.put("/api/secret.json", headers=key)

    assert client.put("/api/echo").status_code == 401
    assert route.status_code == 405
    assert allowed(route) == {"GET", "HEAD", "OPTIONS", "POST"}
    assert unrouted.status_code == 404
    for response in (route, unrouted):
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        assert "X-Content-Type-Options" not in response.headers


def test_host_hooks_run_on_the_405_and_its_error_handler_keeps_app_paths(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    app.add_url_rule("/status", "status", lambda: "up")

    @app.after_request
    def add_policy(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        return response

    @app.errorhandler(MethodNotAllowed)
    def own_page(error: MethodNotAllowed) -> tuple[str, int]:
        return "the app's own 405 page", 405

    client = app.test_client()
    asset = client.put("/app.js")
    app_path = client.put("/status")

    assert_problem_405(asset)
    assert asset.headers["Content-Security-Policy"] == "default-src 'self'"
    assert app_path.data == b"the app's own 405 page"


def test_a_blueprint_registered_by_the_app_refuses_methods_too(
    public: str, tmp_path: Path
) -> None:
    app = Flask("own_registration", root_path=str(tmp_path))
    app.config.update(HEADY_API_KEY=API_KEY, HEADY_PUBLIC_DIR=public)
    edge = HeadyEdge(app, register_blueprints=False)
    app.register_blueprint(edge.static_blueprint, url_prefix="/ui")

    assert_problem_405(app.test_client().delete("/ui/app.js"))
