"""The API-key gate in front of every request under the prefix (PROTOCOL.md 1)."""

from __future__ import annotations

import json
import logging
import random
import socket
from urllib.parse import urlsplit

import pytest
from werkzeug.test import TestResponse

from flask_heady_edge.auth import ApiKeys

from .conftest import API_KEY, AppFactory
from .servers import serve

CHALLENGE = 'ApiKey header="x-heady-api-key"'

UNAUTHORIZED_BODY = {
    "type": "urn:heady-edge:problem:invalid-api-key",
    "title": "Unauthorized",
    "status": 401,
    "detail": "Send a valid API key in the x-heady-api-key header.",
}

ROTATED_KEY = "second-key-9876543210"

NON_ASCII_KEY = "clé-ключ-鍵"


def as_wsgi_header(text: str) -> str:
    """The header value a WSGI server hands over for these UTF-8 bytes (PEP 3333)."""
    return text.encode("utf-8").decode("latin-1")


def assert_unauthorized(response: TestResponse, sent_key: str | None = None) -> None:
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == CHALLENGE
    assert response.headers["Content-Type"] == "application/problem+json"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json() == UNAUTHORIZED_BODY
    assert API_KEY.encode() not in response.data
    if sent_key:
        assert sent_key.encode("utf-8") not in response.data


def test_request_without_key_gets_401_problem(make_app: AppFactory) -> None:
    response = make_app().test_client().get("/api/echo")

    assert_unauthorized(response)


@pytest.mark.parametrize(
    "sent_key",
    [
        "",
        "wrong-key",
        API_KEY[:-1] + "X",
        API_KEY[:-1],
        API_KEY + "0",
        API_KEY.upper(),
        "x" * 10 * 1024,
        API_KEY * 600,
    ],
    ids=[
        "empty",
        "wrong",
        "last-character-differs",
        "one-character-short",
        "one-character-long",
        "other-case",
        "10-kb",
        "key-repeated-10-kb",
    ],
)
def test_wrong_key_gets_401_problem(make_app: AppFactory, sent_key: str) -> None:
    client = make_app().test_client()

    response = client.get("/api/echo", headers={"x-heady-api-key": sent_key})

    assert_unauthorized(response, sent_key)


def test_right_key_is_served(make_app: AppFactory) -> None:
    client = make_app().test_client()

    response = client.get("/api/echo", headers={"x-heady-api-key": API_KEY})

    assert response.status_code == 200
    assert response.get_json() == {"path": "/api/echo"}


def test_header_name_is_case_insensitive(make_app: AppFactory) -> None:
    client = make_app().test_client()

    response = client.get("/api/echo", headers={"X-Heady-Api-Key": API_KEY})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "configured",
    [[API_KEY, ROTATED_KEY], f" {API_KEY} , {ROTATED_KEY} ,", (API_KEY, ROTATED_KEY)],
    ids=["list", "comma-separated", "tuple"],
)
def test_every_rotated_key_is_accepted(
    make_app: AppFactory, configured: object
) -> None:
    client = make_app(HEADY_API_KEY=configured).test_client()

    statuses = [
        client.get("/api/echo", headers={"x-heady-api-key": key}).status_code
        for key in (API_KEY, ROTATED_KEY, "third-key", API_KEY + "," + ROTATED_KEY)
    ]

    assert statuses == [200, 200, 401, 401]


def test_ten_kilobyte_configured_key_is_accepted(make_app: AppFactory) -> None:
    long_key = "k" * 10 * 1024
    client = make_app(HEADY_API_KEY=long_key).test_client()

    good = client.get("/api/echo", headers={"x-heady-api-key": long_key})
    bad = client.get("/api/echo", headers={"x-heady-api-key": long_key[:-1] + "K"})

    assert (good.status_code, bad.status_code) == (200, 401)


