"""The usual alternative for static files: WhiteNoise in front of a bare Flask app."""

from __future__ import annotations

import os

from flask import Flask
from whitenoise import WhiteNoise


def create_app() -> Flask:
    app = Flask(__name__)
    # WhiteNoise's defaults, as an operator would take them: the index is
    # built at startup and files are not re-read.
    app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]
        app.wsgi_app, root=os.environ["BENCH_PUBLIC_DIR"]
    )
    return app
