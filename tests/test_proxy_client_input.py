from __future__ import annotations

import io
import json
import socket
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from flask_heady_edge.errors import IncompleteBody
from flask_heady_edge.fake_hf import FakeHuggingFace
from flask_heady_edge.upstream_path import upstream_query

from . import hf_fixtures
from .hf_fixtures import KEY_HEADER, MODEL, MODEL_URL, HfAppFactory
from .servers import serve

fake_hf = hf_fixtures.fake_hf
hf_app = hf_fixtures.hf_app

INCOMPLETE = {
    "type": "urn:heady-edge:problem:incomplete-body",
    "title": "Bad Request",
    "status": 400,
    "detail": "The request body could not be read to its end.",
}


def send_raw(url: str, request: bytes) -> tuple[bytes, bytes]:
    """Send ``request`` as it is; the status line and body of the answer."""
    parts = urlsplit(url)
    with socket.create_connection(
        (parts.hostname, parts.port), timeout=10
    ) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        answer = connection.makefile("rb").read()

    head, _, body = answer.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


def head_of(target: bytes, *fields: bytes) -> bytes:
    lines = [
        b"POST " + target + b" HTTP/1.1",
        b"Host: origin",
        b"x-heady-api-key: " + KEY_HEADER["x-heady-api-key"].encode(),
        b"Connection: close",
        *fields,
    ]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_raw_query_bytes_reach_the_upstream_as_sent_percent_encoded(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    target = MODEL_URL.encode() + b"?a=\xff\xfe&b=\xc3\xa9&c=%2F%3D%FF&d=x+y"

    with serve(hf_app()) as url:
        status, _body = send_raw(
            url, head_of(target, b"Content-Length: 2") + b"{}"
        )

    assert status == b"HTTP/1.1 200 OK"
    [call] = fake_hf.calls
    assert call.query == "a=%FF%FE&b=%C3%A9&c=%2F%3D%FF&d=x+y"


def test_stray_percent_is_encoded_and_escapes_beside_it_pass_unchanged(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    response = client.post(
        f"{MODEL_URL}?d=100%&e=%2F%C3%A9&f=%zz&g=%4", json={}, headers=KEY_HEADER
    )

    assert response.status_code == 200
    assert fake_hf.calls[0].query == "d=100%25&e=%2F%C3%A9&f=%25zz&g=%254"


@pytest.mark.parametrize(
    ("environ", "query"),
    [
        # PEP 3333: the raw bytes, decoded as latin-1.
        ({"QUERY_STRING": "a=\xff\xfe"}, "a=%FF%FE"),
        ({"QUERY_STRING": "a=\xc3\xa9"}, "a=%C3%A9"),
        # Werkzeug's development server encodes that string again as UTF-8.
        ({"QUERY_STRING": "a=\xc3\xbf\xc3\xbe", "werkzeug.socket": None}, "a=%FF%FE"),
        ({"QUERY_STRING": "a=%FF", "werkzeug.socket": None}, "a=%FF"),
        ({}, ""),
    ],
)
def test_upstream_query_is_the_bytes_on_the_wire(
    environ: dict[str, object], query: str
) -> None:
    assert upstream_query(environ) == query


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,
        b"[" * 100_000 + b"]" * 100_000,
        # Parses in Python, but deeper than the upstream accepts.
        b"[" * 129 + b"]" * 129,
        b'{"inputs": ' + b"[" * 990 + b"]" * 990 + b"}",
    ],
)
def test_json_nested_too_deeply_gets_the_upstreams_400_not_a_502(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, body: bytes
) -> None:
    client = hf_app().test_client()
    headers = {**KEY_HEADER, "Content-Type": "application/json"}

    deep = client.post(MODEL_URL, data=body, headers=headers)
    after = client.post(MODEL_URL, json={"inputs": "x"}, headers=headers)

    assert deep.status_code == 400
    assert deep.json == {"error": "Malformed JSON body: nested too deeply"}
    assert deep.headers["Cache-Status"] == "heady-origin; fwd=uri-miss; fwd-status=400"
    assert after.status_code == 200
    assert len(fake_hf.calls) == 2