def test_non_ascii_key_is_compared_as_utf8_bytes(make_app: AppFactory) -> None:
    client = make_app(HEADY_API_KEY=NON_ASCII_KEY).test_client()

    as_bytes = client.get(
        "/api/echo", headers={"x-heady-api-key": as_wsgi_header(NON_ASCII_KEY)}
    )
    truncated = client.get(
        "/api/echo", headers={"x-heady-api-key": as_wsgi_header(NON_ASCII_KEY)[:-1]}
    )
    # A server that hands over characters outside latin-1 cannot have read
    # them off the wire as bytes; such a value matches nothing.
    as_text = client.get("/api/echo", headers={"x-heady-api-key": NON_ASCII_KEY})

    assert as_bytes.status_code == 200
    assert_unauthorized(truncated)
    assert_unauthorized(as_text)


def raw_get(url: str, path: str, key: bytes) -> tuple[int, bytes]:
    """Send ``key`` as the raw bytes of the header over a socket; status and body."""
    address = urlsplit(url)
    request = (
        b"GET " + path.encode() + b" HTTP/1.1\r\n"
        b"Host: " + address.netloc.encode() + b"\r\n"
        b"x-heady-api-key: " + key + b"\r\n"
        b"Connection: close\r\n\r\n"
    )
    with socket.create_connection((address.hostname, address.port), timeout=10) as s:
        s.sendall(request)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)

    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


def test_raw_non_ascii_bytes_over_a_socket_get_200_or_401(
    make_app: AppFactory,
) -> None:
    app = make_app(HEADY_API_KEY=[API_KEY, NON_ASCII_KEY])
    noise = random.Random(20240601)
    high_bytes = [
        bytes(noise.randrange(0x80, 0x100) for _ in range(length))
        for length in (1, 16, 64, 1024)
    ]

    with serve(app) as url:
        configured = raw_get(url, "/api/echo", NON_ASCII_KEY.encode("utf-8"))
        ascii_key = raw_get(url, "/api/echo", API_KEY.encode())
        truncated = raw_get(url, "/api/echo", NON_ASCII_KEY.encode("utf-8")[:-1])
        latin1 = raw_get(url, "/api/echo", NON_ASCII_KEY.encode("latin-1", "replace"))
        noisy = [raw_get(url, "/api/echo", value) for value in high_bytes]

    assert configured == (200, b'{"path":"/api/echo"}\n')
    assert ascii_key[0] == 200
    assert truncated[0] == 401
    assert latin1[0] == 401
    assert [status for status, _ in noisy] == [401, 401, 401, 401]
    for _, body in [truncated, latin1, *noisy]:
        assert json.loads(body) == UNAUTHORIZED_BODY


def test_options_preflight_passes_without_key(make_app: AppFactory) -> None:
    client = make_app().test_client()

    response = client.options(
        "/api/echo",
        headers={
            "Origin": "https://ide.example",
            "Access-Control-Request-Method": "POST",
        },
    )

    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers
    assert sorted(response.headers["Allow"].split(", ")) == [
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
    ]


def test_prefix_is_matched_on_a_segment_boundary(make_app: AppFactory) -> None:
    app = make_app()

    @app.get("/apiary")
    def apiary() -> str:
        return "bees"

    @app.get("/api")
    def api_root() -> str:
        return "root"

    client = app.test_client()

    assert client.get("/apiary").status_code == 200
    assert client.get("/apiary/hive").status_code == 404
    assert_unauthorized(client.get("/api"))
    assert_unauthorized(client.get("/api/"))
    assert_unauthorized(client.get("/api/x"))
    assert_unauthorized(client.get("/api/x/y/z"))
    assert client.get("/api", headers={"x-heady-api-key": API_KEY}).data == b"root"
    assert client.get("/open").status_code == 200


@pytest.mark.parametrize("prefix", ["/v1/gateway", "v1/gateway", "/v1/gateway/"])
def test_custom_prefix_is_guarded_instead(make_app: AppFactory, prefix: str) -> None:
    app = make_app(HEADY_API_PREFIX=prefix)

    @app.get("/v1/gateway/thing")
    def thing() -> str:
        return "thing"

    client = app.test_client()

    assert client.get("/api/echo").status_code == 200
    assert_unauthorized(client.get("/v1/gateway"))
    assert_unauthorized(client.get("/v1/gateway/thing"))
    assert client.get("/v1/gatewayed").status_code == 404
    assert (
        client.get("/v1/gateway/thing", headers={"x-heady-api-key": API_KEY}).data
        == b"thing"
    )
    assert (
        client.get(
            "/v1/gateway/edge/health", headers={"x-heady-api-key": API_KEY}
        ).status_code
        == 200
    )


