"""A small Heady-like API behind the gateway, for the local demo.

``flask --app example_app run`` serves the Admin IDE from ``public/``,
guards ``/api`` and proxies ``/api/hf``. Every ``HEADY_*`` setting is read
from the environment variable of the same name. With none set it still
starts: it makes a demo API key, and without ``HEADY_HF_BASE_URL`` it starts
the bundled fake Hugging Face server on loopback so that no network or
account is needed.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from flask import Flask, abort, request

from flask_heady_edge import HeadyEdge
from flask_heady_edge.config import DEFAULTS

logger = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, root_path=str(ROOT), instance_path=str(ROOT / "instance"))
    app.config.update(_heady_environment())
    app.config.update(config or {})

    if not app.config.get("HEADY_API_KEY"):
        app.config["HEADY_API_KEY"] = _demo_key(Path(app.instance_path))

    if not app.config.get("HEADY_HF_BASE_URL"):
        app.config["HEADY_HF_BASE_URL"] = _start_fake_upstream()

    HeadyEdge(app)
    _add_api_routes(app)
    return app


def _heady_environment() -> dict[str, str]:
    """Every ``HEADY_*`` variable, including ``HEADY_CACHE_*`` pass-throughs."""
    return {
        name: value
        for name, value in os.environ.items()
        if name in DEFAULTS or name.startswith("HEADY_CACHE_")
    }


def _demo_key(folder: Path) -> str:
    """Read, or make once, the demo key; say where it is, never what it is."""
    key_file = folder / "demo-api-key"
    if not key_file.exists():
        folder.mkdir(parents=True, exist_ok=True)
        draft = folder / f".demo-api-key.{os.getpid()}"
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as stream:
            stream.write(secrets.token_urlsafe(24) + "\n")

        # Several workers may start at once: linking fails for all but the
        # first, so every worker ends up reading the same key.
        try:
            os.link(draft, key_file)
        except FileExistsError:
            pass
        finally:
            draft.unlink()

    print(
        f" * HEADY_API_KEY is not set: the demo key is in {key_file}",
        file=sys.stderr,
    )
    return key_file.read_text().strip()


def _start_fake_upstream() -> str:
    from flask_heady_edge.fake_hf import FakeHuggingFace

    server = FakeHuggingFace(port=0)
    server.start()
    print(
        f" * HEADY_HF_BASE_URL is not set: proxying to the fake Hugging Face"
        f" server at {server.url}",
        file=sys.stderr,
    )
    return server.url


def _add_api_routes(app: Flask) -> None:
    notes: list[str] = []

    @app.get("/api/status")
    def status() -> dict[str, Any]:
        return {"service": "heady", "notes": len(notes)}

    @app.route("/api/notes", methods=["GET", "POST"])
    def note_list() -> Any:
        if request.method == "GET":
            return {"notes": notes}

        payload = request.get_json(silent=True)
        text = payload.get("text") if isinstance(payload, dict) else None
        if not isinstance(text, str) or not text.strip():
            abort(400, "Send JSON like {\"text\": \"...\"}.")

        notes.append(text.strip())
        return {"notes": notes}, 201
