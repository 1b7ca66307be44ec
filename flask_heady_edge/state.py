"""What the gateway keeps per app, in ``app.extensions``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app

from .auth import ApiKeys
from .client_ip import ClientAddressResolver
from .config import Settings
from .ratelimit import RateLimiter

STATE_KEY = "heady_edge.state"

#: Reports one part of the gateway for the health endpoint: ``{"state": ...}``.
HealthCheck = Callable[[], dict[str, Any]]


@dataclass
class EdgeState:
    settings: Settings
    keys: ApiKeys
    clients: ClientAddressResolver
    limiter: RateLimiter
    health_checks: dict[str, HealthCheck] = field(default_factory=dict)
    #: Per-app objects of the blueprints (the inference proxy, the asset index).
    parts: dict[str, Any] = field(default_factory=dict)


def edge_state(app: Flask | None = None) -> EdgeState:
    """The gateway state of ``app``, or of the app handling this request."""
    app = app or current_app
    try:
        return app.extensions[STATE_KEY]  # type: ignore[no-any-return]
    except KeyError:
        raise RuntimeError(
            "HeadyEdge is not set up on this app: call HeadyEdge(app) or"
            " edge.init_app(app) before registering its blueprints."
        ) from None
