from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests

from flask_heady_edge.fake_hf import FakeHuggingFace

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, MODEL_URL, HfAppFactory
from .servers import free_port, serve

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

PROBLEM = "application/problem+json"
MEGABYTE = 1024 * 1024


def test_unreachable_upstream_is_a_502_problem(hf_app: HfAppFactory) -> None:
    port = free_port()
    client = hf_app(
        HEADY_HF_BASE_URL=f"http://hf:s3cret@127.0.0.1:{port}"
    ).test_client()

    response = client.post(MODEL_URL, json={"inputs": "x"}, headers=KEY_HEADER)

    assert response.status_code == 502
    assert response.mimetype == PROBLEM
    assert response.json == {
        "type": "urn:heady-edge:problem:upstream-unreachable",
        "title": "Bad Gateway",
        "status": 502,
        "detail": "The inference server cannot be reached.",
    }
    assert response.headers["X-Heady-Cache"] == "MISS"
    assert response.headers["Cache-Status"] == "heady-origin; fwd=uri-miss"
    assert response.headers["Cache-Control"] == "no-store"
    assert str(port) not in response.get_data(as_text=True)


def test_upstream_that_never_answers_is_a_504_after_the_timeout(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app(HEADY_HF_TIMEOUT="1").test_client()

    started = time.monotonic()
    response = client.post(
        "/api/hf/hf-inference/models/heady-fake/silent",
        json={"inputs": "x"},
        headers=KEY_HEADER,
    )
    waited = time.monotonic() - started

    assert response.status_code == 504
    assert response.json is not None
    assert response.json["type"] == "urn:heady-edge:problem:upstream-timeout"
    assert 1 <= waited < 3
    assert len(fake_hf.calls) == 1


def test_answer_cut_short_is_a_502_and_not_stored(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()
    url = "/api/hf/hf-inference/models/heady-fake/cut-short"

    answers = [client.post(url, json={"inputs": "x"}, headers=KEY_HEADER) for _ in "ab"]

    assert [answer.status_code for answer in answers] == [502, 502]
    assert answers[0].json is not None
    assert answers[0].json["type"] == "urn:heady-edge:problem:upstream-cut-short"
    assert len(fake_hf.calls) == 2


def test_body_over_the_limit_with_content_length_is_413_and_never_sent(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    app = hf_app(HEADY_MAX_BODY_BYTES=str(10 * MEGABYTE))

    with serve(app) as url:
        response = requests.post(
            f"{url}{MODEL_URL}",
            data=b"x" * (20 * MEGABYTE),
            headers={**KEY_HEADER, "Content-Type": "application/octet-stream"},
            timeout=30,
        )

    assert response.status_code == 413
    assert response.headers["Content-Type"] == PROBLEM
    assert fake_hf.calls == []


def test_chunked_body_over_the_limit_is_413_and_never_sent(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    app = hf_app(HEADY_MAX_BODY_BYTES=str(10 * MEGABYTE))

    def twenty_megabytes() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * MEGABYTE

    with serve(app) as url:
        response = requests.post(
            f"{url}{MODEL_URL}",
            data=twenty_megabytes(),
            headers={**KEY_HEADER, "Content-Type": "application/octet-stream"},
            timeout=30,
        )

    assert response.status_code == 413
    assert response.json()["type"] == "urn:heady-edge:problem:body-too-large"
    assert fake_hf.calls == []


def test_chunked_body_of_exactly_the_limit_is_forwarded(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    app = hf_app(HEADY_MAX_BODY_BYTES="1000")

    def chunks(size: int) -> Iterator[bytes]:
        yield b"a" * (size - 1)
        yield b"b"

    with serve(app) as url:
        exact = requests.post(
            f"{url}{MODEL_URL}", data=chunks(1000), headers=KEY_HEADER, timeout=10
        )
        over = requests.post(
            f"{url}{MODEL_URL}", data=chunks(1001), headers=KEY_HEADER, timeout=10
        )

    assert (exact.status_code, over.status_code) == (200, 413)
    assert [call.body for call in fake_hf.calls] == [b"a" * 999 + b"b"]
    assert fake_hf.calls[0].headers["content-length"] == "1000"


def test_body_shorter_than_its_content_length_is_a_400_problem(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    with (
        serve(hf_app()) as url,
        socket.create_connection(
            (urlsplit(url).hostname, urlsplit(url).port), timeout=10
        ) as connection,
    ):
        connection.sendall(
            f"POST {MODEL_URL} HTTP/1.1\r\nHost: x\r\n"
            f"x-heady-api-key: {KEY_HEADER['x-heady-api-key']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n"
            '{"inputs": '.encode()
        )
        # The client stops sending: the body ends 89 bytes early.
        connection.shutdown(socket.SHUT_WR)
        answer = connection.makefile("rb").read()

    assert answer.startswith(b"HTTP/1.1 400 ")
    assert b"urn:heady-edge:problem:incomplete-body" in answer
    assert fake_hf.calls == []
