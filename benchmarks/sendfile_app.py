"""Flask's own way to serve a folder: a route around ``send_from_directory``."""

from __future__ import annotations

import os

from flask import Flask, Response, send_from_directory


def create_app() -> Flask:
    app = Flask(__name__)
    public_dir = os.environ["BENCH_PUBLIC_DIR"]

    @app.get("/<path:name>")
    def asset(name: str) -> Response:
        return send_from_directory(public_dir, name)

    return app
