"""Flask glue for the static assets of ``HEADY_PUBLIC_DIR``."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import partial
from typing import cast

from flask import Blueprint, Flask, current_app, request
from flask.blueprints import BlueprintSetupState
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response

from .assets import Answer, AssetIndex
from .config import Settings
from .dispatch import AssetDispatcher
from .errors import ConfigError
from .responders import method_not_allowed, options
from .state import edge_state
from .static_site import StaticSite

BLUEPRINT_NAME = "heady_edge_static"

#: Where the per-app :class:`~.static_site.StaticSite` is kept in ``state.parts``.
PART = "static"

_CONVERTER = "heady_edge_asset"


class AssetResponse(Response):
    """A prebuilt answer: no default ``Content-Type`` is added to a ``304``."""

    default_mimetype = None


def create_static_blueprint() -> Blueprint:
    """The blueprint that serves ``HEADY_PUBLIC_DIR`` under its URL prefix.

    Its rules depend on each app's settings, so they are added when it is
    registered: the mount point, ``<prefix>/<path>``, and ``<prefix>`` alone
    to redirect to the mount point, each for ``GET``, ``HEAD`` and
    ``OPTIONS``; other methods get a problem ``405``. With no public folder
    it adds nothing.
    """
    blueprint = Blueprint(BLUEPRINT_NAME, __name__)
    blueprint.record_once(_mount)
    return blueprint


def _mount(setup_state: BlueprintSetupState) -> None:
    app = cast(Flask, setup_state.app)
    state = edge_state(app)
    settings = state.settings
    if settings.public_dir is None:
        return

    mount = (setup_state.url_prefix or "").rstrip("/") + settings.static_url_prefix
    if mount and settings.is_guarded(mount):
        raise ConfigError(
            "HEADY_STATIC_URL_PREFIX",
            f"{mount!r} lies under HEADY_API_PREFIX {settings.api_prefix!r};"
            " the API prefix is never served from the public folder",
        )

    index = AssetIndex(
        settings.public_dir, settings.immutable_pattern, settings.static_autoreload
    )
    site = StaticSite(index, mount, settings.spa_fallback)
    state.parts[PART] = site

    app.url_map.converters[_CONVERTER] = _asset_path_converter(settings, mount)
    endpoint_prefix = f"{setup_state.name_prefix}.{setup_state.name}".lstrip(".")
    views = _Views(site)
    rules: list[tuple[str, str, Callable[..., Response]]] = [
        (f"{settings.static_url_prefix}/", "index", views.index),
        (f"{settings.static_url_prefix}/<{_CONVERTER}:filename>", "file", views.file),
    ]
    if mount:
        rules.append((settings.static_url_prefix, "mount", views.mount))

    for rule, endpoint, view in rules:
        setup_state.add_url_rule(
            rule,
            endpoint,
            view,
            methods=["GET", "HEAD", "OPTIONS"],
            provide_automatic_options=False,
            merge_slashes=False,
        )

    endpoints = {f"{endpoint_prefix}.{endpoint}": view for _, endpoint, view in rules}
    app.before_request(partial(_refuse_other_methods, endpoints))

    # Answer from the index in front of Flask where that changes nothing.
    app.wsgi_app = AssetDispatcher(  # type: ignore[method-assign]
        app, settings, site, endpoints, app.wsgi_app
    )


def _asset_path_converter(settings: Settings, mount: str) -> type[PathConverter]:
    """A ``path`` converter that never matches under the API prefix.

    With assets at the site root, ``/<path>`` would otherwise match
    ``/api/anything`` that no API route matches, and turn its ``404`` (or
    ``405``) into an answer of ours. Refusing it in the URL map keeps the
    API prefix wholly the app's.
    """
    regex = PathConverter.regex
    api_prefix = settings.api_prefix
    if api_prefix.startswith(mount + "/"):
        guarded = re.escape(api_prefix[len(mount) + 1 :])
        regex = rf"(?!{guarded}(?:/|\Z)){regex}"

    return type("AssetPathConverter", (PathConverter,), {"regex": regex})


def _refuse_other_methods(endpoints: Mapping[str, object]) -> Response | None:
    """A problem ``405`` for a method that an asset path does not take.

    Only where Flask's own routing refused the method (no rule of the app
    takes it at this path) and a ``GET`` of the path would reach one of our
    endpoints: a route of the app, and anything under the API prefix, keep
    Flask's answer. ``Allow`` names what every rule matching the path takes.
    Returned from the hook rather than raised, like the gateway's 401, so a
    host error handler for 405 cannot turn it into HTML, while the host's
    ``after_request`` hooks still run on it.
    """
    refused = request.routing_exception
    if not isinstance(refused, MethodNotAllowed):
        return None

    adapter = current_app.create_url_adapter(request)
    try:
        endpoint = adapter.match(method="GET")[0] if adapter is not None else None
    except HTTPException:
        return None

    if endpoint not in endpoints:
        return None

    return _to_response(method_not_allowed(refused.valid_methods or ("GET", "HEAD")))


class _Views:
    """The blueprint's views for one app, answering through Flask."""

    def __init__(self, site: StaticSite) -> None:
        self.site = site

    def index(self) -> Response:
        if request.method == "OPTIONS":
            return _options()

        return _to_response(self.site.answer("", request.environ))

    def file(self, filename: str) -> Response:
        if request.method == "OPTIONS":
            return _options()

        return _to_response(self.site.answer(filename, request.environ))

    def mount(self) -> Response:
        if request.method == "OPTIONS":
            return _options()

        return _to_response(self.site.answer_mount_redirect(request.environ))


def _options() -> Response:
    """``OPTIONS`` names what the path takes, as Flask's automatic answer did."""
    adapter = current_app.create_url_adapter(request)
    allowed = adapter.allowed_methods() if adapter is not None else ()
    return _to_response(options(allowed or ("GET", "HEAD", "OPTIONS")))


def _to_response(answer: Answer) -> Response:
    return AssetResponse(
        answer.body,
        status=answer.status,
        headers=answer.headers,
        direct_passthrough=True,
    )
