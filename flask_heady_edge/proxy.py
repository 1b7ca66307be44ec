"""The inference proxy: ``POST {prefix}/hf/<path>`` to Hugging Face, cached."""

from __future__ import annotations

import logging
from typing import cast

from flask import Blueprint, Flask, Response, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.routing import BaseConverter
from werkzeug.wrappers import Response as BaseResponse

from .body import UNREADABLE_BODY
from .errors import (
    BodyTooLarge,
    ConfigError,
    IncompleteBody,
    MethodNotAllowed,
    NotFound,
    Problem,
)
from .inference_proxy import InferenceProxy, InferenceRequest
from .state import edge_state
from .upstream_path import checked_upstream_path, upstream_query

logger = logging.getLogger(__name__)

#: Key of the per-app :class:`InferenceProxy` in ``EdgeState.parts``.
PART = "hf"

CONVERTER = "heady_edge_any_path"

# Every method a route can name. Only POST is served; the others are listed so
# that they reach the view and get a problem body, not Werkzeug's HTML 405.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"]

_READ_SIZE = 64 * 1024


class _AnyPathConverter(BaseConverter):
    """Everything after ``/hf/``, even empty or starting with a slash, so the
    view can refuse ``//host`` with a 400 instead of the router's 404."""

    regex = r"[\s\S]*"
    part_isolating = False


def create_hf_blueprint() -> Blueprint:
    blueprint = Blueprint("heady_edge_hf", __name__)
    blueprint.record_once(_set_up)
    blueprint.register_error_handler(Problem, _problem_response)
    return blueprint


def _set_up(setup: BlueprintSetupState) -> None:
    """Build the app's proxy and mount it under its own ``HEADY_API_PREFIX``.

    The blueprint always lives under the guarded prefix: a ``url_prefix`` at
    registration would move it out from behind the API key, so it is refused.
    """
    app = cast(Flask, setup.app)
    state = edge_state(app)
    if setup.url_prefix:
        raise ConfigError(
            "HEADY_API_PREFIX",
            "the inference proxy is mounted at {HEADY_API_PREFIX}/hf; register"
            " its blueprint without a url_prefix",
        )

    proxy = InferenceProxy.for_app(app, state.settings)
    state.parts[PART] = proxy
    state.health_checks["cache"] = proxy.cache.health
    state.health_checks["upstream"] = proxy.upstream.health

    app.url_map.converters[CONVERTER] = _AnyPathConverter
    base = f"{state.settings.api_prefix}/hf"
    endpoint = f"{setup.name_prefix}.{setup.name}".lstrip(".")
    for rule, name in ((base, "root"), (f"{base}/<{CONVERTER}:path>", "proxy")):
        app.add_url_rule(
            rule,
            f"{endpoint}.{name}",
            _proxy_view,
            methods=_METHODS,
            provide_automatic_options=False,
            # ``//host`` must reach the view, not be merged by a redirect.
            merge_slashes=False,
        )


def _proxy_view(path: str = "") -> BaseResponse:
    # Problems are answered here rather than raised, so that a host error
    # handler for 400 or 404 cannot swap the problem body for its own page.
    try:
        return _proxy(path)
    except Problem as problem:
        return _problem_response(problem)


def _proxy(path: str) -> BaseResponse:
    if request.method == "OPTIONS":
        # A CORS layer of the app may add its headers to this in after_request.
        return Response(status=200, headers={"Allow": "OPTIONS, POST"})

    if request.method != "POST":
        raise MethodNotAllowed(["POST"])

    if not path:
        raise NotFound("Name a model path after /hf/.")

    state = edge_state()
    proxy: InferenceProxy = state.parts[PART]
    path = checked_upstream_path(path, request.environ)
    body = _read_body(state.settings.max_body_bytes)
    inference = InferenceRequest.build(
        path, upstream_query(request.environ), request.headers, body
    )
    return proxy.answer(inference)


def _read_body(limit: int) -> bytes:
    """The whole request body, refused past ``limit`` bytes while reading.

    A chunked body has no length up front, so the count is kept here: the
    413 comes as soon as the limit is passed, before anything goes upstream.
    Werkzeug is told to allow one byte more than the limit, so a body of
    exactly the limit is read to its end and not refused.

    Failure policy: a body the server cannot read (malformed chunked framing,
    a client gone mid-body) is a 400 problem, and a problem raised by a
    wrapper of the input stream is answered as it is.
    """
    request.max_content_length = limit + 1
    parts = []
    size = 0
    try:
        stream = request.stream
        while size <= limit and (chunk := stream.read(_READ_SIZE)):
            size += len(chunk)
            parts.append(chunk)
    except Problem:
        # Before the 413 below: our BodyTooLarge is a RequestEntityTooLarge.
        raise
    except RequestEntityTooLarge:
        size = limit + 1
    except UNREADABLE_BODY as error:
        logger.debug("Request body unreadable: %s", type(error).__name__)
        raise IncompleteBody(
            "The request body could not be read to its end."
        ) from None

    if size > limit:
        raise BodyTooLarge(limit)

    # Servers that frame the body themselves may hand over a short one when
    # the client hangs up; a truncated body must not reach the upstream.
    declared = request.content_length
    if declared is not None and size != declared:
        raise IncompleteBody("The request body ended before its declared length.")

    return b"".join(parts)


def _problem_response(problem: Problem) -> BaseResponse:
    return problem.get_response(request.environ)
