"""Where a gateway request spends its time, measured in-process without a server.

    python benchmarks/hotpath.py [--case echo|hit|static] [--requests N]
                                 [--storage URI]

Calls the WSGI apps directly, so the numbers are the apps' own cost with no
server or socket around them. Prints the time per request with and without
the gateway, the gateway's parts timed alone (for ``echo``), and a
pyinstrument profile reduced to the frames of ``flask_heady_edge``.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import threading
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from pyinstrument import Profiler
from pyinstrument.frame import Frame
from werkzeug.datastructures import Headers
from werkzeug.serving import make_server
from werkzeug.test import EnvironBuilder

import upstream
from payloads import API_KEY, API_KEY_HEADER, INFERENCE_REQUEST, MODEL_PATH

OUR_PACKAGE = os.sep + "flask_heady_edge" + os.sep

WsgiCall = Callable[[], None]


CASES = ("echo", "hit", "static", "static-304")


@dataclass
class Case:
    """The gateway, and the alternatives answering the same request."""

    gateway: WsgiCall
    alternatives: dict[str, WsgiCall]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python benchmarks/hotpath.py")
    parser.add_argument("--case", choices=CASES, default="echo")
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--storage", default="memory://")
    arguments = parser.parse_args()
    os.environ["HEADY_RATELIMIT_STORAGE_URI"] = arguments.storage
    count = arguments.requests

    with _case(arguments.case) as case:
        calls = {"gateway": case.gateway, **case.alternatives}
        for call in calls.values():
            for _ in range(count // 10):
                call()

        print(f"{arguments.case}: µs per request, in-process, {count} requests")
        took = {name: _per_call(call, count) for name, call in calls.items()}
        for name, micros in took.items():
            extra = micros - took["gateway"]
            versus = f"   gateway {-extra:+.1f}" if name != "gateway" else ""
            print(f"  {name:<36}{micros:8.1f}{versus}")

        if arguments.case == "echo":
            print("\nparts of the guard, timed alone (µs per call)")
            for name, micros in _guard_parts(count):
                print(f"  {name:<36}{micros:8.2f}")

        print("\nprofile of the gateway: frames of flask_heady_edge")
        _profile(case.gateway, count)


@contextmanager
def _case(name: str) -> Iterator[Case]:
    if name == "echo":
        import bare_app
        import gateway_app

        request = {"path": "/api/echo", "headers": {API_KEY_HEADER: API_KEY}}
        yield Case(
            _caller(gateway_app.create_app(), request),
            {"bare Flask": _caller(bare_app.create_app(), request)},
        )

    elif name == "hit":
        with _upstream() as base_url:
            os.environ["HEADY_HF_BASE_URL"] = base_url
            import bare_app
            import gateway_app

            request = {
                "path": f"/api/hf/{MODEL_PATH}",
                "method": "POST",
                "headers": {API_KEY_HEADER: API_KEY},
                "data": INFERENCE_REQUEST,
                "content_type": "application/json",
            }
            gateway_app_ = gateway_app.create_app()
            gateway = _caller(gateway_app_, request)
            gateway()
            plain = {**request, "path": f"/api/plain/{MODEL_PATH}"}
            yield Case(
                gateway,
                {
                    "bare Flask, same bytes": _caller(bare_app.create_app(), request),
                    "gateway route, no cache": _caller(gateway_app_, plain),
                },
            )

    else:
        with tempfile.TemporaryDirectory() as public:
            with open(os.path.join(public, "asset.js"), "wb") as asset:
                asset.write(os.urandom(1024))

            os.environ["HEADY_PUBLIC_DIR"] = os.environ["BENCH_PUBLIC_DIR"] = public
            import gateway_app
            import sendfile_app
            import whitenoise_app

            apps = {
                "gateway": gateway_app.create_app(),
                "WhiteNoise": whitenoise_app.create_app(),
                "send_from_directory": sendfile_app.create_app(),
            }
            revalidate = name == "static-304"
            calls = {
                label: _caller(app, _asset_request(app, revalidate), revalidate)
                for label, app in apps.items()
            }
            yield Case(calls.pop("gateway"), calls)


def _asset_request(app: Flask, revalidate: bool) -> dict[str, Any]:
    if not revalidate:
        return {"path": "/asset.js"}

    etag = app.test_client().get("/asset.js").headers["ETag"]
    return {"path": "/asset.js", "headers": {"If-None-Match": etag}}


@contextmanager
def _upstream() -> Iterator[str]:
    server = make_server("127.0.0.1", 0, upstream.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _caller(
    app: Flask, request: dict[str, Any], not_modified: bool = False
) -> WsgiCall:
    """One request to ``app``, its answer read whole; fails unless 200 (or 304)."""
    expected = "304" if not_modified else "200"
    environ = EnvironBuilder(
        environ_base={"REMOTE_ADDR": "127.0.0.1"}, **request
    ).get_environ()
    body = environ["wsgi.input"].read()

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None, /
    ) -> Callable[[bytes], object]:
        if not status.startswith(expected):
            raise RuntimeError(f"{request['path']} answered {status}")

        return len

    def call() -> None:
        fresh = dict(environ)
        fresh["wsgi.input"] = io.BytesIO(body)
        answer = app.wsgi_app(fresh, start_response)
        try:
            for _ in answer:
                pass
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    return call


def _per_call(call: Callable[[], object], count: int, rounds: int = 5) -> float:
    """µs per call: the best of a few rounds, as other work only slows one."""
    size = max(1, count // rounds)
    return min(timeit.repeat(call, number=size, repeat=rounds)) / size * 1e6


def _guard_parts(count: int) -> list[tuple[str, float]]:
    import gateway_app
    from flask_heady_edge.state import edge_state

    state = edge_state(gateway_app.create_app())
    headers = Headers({API_KEY_HEADER: API_KEY})
    verdict = state.limiter.hit("127.0.0.1")
    assert verdict is not None
    parts: list[tuple[str, Callable[[], object]]] = [
        ("settings.is_guarded", lambda: state.settings.is_guarded("/api/echo")),
        ("clients.resolve", lambda: state.clients.resolve("127.0.0.1", headers)),
        ("limiter.hit", lambda: state.limiter.hit("127.0.0.1")),
        ("keys.verify", lambda: state.keys.verify(API_KEY)),
        ("verdict.stamp", lambda: verdict.stamp([])),
    ]
    return [(name, _per_call(part, count)) for name, part in parts]


def _profile(call: WsgiCall, count: int) -> None:
    profiler = Profiler(interval=0.0001)
    profiler.start()
    for _ in range(count):
        call()

    session = profiler.stop()
    root = session.root_frame()
    if root is None:
        print("  no samples")
        return

    totals: dict[str, list[float]] = {}
    callees: dict[str, float] = {}
    _collect(root, totals, callees, frozenset())
    whole = root.time
    print(f"  {'function':<52}{'total':>8}{'self':>8}")
    for name, (total, own) in sorted(totals.items(), key=lambda item: -item[1][0])[:15]:
        print(f"  {name:<52}{total / whole:8.1%}{own / whole:8.1%}")

    print("\nlibrary calls made by those frames (share of the request)")
    for name, total in sorted(callees.items(), key=lambda item: -item[1])[:12]:
        print(f"  {name:<52}{total / whole:8.1%}")


def _collect(
    frame: Frame,
    totals: dict[str, list[float]],
    callees: dict[str, float],
    on_stack: frozenset[str],
) -> None:
    """Add up, per function of ours, its frames' time and their own time.

    ``callees`` gets the time of each library function that one of ours
    calls directly, so that time spent below our code has a name.
    """
    ours = _is_ours(frame)
    name = _name(frame)
    if ours:
        entry = totals.setdefault(name, [0.0, 0.0])
        if name not in on_stack:
            entry[0] += frame.time

        entry[1] += frame.total_self_time
        on_stack = on_stack | {name}
        for child in frame.children:
            if not _is_ours(child):
                callee = _name(child)
                callees[callee] = callees.get(callee, 0.0) + child.time

    for child in frame.children:
        _collect(child, totals, callees, on_stack)


def _is_ours(frame: Frame) -> bool:
    return OUR_PACKAGE in (frame.file_path or "")


def _name(frame: Frame) -> str:
    path = frame.file_path or ""
    return f"{os.path.basename(path)}:{frame.function}"


if __name__ == "__main__":
    main()
