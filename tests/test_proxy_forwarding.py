from __future__ import annotations

import json

import pytest

from flask_heady_edge import ConfigError, __version__
from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .conftest import API_KEY, AppFactory
from .hf_fixtures import (
    KEY_HEADER,
    MODEL,
    MODEL_URL,
    SERVER_TOKEN,
    HfAppFactory,
)
from .servers import free_port

PROBLEM = "application/problem+json"

# The shared fixtures, bound here so pytest finds them in this module.
fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app


def test_post_goes_to_the_same_path_query_and_body(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    body = b'{"inputs": "I like it"}'

    response = client.post(
        f"{MODEL_URL}?wait_for_model=true&x=%C3%A9",
        data=body,
        headers={**KEY_HEADER, "Content-Type": "application/json"},
    )

    assert response.status_code == 200
    [call] = fake_hf.calls
    assert (call.method, call.path) == ("POST", f"/{MODEL}")
    assert call.query == "wait_for_model=true&x=%C3%A9"
    assert call.body == body


def test_only_allow_listed_headers_reach_the_upstream(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    client.post(
        MODEL_URL,
        data=b'{"inputs": "x"}',
        headers={
            **KEY_HEADER,
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "x-use-cache": "true",
            "x-wait-for-model": "true",
            "Authorization": "Bearer hf_client_token",
            "Cookie": "session=secret",
            "X-HF-Bill-To": "someone-else",
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "h2c",
            "Proxy-Authorization": "Basic Zm9vOmJhcg==",
            "X-Forwarded-For": "203.0.113.7",
            "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "User-Agent": "some-client/1.0",
        },
    )

    [call] = fake_hf.calls
    assert set(call.headers) == {
        "host",
        "content-length",
        "accept-encoding",
        "connection",
        "user-agent",
        "authorization",
        "content-type",
        "accept",
        "x-use-cache",
        "x-wait-for-model",
    }
    assert call.headers["authorization"] == f"Bearer {SERVER_TOKEN}"
    assert call.headers["user-agent"] == f"flask-heady-edge/{__version__}"
    assert call.headers["content-type"] == "application/json; charset=utf-8"
    assert call.headers["x-wait-for-model"] == "true"
    assert call.headers["connection"] == "keep-alive"
    assert API_KEY not in json.dumps(call.headers)


def test_no_token_configured_sends_no_authorization(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app(HEADY_HF_TOKEN=None).test_client()

    client.post(
        MODEL_URL,
        json={"inputs": "x"},
        headers={**KEY_HEADER, "Authorization": "Bearer hf_client_token"},
    )

    assert "authorization" not in fake_hf.calls[0].headers


def test_only_allow_listed_headers_come_back(hf_app: HfAppFactory) -> None:
    client = hf_app().test_client()

    response = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["X-Request-Id"].startswith("fake-")
    assert response.headers["x-compute-type"] == "cpu"
    assert response.headers["x-compute-time"] == "0.001"
    assert "X-Fake-Internal" not in response.headers
    # The fake gzips JSON for clients that accept it: decoded here, re-framed.
    assert "Content-Encoding" not in response.headers
    assert response.headers["Content-Length"] == str(len(response.data))
    assert response.json == [
        [
            {"label": "POSITIVE", "score": 0.962311},
            {"label": "NEGATIVE", "score": 0.037689},
        ]
    ]


def test_server_token_never_comes_back(hf_app: HfAppFactory) -> None:
    client = hf_app().test_client()

    for model in ("acme/sentiment", "heady-fake/broken", "heady-fake/rate-limited"):
        response = client.post(
            f"/api/hf/hf-inference/models/{model}",
            json={"inputs": SERVER_TOKEN},
            headers=KEY_HEADER,
        )
        exposed = response.get_data() + str(response.headers).encode()
        assert SERVER_TOKEN.encode() not in exposed

    health = client.get("/api/edge/health", headers=KEY_HEADER)
    assert SERVER_TOKEN not in health.get_data(as_text=True)


def test_upstream_quota_items_follow_ours(hf_app: HfAppFactory) -> None:
    client = hf_app(HEADY_RATE_LIMIT="50 per minute").test_client()

    response = client.post(
        "/api/hf/hf-inference/models/heady-fake/rate-limited",
        json={"inputs": "x"},
        headers=KEY_HEADER,
    )

    assert response.status_code == 429
    assert response.headers["Retry-After"] == "42"
    assert response.headers["RateLimit-Policy"] == (
        '"default";q=50;w=60, "fixed-window";q=1000;w=3600'
    )
    assert (
        response.headers["RateLimit"] == '"default";r=49;t=60, "fixed-window";r=0;t=42'
    )


@pytest.mark.parametrize("method", ["GET", "PUT", "PATCH", "DELETE", "TRACE"])
def test_other_methods_get_405_with_allow_post(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, method: str
) -> None:
    client = hf_app().test_client()

    response = client.open(MODEL_URL, method=method, headers=KEY_HEADER)

    assert response.status_code == 405
    assert response.headers["Allow"] == "POST"
    assert response.mimetype == PROBLEM
    assert response.json is not None and response.json["status"] == 405
    assert fake_hf.calls == []


def test_head_gets_405_without_a_body(hf_app: HfAppFactory) -> None:
    response = hf_app().test_client().head(MODEL_URL, headers=KEY_HEADER)

    assert (response.status_code, response.headers["Allow"]) == (405, "POST")
    assert response.data == b""


def test_options_preflight_needs_no_key(hf_app: HfAppFactory) -> None:
    response = hf_app().test_client().options(
        MODEL_URL,
        headers={
            "Origin": "https://ide.example",
            "Access-Control-Request-Method": "POST",
        },
    )

    assert response.status_code == 200
    assert response.headers["Allow"] == "OPTIONS, POST"


@pytest.mark.parametrize("url", ["/api/hf/", "/api/hf"])
def test_empty_model_path_is_404(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, url: str
) -> None:
    response = hf_app().test_client().post(url, json={}, headers=KEY_HEADER)

    assert response.status_code == 404
    assert response.mimetype == PROBLEM
    assert fake_hf.calls == []


def test_proxy_needs_the_api_key(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    response = hf_app().test_client().post(MODEL_URL, json={"inputs": "x"})

    assert response.status_code == 401
    assert fake_hf.calls == []


def test_redirects_are_relayed_not_followed(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    response = client.post(
        "/api/hf/hf-inference/models/heady-fake/moved", json={}, headers=KEY_HEADER
    )

    assert response.status_code == 302
    assert "Location" not in response.headers
    assert len(fake_hf.calls) == 1


def test_host_error_handlers_cannot_replace_problem_bodies(
    hf_app: HfAppFactory,
) -> None:
    app = hf_app(HEADY_HF_BASE_URL=f"http://127.0.0.1:{free_port()}")
    for code in (400, 404, 405, 413, 502):
        app.register_error_handler(code, lambda error: ("<html>host page</html>", 500))
    client = app.test_client()

    answers = [
        client.post("/api/hf/a%2Fb", headers=KEY_HEADER),
        client.post("/api/hf/", headers=KEY_HEADER),
        client.get(MODEL_URL, headers=KEY_HEADER),
        client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER),
    ]

    assert [answer.status_code for answer in answers] == [400, 404, 405, 502]
    assert {answer.mimetype for answer in answers} == {PROBLEM}


def test_custom_api_prefix_moves_the_proxy(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app(HEADY_API_PREFIX="/v2/gateway").test_client()

    moved = client.post(f"/v2/gateway/hf/{MODEL}", json={"x": 1}, headers=KEY_HEADER)
    old = client.post(MODEL_URL, json={"x": 1}, headers=KEY_HEADER)

    assert (moved.status_code, old.status_code) == (200, 404)
    assert [call.path for call in fake_hf.calls] == [f"/{MODEL}"]


def test_app_can_register_the_blueprint_itself(
    make_app: AppFactory, fake_hf: FakeHuggingFace
) -> None:
    bare = make_app(register_blueprints=False, HEADY_HF_BASE_URL=fake_hf.url)
    app = make_app(register_blueprints=False, HEADY_HF_BASE_URL=fake_hf.url)
    app.register_blueprint(app.extensions["heady_edge"].hf_blueprint)

    assert bare.test_client().post(MODEL_URL, headers=KEY_HEADER).status_code == 404
    response = app.test_client().post(MODEL_URL, json={}, headers=KEY_HEADER)
    assert response.status_code == 200


def test_url_prefix_for_the_blueprint_is_refused(make_app: AppFactory) -> None:
    app = make_app(register_blueprints=False)

    with pytest.raises(ConfigError, match="HEADY_API_PREFIX"):
        app.register_blueprint(
            app.extensions["heady_edge"].hf_blueprint, url_prefix="/open"
        )


def test_host_cache_settings_never_reach_the_inference_cache(
    make_app: AppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = make_app(
        HEADY_HF_BASE_URL=fake_hf.url,
        CACHE_TYPE="NullCache",
        CACHE_NO_NULL_WARNING=True,
        CACHE_DEFAULT_TIMEOUT=1,
        CACHE_KEY_PREFIX="host_",
        CACHE_THRESHOLD=1,
        CACHE_OPTIONS={"unknown": True},
    ).test_client()

    for _ in range(3):
        response = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert response.headers["X-Heady-Cache"] == "HIT"
    assert response.headers["Cache-Status"] == "heady-origin; hit; ttl=86400"
    assert len(fake_hf.calls) == 1


def test_health_reports_cache_and_upstream(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    parts = client.get("/api/edge/health", headers=KEY_HEADER).json["parts"]

    assert parts["cache"] == {"state": "ok", "type": "SimpleCache"}
    assert parts["upstream"] == {"state": "ok", "base_url": fake_hf.url, "timeout": 60}


def test_health_reports_an_unreachable_upstream_without_its_credentials(
    hf_app: HfAppFactory,
) -> None:
    port = free_port()
    client = hf_app(HEADY_HF_BASE_URL=f"http://user:pa55word@127.0.0.1:{port}/v1")
    client = client.test_client()
    client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    report = client.get("/api/edge/health", headers=KEY_HEADER).json

    assert report["status"] == "degraded"
    assert report["parts"]["upstream"]["state"] == "down"
    assert report["parts"]["upstream"]["base_url"] == f"http://127.0.0.1:{port}/v1"
    assert "pa55word" not in json.dumps(report)


def test_unknown_cache_type_fails_at_startup_naming_the_key(
    make_app: AppFactory,
) -> None:
    with pytest.raises(ConfigError, match="HEADY_CACHE_TYPE.*'NoSuchCache'"):
        make_app(HEADY_CACHE_TYPE="NoSuchCache")


def test_credentials_in_the_base_url_never_replace_the_server_token(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    base = fake_hf.url.replace("http://", "http://user:pa55word@")
    client = hf_app(HEADY_HF_BASE_URL=base).test_client()

    response = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert response.status_code == 200
    assert fake_hf.calls[0].headers["authorization"] == f"Bearer {SERVER_TOKEN}"
