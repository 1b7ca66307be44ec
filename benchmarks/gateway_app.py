"""The product under test: a Flask app behind ``HeadyEdge``, set up from ``HEADY_*``.

Every ``HEADY_*`` environment variable becomes the config key of the same
name, as in a deployment. The routes match :mod:`bare_app`, so each row
compares the same work with and without the gateway in front.
"""

from __future__ import annotations

import os

from flask import Flask, Response

from flask_heady_edge import HeadyEdge
from payloads import API_KEY, ECHO_ANSWER, INFERENCE_ANSWER, MODEL_PATH, RATE_LIMIT

#: Where no upstream is named, a loopback port that nothing listens on, so
#: that the default (Hugging Face itself) is never contacted from a benchmark.
NO_UPSTREAM = "http://127.0.0.1:9"


def create_app() -> Flask:
    # Rooted in this folder, which has no ``public``: assets are served only
    # when ``HEADY_PUBLIC_DIR`` names a folder.
    app = Flask(__name__, root_path=os.path.dirname(os.path.abspath(__file__)))
    app.config.update(
        HEADY_API_KEY=API_KEY,
        HEADY_RATE_LIMIT=RATE_LIMIT,
        HEADY_HF_BASE_URL=NO_UPSTREAM,
    )
    app.config.update(
        {key: value for key, value in os.environ.items() if key.startswith("HEADY_")}
    )

    @app.get("/api/echo")
    def echo() -> dict[str, object]:
        return ECHO_ANSWER

    # Guarded like the proxy, answering the bytes of a cache hit without the
    # cache: the difference to a hit is what the lookup costs.
    @app.post(f"/api/plain/{MODEL_PATH}")
    def inference_bytes() -> Response:
        return Response(INFERENCE_ANSWER, mimetype="application/json")

    HeadyEdge(app)
    return app
