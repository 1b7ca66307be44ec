"""A stand-in for Hugging Face: a plain WSGI app that answers after a set delay.

``POST /<any path>?delay_ms=50`` reads the body, waits, and answers
:data:`payloads.INFERENCE_ANSWER`. ``POST /stream/<n>`` answers ``n`` bytes of
``application/octet-stream`` in 64 KiB chunks, as fast as the reader takes
them. It is kept free of Flask so that calling it directly costs as little as
an upstream can, and the gateway's share of a proxied call stands out.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any
from urllib.parse import parse_qs

from payloads import INFERENCE_ANSWER

StartResponse = Callable[..., Any]

CHUNK = b"\x5a" * 65536


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    _drain(environ)
    path = environ.get("PATH_INFO", "")
    if environ["REQUEST_METHOD"] == "GET" and path == "/":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    if path.startswith("/stream/") and path.removeprefix("/stream/").isdigit():
        size = int(path.removeprefix("/stream/"))
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/octet-stream"),
                ("Content-Length", str(size)),
            ],
        )
        return _chunks(size)

    query = parse_qs(environ.get("QUERY_STRING", ""))
    delay_ms = float(query.get("delay_ms", ["0"])[0])
    if delay_ms > 0:
        time.sleep(delay_ms / 1000)

    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(INFERENCE_ANSWER))),
            ("X-Request-Id", "bench-upstream"),
        ],
    )
    return [INFERENCE_ANSWER]


def _drain(environ: dict[str, Any]) -> None:
    length = environ.get("CONTENT_LENGTH") or "0"
    if length.isdigit() and int(length) > 0:
        environ["wsgi.input"].read(int(length))


def _chunks(size: int) -> Iterator[bytes]:
    sent = 0
    while sent < size:
        piece = CHUNK[: min(len(CHUNK), size - sent)]
        sent += len(piece)
        yield piece
