"""Health answers: a bare liveness check and a detailed report under the prefix."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify, request

from . import __version__
from .state import EdgeState, edge_state

EDGE_HEADER = "X-Heady-Edge"
SERVED_BY = ("X-Heady-Served-By", "origin")


def liveness() -> Response:
    """``GET /healthz``: 200 whenever the process can answer; no details."""
    response = Response("ok\n", mimetype="text/plain")
    response.headers["Cache-Control"] = "no-store"
    response.headers[SERVED_BY[0]] = SERVED_BY[1]
    return response


def report() -> Response:
    """``GET {prefix}/edge/health``: each part's state, behind the API key."""
    state = edge_state()
    parts = {"limiter": limiter_health(state), **_blueprint_parts(state)}
    degraded = any(part.get("state") == "down" for part in parts.values())

    response = jsonify(
        status="degraded" if degraded else "ok",
        version=__version__,
        edge=request.headers.get(EDGE_HEADER),
        parts=parts,
    )
    response.headers["Cache-Control"] = "no-store"
    return response


def limiter_health(state: EdgeState) -> dict[str, Any]:
    limiter = state.limiter
    reachable = limiter.check_storage()
    return {
        "state": "ok" if reachable else "down",
        "storage": limiter.storage_scheme,
        "fail_open": limiter.fail_open,
    }


def _blueprint_parts(state: EdgeState) -> dict[str, Any]:
    parts: dict[str, Any] = {
        "cache": {"state": "disabled"},
        # PROTOCOL.md 5.2 names the upstream even when nothing is proxied.
        "upstream": {"state": "disabled", "base_url": state.settings.hf_base_url},
    }
    for name, check in state.health_checks.items():
        parts[name] = check()

    return parts
