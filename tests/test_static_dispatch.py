"""Assets answered in front of Flask only when Flask would add nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, Response, request, request_started
from werkzeug.test import EnvironBuilder, TestResponse

from flask_heady_edge.dispatch import AssetDispatcher

from .conftest import AppFactory
from .test_static_serving import NAVIGATION, PLAIN_JS, write_site


class FlaskCalls:
    """Counts the requests that reach Flask behind the dispatcher."""

    def __init__(self, app: Flask) -> None:
        dispatcher = app.wsgi_app
        assert isinstance(dispatcher, AssetDispatcher)
        self.inner = dispatcher.wsgi_app
        self.count = 0
        dispatcher.wsgi_app = self

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        self.count += 1
        return self.inner(environ, start_response)


@pytest.fixture
def public(tmp_path: Path) -> str:
    return write_site(tmp_path / "site")


def test_assets_are_answered_before_flask_after_its_first_request(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    calls = FlaskCalls(app)
    client = app.test_client()

    # Flask's first request closes the app's setup; until then it sees all.
    assert client.get("/app.js").data == PLAIN_JS
    assert calls.count == 1

    for path in ["/", "/app.js", "/docs", "/missing.png", "/settings"]:
        client.get(path, headers=NAVIGATION)
        client.head(path)
    assert calls.count == 1

    assert client.get("/open").data == b"open"
    assert client.post("/app.js").status_code == 405
    assert client.options("/app.js").status_code == 204
    assert client.get("/api/echo").status_code == 401
    assert client.get("/healthz").status_code == 200
    assert calls.count == 6


def test_answers_in_front_of_flask_leave_the_app_as_it_was(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    calls = FlaskCalls(app)
    client = app.test_client()
    assert client.get("/open").data == b"open"
    before = dict(vars(app))

    for path in ["/app.js", "/", "/missing.png"]:
        client.get(path)

    assert calls.count == 1
    assert vars(app) == before


def test_decisions_are_dropped_when_flask_reopens_the_setup(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    client = app.test_client()
    for _ in range(2):
        assert client.get("/app.js").data == PLAIN_JS

    # What app.run() does when its development server stops.
    app._got_first_request = False
    app.add_url_rule("/app.js", "dynamic_script", lambda: "generated")

    assert client.get("/app.js").data == b"generated"
    assert client.get("/app.js").data == b"generated"


def test_each_answer_gets_a_fresh_header_list(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    seen: list[list[tuple[str, str]]] = []

    def appending_start_response(status: str, headers: list[Any]) -> None:
        seen.append(list(headers))
        headers.append(("X-Added-By-Middleware", "1"))

    for _ in range(2):
        environ = EnvironBuilder(path="/app.3f9a2c1b.js").get_environ()
        app.wsgi_app(environ, appending_start_response)

    assert seen[0] == seen[1]
    assert ("X-Added-By-Middleware", "1") not in seen[1]


def comparable(response: TestResponse) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Date")
    return response.status_code, headers, response.get_data()


REQUESTS: list[tuple[str, str, dict[str, str]]] = [
    ("GET", "/", {}),
    ("GET", "/app.js", {"Accept-Encoding": "gzip, br"}),
    ("GET", "/app.js", {"Range": "bytes=3-8"}),
    ("GET", "/app.js", {"Range": "bytes=99999-"}),
    ("GET", "/app.js", {"If-Match": '"stale"'}),
    ("HEAD", "/app.3f9a2c1b.js", {}),
    ("GET", "/docs", {}),
    ("GET", "/docs/", {}),
    ("GET", "/settings/users", NAVIGATION),
    ("GET", "/missing.png", {}),
    ("GET", "/../secret", {}),
    ("GET", "/app.js.br", {}),
]


@pytest.mark.parametrize(("method", "path", "headers"), REQUESTS)
def test_both_ways_give_the_same_answer(
    make_app: AppFactory,
    public: str,
    method: str,
    path: str,
    headers: dict[str, str],
) -> None:
    direct = make_app(HEADY_PUBLIC_DIR=public)
    through_flask = make_app(HEADY_PUBLIC_DIR=public)
    through_flask.before_request(lambda: None)
    direct_calls, calls = FlaskCalls(direct), FlaskCalls(through_flask)
    for app in (direct, through_flask):
        assert app.test_client().get("/open").data == b"open"

    first = direct.test_client().open(path, method=method, headers=headers)
    second = through_flask.test_client().open(path, method=method, headers=headers)

    assert (direct_calls.count, calls.count) == (1, 2)
    assert comparable(first) == comparable(second)


def test_before_request_hooks_still_guard_assets(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)

    @app.before_request
    def only_with_a_session() -> Response | None:
        if "session" not in request.cookies:
            return Response("log in first", status=403)
        return None

    client = app.test_client()
    assert client.get("/app.js").status_code == 403
    client.set_cookie("session", "1")
    assert client.get("/app.js").data == PLAIN_JS


def test_after_request_hooks_still_see_assets(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)

    @app.after_request
    def add_policy(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        return response

    response = app.test_client().get("/")

    assert response.headers["Content-Security-Policy"] == "default-src 'self'"


def test_a_wrapped_view_still_runs(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    original = app.view_functions["heady_edge_static.file"]

    def audited(filename: str) -> Any:
        response = original(filename)
        response.headers["X-Audited"] = filename
        return response

    app.view_functions["heady_edge_static.file"] = audited

    assert app.test_client().get("/app.js").headers["X-Audited"] == "app.js"


def test_request_signal_receivers_still_hear_assets(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    heard: list[str] = []

    def receiver(sender: Flask, **extra: Any) -> None:
        heard.append(request.path)

    with request_started.connected_to(receiver, app):
        app.test_client().get("/app.js")

    assert heard == ["/app.js"]


def test_app_setup_closes_after_the_first_asset_as_after_any_request(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)
    assert app.test_client().get("/app.js").data == PLAIN_JS

    with pytest.raises(AssertionError, match="can no longer be called"):
        app.add_url_rule("/app.js", "dynamic_script", lambda: "generated")


def test_untrusted_host_is_refused_by_flask(make_app: AppFactory, public: str) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public, TRUSTED_HOSTS=["assets.example.test"])
    client = app.test_client()

    trusted = client.get("/app.js", headers={"Host": "assets.example.test"})
    untrusted = client.get("/app.js", headers={"Host": "evil.example.test"})

    assert trusted.data == PLAIN_JS
    assert untrusted.status_code == 400


def test_kept_request_context_goes_through_flask(
    make_app: AppFactory, public: str
) -> None:
    app = make_app(HEADY_PUBLIC_DIR=public)

    with app.test_client() as client:
        client.get("/app.js")
        assert request.path == "/app.js"
