"""Flask glue for the static assets of ``HEADY_PUBLIC_DIR``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import cast

from flask import Blueprint, Flask, request
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import PathConverter
from werkzeug.wrappers import Response

from .assets import Answer, AssetIndex
from .config import Settings
from .dispatch import AssetDispatcher
from .errors import ConfigError
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
    to redirect to the mount point. With no public folder it adds nothing.
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
            rule, endpoint, view, methods=["GET", "HEAD"], merge_slashes=False
        )

    # Answer from the index in front of Flask where that changes nothing.
    app.wsgi_app = AssetDispatcher(  # type: ignore[method-assign]
        app,
        settings,
        site,
        {f"{endpoint_prefix}.{endpoint}": view for _, endpoint, view in rules},
        app.wsgi_app,
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


class _Views:
    """The blueprint's views for one app, answering through Flask."""

    def __init__(self, site: StaticSite) -> None:
        self.site = site

    def index(self) -> Response:
        return _to_response(self.site.answer("", request.environ))

    def file(self, filename: str) -> Response:
        return _to_response(self.site.answer(filename, request.environ))

    def mount(self) -> Response:
        return _to_response(self.site.answer_mount_redirect(request.environ))


def _to_response(answer: Answer) -> Response:
    return AssetResponse(
        answer.body,
        status=answer.status,
        headers=answer.headers,
        direct_passthrough=True,
    )
