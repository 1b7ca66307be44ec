"""The ``HeadyEdge`` extension: wires auth, limits, health and the blueprints."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from flask import Blueprint, Flask, Response, request
from werkzeug.wrappers import Response as WerkzeugResponse

from . import health
from .auth import API_KEY_HEADER, ApiKeys
from .body import CappedBody
from .client_ip import ClientAddressResolver
from .config import read_settings
from .errors import BodyTooLarge, InvalidApiKey, Problem
from .proxy import create_hf_blueprint
from .ratelimit import RateLimiter, Verdict
from .state import STATE_KEY, EdgeState
from .static import create_static_blueprint

logger = logging.getLogger(__name__)

EXTENSION_KEY = "heady_edge"

# Set in the WSGI environ of a guarded request: the limit verdict, or None.
_VERDICT = "heady_edge.verdict"

# The key header as WSGI names it (PEP 3333), read without a Headers lookup.
_API_KEY_ENVIRON = "HTTP_" + API_KEY_HEADER.upper().replace("-", "_")


class HeadyEdge:
    """Origin-side gateway for a Flask app.

    ``HeadyEdge(app)`` or ``edge = HeadyEdge(); edge.init_app(app)``. With
    ``register_blueprints=False`` the app registers :attr:`hf_blueprint` and
    :attr:`static_blueprint` itself. The instance keeps no app: everything
    per app lives in ``app.extensions``.
    """

    def __init__(
        self, app: Flask | None = None, *, register_blueprints: bool = True
    ) -> None:
        self.register_blueprints = register_blueprints
        self.hf_blueprint: Blueprint = create_hf_blueprint()
        self.static_blueprint: Blueprint = create_static_blueprint()
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        if STATE_KEY in app.extensions:
            raise RuntimeError("HeadyEdge is already set up on this app.")

        settings = read_settings(app.config, app.root_path, app.debug)
        state = EdgeState(
            settings=settings,
            keys=ApiKeys(settings.api_keys),
            clients=ClientAddressResolver(
                settings.trusted_proxies, settings.client_ip_header
            ),
            limiter=RateLimiter(
                settings.rate_limits,
                settings.ratelimit_storage_uri,
                settings.ratelimit_fail_open,
            ),
        )
        app.extensions[EXTENSION_KEY] = self
        app.extensions[STATE_KEY] = state

        # First in line: a host hook registered earlier that answers by itself
        # must not let a request under the prefix past the key and the limit.
        app.before_request_funcs.setdefault(None, []).insert(
            0, partial(_guard, state)
        )
        app.wsgi_app = _StampFields(app.wsgi_app)  # type: ignore[method-assign]
        app.add_url_rule(
            "/healthz", "heady_edge_liveness", health.liveness, methods=["GET"]
        )
        app.add_url_rule(
            f"{settings.api_prefix}/edge/health",
            "heady_edge_health",
            health.report,
            methods=["GET"],
        )

        if self.register_blueprints:
            app.register_blueprint(self.hf_blueprint)
            app.register_blueprint(self.static_blueprint)


def _guard(state: EdgeState) -> Response | WerkzeugResponse | None:
    """Count, then authenticate, every request under the API prefix.

    Counting comes first so that requests with a wrong key, and requests for
    paths that match no route, use up the same budget: key guessing and
    probing are limited like any other traffic. CORS preflights pass
    uncounted and unauthenticated, to the app's CORS handling; any other
    ``OPTIONS`` request is guarded like the rest.
    """
    if not state.settings.is_guarded(request.path):
        return None

    environ = request.environ
    environ[_VERDICT] = None
    if _is_preflight(environ):
        return None

    try:
        client = state.clients.resolve(environ.get("REMOTE_ADDR"), request.headers)
        verdict = environ[_VERDICT] = state.limiter.hit(client)
        refusal = verdict and verdict.refusal()
        if refusal:
            raise refusal

        if not state.keys.verify(environ.get(_API_KEY_ENVIRON)):
            raise InvalidApiKey()

        _check_body_size(environ, state.settings.max_body_bytes)
    except Problem as problem:
        # Returned rather than raised, so a host error handler for 401 or
        # 429 cannot swap the problem body for an HTML page, while the host's
        # after_request hooks (CORS headers, say) still run on it.
        return problem.get_response(environ)

    return None


def _is_preflight(environ: dict[str, Any]) -> bool:
    # The Fetch standard's CORS-preflight request: OPTIONS with an Origin
    # and the method the real request will use.
    return (
        environ.get("REQUEST_METHOD") == "OPTIONS"
        and "HTTP_ORIGIN" in environ
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )


def _check_body_size(environ: dict[str, Any], limit: int) -> None:
    if environ.get("CONTENT_LENGTH"):
        length = request.content_length
        if length is not None and length > limit:
            raise BodyTooLarge(limit)
    elif "wsgi.input_terminated" in environ:
        # A chunked body has no length up front. Nothing has read the
        # stream yet (this hook runs first), so it can still be wrapped.
        environ["wsgi.input"] = CappedBody(environ["wsgi.input"], limit)


class _StampFields:
    """WSGI middleware: the gateway's fields on every answer under the prefix.

    Added to the plain header list handed to ``start_response`` rather than
    in an ``after_request`` hook: appending there costs a fraction of what
    Werkzeug's ``Headers`` spends checking each new field, and these six
    fields are on every guarded answer.
    """

    def __init__(self, wsgi_app: Callable[..., Iterable[bytes]]) -> None:
        self.wsgi_app = wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        def stamped(
            status: str, headers: list[tuple[str, str]], exc_info: Any = None
        ) -> Any:
            if _VERDICT in environ:
                headers.append(health.SERVED_BY)
                verdict: Verdict | None = environ[_VERDICT]
                if verdict is not None:
                    verdict.stamp(headers)

            if exc_info is None:
                return start_response(status, headers)

            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, stamped)
