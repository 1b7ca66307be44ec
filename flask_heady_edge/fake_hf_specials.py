"""The fake inference server's model ids with a behaviour of their own."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from . import fake_hf_outputs as outputs
from .fake_hf_outputs import BadInput, parameter

if TYPE_CHECKING:
    from .fake_hf import _Handler

FAKE_ORG = "heady-fake"
LOADING_ESTIMATED_TIME = 7.2

Special = Callable[["_Handler", str, Any], None]


def _text_to_image(handler: _Handler, model: str, payload: Any) -> None:
    prompt = json.dumps(outputs.inputs_of(payload), sort_keys=True).encode()
    handler.answer_bytes(200, outputs.tiny_png(prompt), "image/png")


def _loading(handler: _Handler, model: str, payload: Any) -> None:
    handler.answer_json(
        503,
        {
            "error": f"Model {model} is currently loading",
            "estimated_time": LOADING_ESTIMATED_TIME,
        },
    )


def _rate_limited(handler: _Handler, model: str, payload: Any) -> None:
    handler.answer_json(
        429,
        {"error": "You have exceeded your monthly included credits."},
        [
            ("Retry-After", "42"),
            ("RateLimit-Policy", '"fixed-window";q=1000;w=3600'),
            ("RateLimit", '"fixed-window";r=0;t=42'),
        ],
    )


def _broken(handler: _Handler, model: str, payload: Any) -> None:
    handler.answer_json(500, {"error": "Internal error while running the model"})


def _cut_short(handler: _Handler, model: str, payload: Any) -> None:
    body = b'{"error": null, "partial": "' + b"x" * 64
    handler.begin_answer(
        200, [("Content-Type", "application/json"), ("Content-Length", "4096")]
    )
    handler.end_headers()
    handler.wfile.write(body)
    handler.wfile.flush()
    handler.close_connection = True


def _moved(handler: _Handler, model: str, payload: Any) -> None:
    handler.answer_json(
        302, {"moved": True}, [("Location", "/hf-inference/elsewhere")]
    )


def _cookie(handler: _Handler, model: str, payload: Any) -> None:
    handler.answer_json(
        200,
        outputs.classification(model, payload),
        [("Set-Cookie", "fake_session=abc123; Path=/")],
    )


def _blob(handler: _Handler, model: str, payload: Any) -> None:
    size = parameter(payload, "size", 1024, int)
    pattern = hashlib.sha256(model.encode()).digest()
    body = (pattern * (size // len(pattern) + 1))[:size]
    handler.answer_bytes(200, body, "application/octet-stream")


def _any_event_stream(handler: _Handler, model: str, payload: Any) -> None:
    document = payload if isinstance(payload, dict) else {}
    handler.answer_events(outputs.chat_chunks(model, document))


def _two_lengths(handler: _Handler, model: str, payload: Any) -> None:
    # RFC 9112 6.3: differing Content-Length values make the message invalid.
    body = json.dumps(outputs.classification(model, payload)).encode()
    handler.begin_answer(
        200,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Content-Length", str(len(body) + 1)),
        ],
    )
    handler.end_headers()
    handler.wfile.write(body)
    handler.close_connection = True


def _status(handler: _Handler, model: str, payload: Any) -> None:
    status = parameter(payload, "status", 999, int)
    if not 100 <= status <= 999:
        raise BadInput("parameters.status must have three digits")

    handler.answer_json(status, {"status": status})
    handler.close_connection = True


def _early_hints(handler: _Handler, model: str, payload: Any) -> None:
    # RFC 8297: an interim answer, then the final one on the same connection.
    handler.wfile.write(
        b"HTTP/1.1 103 Early Hints\r\nLink: </hints.css>; rel=preload\r\n\r\n"
    )
    handler.answer_json(200, outputs.classification(model, payload))


def _fields(handler: _Handler, model: str, payload: Any) -> None:
    pairs = []
    fields: list[Any] = parameter(payload, "fields", [], list)
    for field in fields:
        if not (
            isinstance(field, list)
            and len(field) == 2
            and all(isinstance(part, str) and part.isascii() for part in field)
        ):
            raise BadInput("parameters.fields must be [name, value] ASCII pairs")

        pairs.append((field[0], field[1]))

    handler.answer_json(200, outputs.classification(model, payload), pairs)


def _bad_gzip(handler: _Handler, model: str, payload: Any) -> None:
    body = json.dumps(outputs.classification(model, payload)).encode()
    handler.begin_answer(
        200,
        [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "gzip"),
            ("Content-Length", str(len(body))),
        ],
    )
    handler.end_headers()
    handler.wfile.write(body)


def _unknown_coding(handler: _Handler, model: str, payload: Any) -> None:
    body = bytes(reversed(json.dumps(outputs.classification(model, payload)).encode()))
    handler.begin_answer(
        200,
        [
            ("Content-Type", "application/json"),
            ("Content-Encoding", "x-heady-reversed"),
            ("Content-Length", str(len(body))),
        ],
    )
    handler.end_headers()
    handler.wfile.write(body)


def _bad_chunks(handler: _Handler, model: str, payload: Any) -> None:
    handler.begin_answer(
        200, [("Content-Type", "application/json"), ("Transfer-Encoding", "chunked")]
    )
    handler.end_headers()
    # RFC 9112 7.1: a chunk size is hexadecimal; "zz" is not.
    handler.wfile.write(b"2\r\n[[\r\nzz\r\n]]\r\n0\r\n\r\n")
    handler.close_connection = True


def _stream_cut(handler: _Handler, model: str, payload: Any) -> None:
    events = parameter(payload, "events", 1, int)
    document = payload if isinstance(payload, dict) else {}
    handler.answer_events(outputs.chat_chunks(model, document), hang_up_after=events)


SPECIAL: dict[str, Special] = {
    f"{FAKE_ORG}/text-to-image": _text_to_image,
    f"{FAKE_ORG}/loading": _loading,
    f"{FAKE_ORG}/rate-limited": _rate_limited,
    f"{FAKE_ORG}/broken": _broken,
    f"{FAKE_ORG}/cut-short": _cut_short,
    f"{FAKE_ORG}/moved": _moved,
    f"{FAKE_ORG}/cookie": _cookie,
    f"{FAKE_ORG}/blob": _blob,
    f"{FAKE_ORG}/event-stream": _any_event_stream,
    f"{FAKE_ORG}/two-lengths": _two_lengths,
    f"{FAKE_ORG}/status": _status,
    f"{FAKE_ORG}/early-hints": _early_hints,
    f"{FAKE_ORG}/fields": _fields,
    f"{FAKE_ORG}/bad-gzip": _bad_gzip,
    f"{FAKE_ORG}/unknown-coding": _unknown_coding,
    f"{FAKE_ORG}/bad-chunks": _bad_chunks,
    f"{FAKE_ORG}/stream-cut": _stream_cut,
}
