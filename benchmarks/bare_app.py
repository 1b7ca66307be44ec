"""The alternative to the gateway: a Flask app with the same routes, unguarded."""

from __future__ import annotations

from flask import Flask, Response

from payloads import ECHO_ANSWER, INFERENCE_ANSWER, MODEL_PATH


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/api/echo")
    def echo() -> dict[str, object]:
        return ECHO_ANSWER

    # The ceiling of any Flask route that answers an inference request: the
    # bytes a cache hit sends, with nothing in front of them.
    @app.post(f"/api/hf/{MODEL_PATH}")
    def inference_bytes() -> Response:
        return Response(INFERENCE_ANSWER, mimetype="application/json")

    return app
