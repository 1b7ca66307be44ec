"""Builds one app over a public folder, in a fresh process, and says what it cost.

    python benchmarks/scale_probe.py ours|whitenoise PUBLIC_DIR PATH

Prints one JSON line: the seconds from building the app to its first answer
for ``PATH``, and the bytes ``tracemalloc`` sees still held after that
answer. Imports come first and are not counted: they cost the same whatever
the folder holds.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
import tracemalloc
from collections.abc import Callable

from flask import Flask


def main(argv: list[str]) -> None:
    server, public, path = argv
    os.environ["HEADY_PUBLIC_DIR"] = os.environ["BENCH_PUBLIC_DIR"] = public
    factory = _factory(server)

    gc.collect()
    started = time.perf_counter()
    app = factory()
    _first_answer(app, path)
    seconds = time.perf_counter() - started
    del app

    # A second build, traced: tracing slows it, so it is not the one timed.
    gc.collect()
    tracemalloc.start()
    app = factory()
    _first_answer(app, path)
    gc.collect()
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    print(json.dumps({"seconds": seconds, "held_bytes": held}))


def _factory(server: str) -> Callable[[], Flask]:
    if server == "ours":
        import gateway_app

        return gateway_app.create_app

    import whitenoise_app

    return whitenoise_app.create_app


def _first_answer(app: Flask, path: str) -> None:
    response = app.test_client().get(path)
    status = response.status_code
    response.close()
    if status != 200:
        raise SystemExit(f"{path} answered {status}")


if __name__ == "__main__":
    main(sys.argv[1:])
