"""A fake Hugging Face-compatible inference server, for tests and the offline demo.

This is not Hugging Face and runs no model. It answers the shapes of the
Hugging Face router at the router's own paths, deterministically (the same
request always gets the same bytes), on the standard library alone::

    python -m flask_heady_edge.fake_hf --port 8099 [--event-delay 0.2]

or, in-process::

    with FakeHuggingFace() as fake:      # port 0: a free one
        fake.url                         # http://127.0.0.1:<port>
        fake.calls                       # every request received, in order

Routes (``POST`` only; others get 405):

- ``/hf-inference/models/<org>/<model>``: text classification,
  ``[[{"label": "POSITIVE", "score": ...}, {"label": "NEGATIVE", ...}]]``,
  one inner list per input.
- ``/hf-inference/models/<org>/<model>/pipeline/feature-extraction``: one
  list of 8 floats per input, always nested (``[[...]]``).
- ``/v1/chat/completions``: OpenAI-style chat completion; with
  ``"stream": true`` server-sent events, one ``data: {...}`` chunk per word,
  ``event_delay`` seconds apart, ending in ``data: [DONE]``.

Model ids with a behaviour of their own, in the path or in a chat body's
``"model"``:

- ``heady-fake/text-to-image``: a small PNG drawn from the prompt.
- ``heady-fake/loading``: 503 ``{"error": "Model heady-fake/loading is
  currently loading", "estimated_time": 7.2}``, no ``Retry-After``.
- ``heady-fake/rate-limited``: 429 with ``Retry-After``, ``RateLimit`` and
  ``RateLimit-Policy``.
- ``heady-fake/broken``: 500 with a JSON error.
- ``heady-fake/silent``: never answers (until the server stops).
- ``heady-fake/cut-short``: declares a longer body than it sends, hangs up.
- ``heady-fake/moved``: 302 to another path.
- ``heady-fake/cookie``: a classification that also sets a cookie.
- ``heady-fake/blob``: ``parameters.size`` bytes of ``application/octet-stream``.
- ``heady-fake/event-stream``: answers any request with an event stream.

and some that break HTTP, as a faulty upstream or middlebox would:

- ``heady-fake/two-lengths``: two different ``Content-Length`` values.
- ``heady-fake/status``: the status in ``parameters.status`` (default 999).
- ``heady-fake/early-hints``: a ``103`` before the real answer.
- ``heady-fake/fields``: a classification with the ``[name, value]`` pairs of
  ``parameters.fields`` as extra response fields, sent verbatim.
- ``heady-fake/bad-gzip``: says ``Content-Encoding: gzip``, is not gzip.
- ``heady-fake/unknown-coding``: a content coding nobody asked for.
- ``heady-fake/bad-chunks``: a chunked answer with a malformed chunk size.
- ``heady-fake/stream-cut``: an event stream that hangs up, unterminated,
  after ``parameters.events`` events (default 1).

A JSON body nested deeper than 128 levels, or one typed as JSON that does not
parse, gets ``400 {"error": ...}``, as does an input of the wrong shape.

Every answer carries ``X-Request-Id`` and ``x-compute-*`` fields, as the
router's do, and a ``X-Fake-Internal`` field that a proxy should not relay.
JSON answers are gzip-encoded when the request accepts gzip.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import socket
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from . import fake_hf_outputs as outputs
from .fake_hf_outputs import BadInput
from .fake_hf_specials import FAKE_ORG, SPECIAL

logger = logging.getLogger(__name__)

#: Deepest JSON nesting accepted: serde_json's default limit, so the fake
#: refuses what a Rust inference server would, and never meets Python's own
#: recursion limit while building an answer.
MAX_JSON_DEPTH = 128


@dataclass(frozen=True)
class Call:
    """One request as the fake received it."""

    method: str
    path: str
    query: str
    #: Header names lowercased; a repeated header keeps its last value.
    headers: dict[str, str]
    body: bytes


class FakeHuggingFace:
    """The fake server, on ``host:port`` (port 0 picks a free one)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        event_delay: float = 0.0,
        answer_delay: float = 0.0,
    ) -> None:
        #: Seconds between two events of a streamed chat answer.
        self.event_delay = event_delay
        #: Seconds to think before any other answer (to make calls overlap).
        self.answer_delay = answer_delay
        self.stopping = threading.Event()
        self._calls: list[Call] = []
        self._calls_lock = threading.Lock()
        self.server = _Server((host, port), _Handler)
        self.server.fake = self
        self.url = f"http://{host}:{self.server.server_port}"
        self._thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def calls(self) -> list[Call]:
        with self._calls_lock:
            return list(self._calls)

    def record(self, call: Call) -> None:
        with self._calls_lock:
            self._calls.append(call)

    def start(self) -> FakeHuggingFace:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.server.hang_up_all()
        self._thread.join(timeout=10)

    def __enter__(self) -> FakeHuggingFace:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    fake: FakeHuggingFace

    def __init__(self, address: tuple[str, int], handler: type[_Handler]) -> None:
        super().__init__(address, handler)
        self.open_connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self.open_connections.add(request)

        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self.open_connections.discard(request)

        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up is no error of the fake's.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def hang_up_all(self) -> None:
        """Close kept-alive connections too, as a server that goes away does."""
        with self._connections_lock:
            connections = list(self.open_connections)

        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                continue


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake_hf: " + format, *args)

    def do_POST(self) -> None:
        fake = self.server.fake
        body = self._read_body()
        target = urlsplit(self.path)
        fake.record(
            Call(
                "POST",
                target.path,
                target.query,
                {name.lower(): value for name, value in self.headers.items()},
                body,
            )
        )

        try:
            payload = _payload(body, self.headers.get("Content-Type", ""))
        except BadInput as error:
            self.answer_json(400, {"error": str(error)})
            return

        route = _route(target.path, payload)
        if route is None:
            self.answer_json(404, {"error": "Not Found"})
            return

        task, model = route
        if model == f"{FAKE_ORG}/silent":
            fake.stopping.wait(600)
            self.close_connection = True
            return

        if fake.answer_delay:
            fake.stopping.wait(fake.answer_delay)

        try:
            self._answer(task, model, payload)
        except BadInput as error:
            # Raised before anything was sent: the outputs are built first.
            self.answer_json(400, {"error": str(error)})

    def _answer(self, task: str, model: str, payload: Any) -> None:
        special = SPECIAL.get(model)
        if special is not None:
            special(self, model, payload)
        elif task == "chat" and isinstance(payload, dict) and payload.get("stream"):
            self.answer_events(outputs.chat_chunks(model, payload))
        elif task == "chat":
            self.answer_json(200, outputs.chat_completion(model, payload))
        elif task == "feature-extraction":
            self.answer_json(200, outputs.embeddings(model, payload))
        else:
            self.answer_json(200, outputs.classification(model, payload))

    def do_GET(self) -> None:
        self.answer_json(405, {"error": "Method Not Allowed"}, [("Allow", "POST")])

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()

            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass

            return b"".join(parts)

        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def begin_answer(self, status: int, headers: list[tuple[str, str]]) -> None:
        self.send_response(status)
        digest = hashlib.sha256(self.path.encode()).hexdigest()[:16]
        for name, value in [
            ("X-Request-Id", f"fake-{digest}"),
            ("x-compute-type", "cpu"),
            ("x-compute-time", "0.001"),
            ("X-Fake-Internal", "not-for-clients"),
            *headers,
        ]:
            self.send_header(name, value)

    def answer_bytes(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        headers = [("Content-Type", content_type), *(headers or [])]
        accepts_gzip = "gzip" in self.headers.get("Accept-Encoding", "")
        if accepts_gzip and content_type == "application/json":
            body = gzip.compress(body, mtime=0)
            headers.append(("Content-Encoding", "gzip"))

        self.begin_answer(status, [*headers, ("Content-Length", str(len(body)))])
        self.end_headers()
        self.wfile.write(body)

    def answer_json(
        self, status: int, document: Any, headers: list[tuple[str, str]] | None = None
    ) -> None:
        body = json.dumps(document).encode()
        self.answer_bytes(status, body, "application/json", headers)

    def answer_events(
        self, events: list[dict[str, Any]], hang_up_after: int | None = None
    ) -> None:
        """Send ``events`` as server-sent events, ``event_delay`` apart; with
        ``hang_up_after``, hang up after that many, unterminated."""
        self.begin_answer(
            200,
            [
                ("Content-Type", "text/event-stream"),
                ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"),
            ],
        )
        self.end_headers()
        lines = [f"data: {json.dumps(event)}\n\n".encode() for event in events]
        for number, line in enumerate([*lines, b"data: [DONE]\n\n"]):
            if number == hang_up_after:
                self.wfile.flush()
                self.close_connection = True
                return

            if number and self.server.fake.stopping.wait(self.server.fake.event_delay):
                break

            self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            self.wfile.flush()

        self.wfile.write(b"0\r\n\r\n")


def _payload(body: bytes, content_type: str) -> Any:
    """The parsed JSON body; ``{}`` for a body that is empty or not JSON.

    A body typed as JSON that does not parse, or one nested deeper than
    :data:`MAX_JSON_DEPTH`, is refused as Hugging Face refuses input it
    cannot read.
    """
    if not body:
        return {}

    typed_json = content_type.split(";")[0].strip().lower() == "application/json"
    try:
        payload = json.loads(body)
    except RecursionError:
        raise BadInput("Malformed JSON body: nested too deeply") from None
    except ValueError:
        if typed_json:
            raise BadInput("Malformed JSON body") from None

        return {}

    if _nesting_depth(payload) > MAX_JSON_DEPTH:
        raise BadInput("Malformed JSON body: nested too deeply")

    return payload


def _nesting_depth(value: Any) -> int:
    """How deeply arrays and objects nest in ``value``, counted without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, (list, dict)):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)

    return deepest


def _route(path: str, payload: Any) -> tuple[str, str] | None:
    """``(task, model id)`` of a router path, or ``None``."""
    parts = path.strip("/").split("/")
    if parts == ["v1", "chat", "completions"]:
        model = payload.get("model") if isinstance(payload, dict) else None
        return "chat", str(model or "")

    if len(parts) == 4 and parts[:2] == ["hf-inference", "models"]:
        return "classification", f"{parts[2]}/{parts[3]}"

    if len(parts) == 6 and parts[:2] == ["hf-inference", "models"]:
        if parts[4:] == ["pipeline", "feature-extraction"]:
            return "feature-extraction", f"{parts[2]}/{parts[3]}"

    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="A fake Hugging Face-compatible inference server (no models)."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    parser.add_argument(
        "--event-delay", type=float, default=0.05, help="seconds between stream events"
    )
    options = parser.parse_args(argv)

    fake = FakeHuggingFace(options.host, options.port, options.event_delay)
    print(
        f"Fake Hugging Face inference server on {fake.url} (Ctrl-C stops it)",
        flush=True,
    )
    try:
        fake.server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fake.server.server_close()


if __name__ == "__main__":
    main()