def test_host_error_handler_cannot_replace_the_problem_body(
    make_app: AppFactory,
) -> None:
    app = make_app()

    @app.errorhandler(401)
    def html_401(error: Exception) -> tuple[str, int]:
        return "<h1>nope</h1>", 401

    response = app.test_client().get("/api/echo")

    assert_unauthorized(response)


def test_host_before_request_cannot_answer_ahead_of_the_gate(
    make_app: AppFactory,
) -> None:
    from flask import Flask

    from flask_heady_edge import HeadyEdge

    app = Flask("host_with_hook", root_path=make_app().root_path)
    app.config["HEADY_API_KEY"] = API_KEY

    @app.before_request
    def answer_everything() -> str:
        return "answered by the host"

    HeadyEdge(app)
    client = app.test_client()

    assert_unauthorized(client.get("/api/anything"))
    assert (
        client.get("/api/anything", headers={"x-heady-api-key": API_KEY}).data
        == b"answered by the host"
    )
    assert client.get("/elsewhere").data == b"answered by the host"


def test_key_never_appears_in_any_log_record(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    app = make_app(
        HEADY_API_KEY=[API_KEY, NON_ASCII_KEY], HEADY_RATE_LIMIT="7 per minute"
    )
    client = app.test_client()
    caplog.set_level(logging.DEBUG)
    wrong_keys = [API_KEY[:-1] + "X", "guess-" + API_KEY, ""]

    with serve(app) as url:
        statuses = [raw_get(url, "/api/echo", API_KEY.encode())[0]]
        statuses.append(raw_get(url, "/api/echo", API_KEY.encode()[:-1])[0])

    statuses += [
        client.get("/api/echo", headers={"x-heady-api-key": key}).status_code
        for key in [API_KEY, *wrong_keys, as_wsgi_header(NON_ASCII_KEY)]
    ]
    statuses.append(
        client.get("/api/edge/health", headers={"x-heady-api-key": API_KEY}).status_code
    )

    assert statuses == [200, 401, 200, 401, 401, 401, 200, 429]
    logged = "\n".join(
        f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        for record in caplog.records
    )
    for secret in [API_KEY, API_KEY[:-1], NON_ASCII_KEY, as_wsgi_header(NON_ASCII_KEY)]:
        assert secret not in logged


def test_api_keys_match_only_whole_configured_keys() -> None:
    keys = ApiKeys([API_KEY, NON_ASCII_KEY])

    assert keys.verify(API_KEY) is True
    assert keys.verify(as_wsgi_header(NON_ASCII_KEY)) is True
    assert keys.verify(None) is False
    assert keys.verify("") is False
    assert keys.verify(API_KEY[:-1]) is False
    assert keys.verify(NON_ASCII_KEY) is False
    assert keys.verify("\udcff") is False


def test_options_without_preflight_headers_needs_the_key(make_app: AppFactory) -> None:
    app = make_app()

    @app.route("/api/items", methods=["GET", "OPTIONS"])
    def items() -> dict[str, str]:
        return {"secret": "internal"}

    client = app.test_client()

    bare = client.options("/api/items")
    origin_only = client.options("/api/items", headers={"Origin": "https://x.example"})
    keyed = client.options("/api/items", headers={"x-heady-api-key": API_KEY})

    assert_unauthorized(bare)
    assert_unauthorized(origin_only)
    assert keyed.status_code == 200
    assert keyed.get_json() == {"secret": "internal"}
    assert keyed.headers["X-RateLimit-Remaining"] == "117"


def test_spaces_and_tabs_around_the_key_are_not_part_of_it(
    make_app: AppFactory,
) -> None:
    client = make_app().test_client()

    for padded in (f" {API_KEY}", f"{API_KEY}\t", f"\t {API_KEY}  "):
        answer = client.get("/api/echo", headers={"x-heady-api-key": padded})
        assert answer.status_code == 200

    inner = API_KEY[:4] + " " + API_KEY[4:]
    assert_unauthorized(client.get("/api/echo", headers={"x-heady-api-key": inner}))