def test_json_nested_as_deeply_as_the_upstream_accepts_is_answered(
    hf_app: HfAppFactory,
) -> None:
    client = hf_app().test_client()

    response = client.post(
        MODEL_URL,
        data=b"[" * 128 + b"]" * 128,
        headers={**KEY_HEADER, "Content-Type": "application/json"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "error"),
    [
        (MODEL, b'{"inputs": ', "Malformed JSON body"),
        (
            "v1/chat/completions",
            b'{"model": "a/b", "messages": {"role": "user"}}',
            "messages must be a list",
        ),
        (
            "hf-inference/models/heady-fake/blob",
            b'{"parameters": {"size": "many"}}',
            "parameters.size is not valid",
        ),
    ],
)
def test_upstream_refuses_input_it_cannot_read_with_a_json_400(
    hf_app: HfAppFactory, path: str, body: bytes, error: str
) -> None:
    client = hf_app().test_client()

    response = client.post(
        f"/api/hf/{path}",
        data=body,
        headers={**KEY_HEADER, "Content-Type": "application/json"},
    )

    assert response.status_code == 400
    assert response.json == {"error": error}


def test_malformed_chunked_body_is_a_400_problem_and_never_sent(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    request = head_of(MODEL_URL.encode(), b"Transfer-Encoding: chunked")

    with serve(hf_app()) as url:
        status, body = send_raw(url, request + b"zz\r\n{}\r\n0\r\n\r\n")

    assert status == b"HTTP/1.1 400 BAD REQUEST"
    assert json.loads(body) == INCOMPLETE
    assert fake_hf.calls == []


class BrokenStream(io.RawIOBase):
    """An input stream that fails the way a WSGI server's does."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        raise self.error


def test_body_the_server_fails_to_read_is_a_400_problem(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    # With a Content-Length, nothing wraps the server's stream before ours.
    response = client.post(
        MODEL_URL,
        headers=KEY_HEADER,
        environ_overrides={
            "wsgi.input": BrokenStream(ConnectionResetError("peer reset")),
            "CONTENT_LENGTH": "10",
        },
    )

    assert response.status_code == 400
    assert response.json == INCOMPLETE
    assert fake_hf.calls == []


def test_problem_raised_by_the_input_stream_is_answered_as_it_is(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace
) -> None:
    client = hf_app().test_client()

    response = client.post(
        MODEL_URL,
        headers=KEY_HEADER,
        environ_overrides={
            "wsgi.input": BrokenStream(IncompleteBody("Chunk 3 never ended.")),
            "CONTENT_LENGTH": "10",
        },
    )

    assert response.status_code == 400
    assert response.json is not None
    assert response.json["detail"] == "Chunk 3 never ended."
    assert fake_hf.calls == []


@pytest.mark.parametrize(
    "chunks", [b"zz\r\n{}\r\n0\r\n\r\n", b"2\r\n{}XX0\r\n\r\n", b"-2\r\n{}\r\n"]
)
def test_gunicorns_chunked_body_errors_are_a_400_problem(
    hf_app: HfAppFactory, fake_hf: FakeHuggingFace, chunks: bytes
) -> None:
    body = pytest.importorskip("gunicorn.http.body")
    unreader = pytest.importorskip("gunicorn.http.unreader")
    reader = body.ChunkedReader(SimpleNamespace(), unreader.IterUnreader([chunks]))
    client = hf_app().test_client()

    # Gunicorn's own reader of a chunked body, as it hands it to the app.
    response = client.post(
        MODEL_URL,
        headers={**KEY_HEADER, "Transfer-Encoding": "chunked"},
        environ_overrides={
            "wsgi.input": body.Body(reader),
            "wsgi.input_terminated": True,
        },
    )

    assert response.status_code == 400
    assert response.json == INCOMPLETE
    assert fake_hf.calls == []
