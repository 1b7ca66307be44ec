"""Answering asset requests in front of Flask, when Flask would add nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, signals
from werkzeug.exceptions import HTTPException

from .assets import Answer
from .config import Settings
from .static_site import StaticSite

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Routing decisions kept per method; past this many the cache starts over,
#: so a stream of made-up paths cannot grow it without end.
ROUTE_CACHE_SIZE = 4096

_PACKAGE = __name__.rpartition(".")[0]

# Receivers of these signals expect every request to pass through Flask.
_REQUEST_SIGNALS = (
    signals.request_started,
    signals.request_finished,
    signals.request_tearing_down,
    signals.got_request_exception,
)

# A path's routing decision: (our endpoint, the asset key), or not ours.
Route = tuple[str, str]
_NOT_OURS: Route = ("", "")


class AssetDispatcher:
    """WSGI middleware that answers asset requests before Flask builds a context.

    It answers only when that changes nothing: the app's URL map (every rule
    of the app, so the app's own routes still win) sends the request to one
    of the static blueprint's endpoints, the app still maps that endpoint to
    our view, and no hook or request signal receiver would run for it apart
    from this package's own, which act only under the API prefix or on
    methods other than GET and HEAD. Otherwise the request goes through
    Flask as usual, to the same view and the same answer.

    Matching a path against the URL map costs more than answering a file,
    so each path's decision is remembered, and that is sound only while the
    app's routes and hooks cannot change. Flask itself closes the app's
    setup when it handles its first request (later ``add_url_rule``,
    ``register_blueprint`` or ``before_request`` calls raise), so nothing is
    answered here until Flask has handled one: the first request of each
    process goes through Flask whatever it is. That state is Flask's own
    ``_got_first_request`` flag, only ever read here; were it to disappear
    from a later Flask, every request would go through Flask, correct but
    slower, and the dispatch tests would say so. (Rules or hooks put straight
    into Flask's dictionaries bypass that lock; Flask does not apply those
    consistently either.)

    The middleware keeps the app: it is the app's own ``wsgi_app`` and reads
    the app's URL map, views and hooks on each request, as the bound
    ``app.wsgi_app`` it wraps keeps the app too.
    """

    def __init__(
        self,
        app: Flask,
        settings: Settings,
        site: StaticSite,
        views: dict[str, Callable[..., Any]],
        wsgi_app: WSGIApp,
    ) -> None:
        self.app = app
        self.settings = settings
        self.site = site
        self.views = views
        self.wsgi_app = wsgi_app
        self.routes: dict[str, dict[str, Route]] = {"GET": {}, "HEAD": {}}
        self.url_map = app.url_map

        #: Flask's flag as last seen: whether the app's setup is closed.
        self.setup_closed: object = False
        #: Whether the setup is closed and every hook that would run for an
        #: asset is our own, so answering here changes nothing.
        self.may_answer = False

        # Hooks are stored per blueprint name; ours and its parents apply.
        names = next(iter(views)).split(".")[:-1]
        self.scopes: tuple[str | None, ...] = (None,) + tuple(
            ".".join(names[:depth]) for depth in range(len(names), 0, -1)
        )
        self.hook_places = [
            (registry, scope)
            for registry in (
                app.url_value_preprocessors,
                app.before_request_funcs,
                app.after_request_funcs,
                app.teardown_request_funcs,
            )
            for scope in self.scopes
        ]

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        routes = self.routes.get(environ.get("REQUEST_METHOD", ""))
        answer = None
        if routes is not None and self._only_we_act(environ):
            answer = self._answer(routes, environ)

        if answer is None:
            return self.wsgi_app(environ, start_response)

        # A fresh list: PEP 3333 wants one, and middleware may append to it.
        start_response(answer.status, list(answer.headers))
        return answer.body

    def _answer(
        self, routes: dict[str, Route], environ: dict[str, Any]
    ) -> Answer | None:
        if self.app.url_map is not self.url_map:
            self.url_map = self.app.url_map
            for cache in self.routes.values():
                cache.clear()

        path = environ.get("PATH_INFO", "")
        route = routes.get(path)
        if route is None:
            # Never ours, and never remembered: API paths are without end.
            if self.settings.is_guarded(path):
                return None

            route = self._route(routes, path, environ)

        endpoint, key = route
        view = self.views.get(endpoint)
        if view is None or self.app.view_functions.get(endpoint) is not view:
            return None

        if endpoint.endswith(".mount"):
            return self.site.answer_mount_redirect(environ)

        return self.site.answer(key, environ)

    def _route(
        self, routes: dict[str, Route], path: str, environ: dict[str, Any]
    ) -> Route:
        """Match like Flask does, and remember it when no host can change it."""
        app = self.app
        try:
            probe = app.request_class(environ, populate_request=False)
            adapter = app.create_url_adapter(probe)
            if adapter is None:
                return _NOT_OURS

            rule, arguments = adapter.match(return_rule=True)
        except HTTPException:
            # No match, a slash redirect, a 405 or an untrusted host: Flask's
            # own answer, each time.
            return _NOT_OURS

        route = (rule.endpoint, arguments.get("filename", ""))
        host_free = not (
            app.url_map.host_matching
            or app.subdomain_matching
            or app.config.get("TRUSTED_HOSTS") is not None
        )
        if host_free:
            # Only asked once the app's setup is closed: the decision holds.
            if len(routes) >= ROUTE_CACHE_SIZE:
                routes.clear()

            routes[path] = route

        return route

    def _only_we_act(self, environ: dict[str, Any]) -> bool:
        """Whether Flask would run nothing but our view for this request."""
        # The test client keeps the context for inspection after the request;
        # an upgrade request may meet websocket rules.
        if "werkzeug.debug.preserve_context" in environ or "HTTP_UPGRADE" in environ:
            return False

        for signal in _REQUEST_SIGNALS:
            if signal.receivers:
                return False

        # Flask's own flag, only read (see the class doc); True and False
        # are single objects, so an identity test tells a change.
        setup_closed = getattr(self.app, "_got_first_request", False)
        if setup_closed is not self.setup_closed:
            self._setup_changed(setup_closed)

        return self.may_answer

    def _setup_changed(self, closed: bool) -> None:
        """Flask closed the app's setup at last, or opened it again.

        Flask reopens it when its development server stops. Either way the
        decisions taken before may not hold. Once closed, Flask refuses new
        hooks, so whether all of them are our own is decided here, once.
        """
        for cache in self.routes.values():
            cache.clear()

        self.may_answer = closed is True and all(
            _is_own_hook(hook)
            for registry, scope in self.hook_places
            for hook in registry.get(scope, ())
        )
        self.setup_closed = closed


def _is_own_hook(hook: Any) -> bool:
    function = getattr(hook, "func", hook)  # a functools.partial
    module = getattr(function, "__module__", None) or ""
    return module.startswith(_PACKAGE + ".")
