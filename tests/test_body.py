"""Request bodies under the prefix: the size cap holds for chunked bodies too."""

from __future__ import annotations

import json
import socket
from types import SimpleNamespace

import pytest
from flask import Flask, request

from .conftest import API_KEY, AppFactory
from .servers import serve


def body_length_app(make_app: AppFactory) -> Flask:
    app = make_app(HEADY_MAX_BODY_BYTES=1000)

    @app.post("/api/length")
    def length() -> dict[str, int]:
        return {"length": len(request.get_data())}

    return app


def send_raw(url: str, body: bytes, headers: str) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST /api/length HTTP/1.1\r\nHost: {host}\r\n"
        f"x-heady-api-key: {API_KEY}\r\n{headers}Connection: close\r\n\r\n"
    )
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head.encode() + body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk

    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def chunked(payload: bytes, size: int = 256) -> bytes:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"


def test_chunked_body_within_the_limit_arrives_whole(make_app: AppFactory) -> None:
    with serve(body_length_app(make_app)) as url:
        status, body = send_raw(
            url, chunked(b"x" * 1000), "Transfer-Encoding: chunked\r\n"
        )

    assert status == 200
    assert json.loads(body) == {"length": 1000}


def test_chunked_body_over_the_limit_is_413_not_cut_short(
    make_app: AppFactory,
) -> None:
    with serve(body_length_app(make_app)) as url:
        status, body = send_raw(
            url, chunked(b"x" * 3000), "Transfer-Encoding: chunked\r\n"
        )

    assert status == 413
    assert json.loads(body)["type"] == "urn:heady-edge:problem:body-too-large"


def test_body_over_the_limit_with_a_length_is_413(make_app: AppFactory) -> None:
    with serve(body_length_app(make_app)) as url:
        status, body = send_raw(url, b"x" * 3000, "Content-Length: 3000\r\n")

    assert status == 413
    assert json.loads(body)["status"] == 413


def test_malformed_chunked_body_is_a_400_problem(make_app: AppFactory) -> None:
    with serve(body_length_app(make_app)) as url:
        status, body = send_raw(
            url, b"zz\r\nabc\r\n0\r\n\r\n", "Transfer-Encoding: chunked\r\n"
        )

    assert status == 400
    assert json.loads(body)["type"] == "urn:heady-edge:problem:incomplete-body"


@pytest.mark.parametrize(
    "chunks", [b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcXX0\r\n\r\n", b"-2\r\nab\r\n"]
)
def test_gunicorns_chunked_body_errors_are_a_400_problem_on_app_routes(
    make_app: AppFactory, chunks: bytes
) -> None:
    body = pytest.importorskip("gunicorn.http.body")
    unreader = pytest.importorskip("gunicorn.http.unreader")
    reader = body.ChunkedReader(SimpleNamespace(), unreader.IterUnreader([chunks]))
    client = body_length_app(make_app).test_client()

    # Gunicorn's own reader of a chunked body, as it hands it to the app.
    answer = client.post(
        "/api/length",
        headers={"x-heady-api-key": API_KEY, "Transfer-Encoding": "chunked"},
        environ_overrides={
            "wsgi.input": body.Body(reader),
            "wsgi.input_terminated": True,
        },
    )

    assert answer.status_code == 400
    assert answer.json is not None
    assert answer.json["type"] == "urn:heady-edge:problem:incomplete-body"
