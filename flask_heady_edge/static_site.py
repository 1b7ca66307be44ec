"""What each path under the static mount point answers: file, folder, shell or 404."""

from __future__ import annotations

from urllib.parse import quote

from .asset_names import is_safe_key
from .assets import Answer, AssetIndex
from .responders import Environ, is_navigation, not_found, redirect, respond

# Characters left as they are in a Location path (RFC 3986 pchar and "/").
_PATH_SAFE = "/!$&'()*+,;=:@-._~"


class StaticSite:
    """What each path under the mount point answers (PROTOCOL.md section 4).

    ``mount`` is the URL prefix (``""`` for the site root, else ``/admin``);
    keys are paths relative to it, already percent-decoded once.
    """

    def __init__(self, index: AssetIndex, mount: str, spa_fallback: bool) -> None:
        self.index = index
        self.mount = mount
        self.spa_fallback = spa_fallback

    def answer(self, key: str, environ: Environ) -> Answer:
        asset = self.index.find(key)
        if asset is not None:
            return respond(asset, environ)

        head = environ.get("REQUEST_METHOD") == "HEAD"
        if key and not is_safe_key(key.rstrip("/")):
            return not_found(head)

        # A folder that holds an index.html, named without its slash.
        if key and not key.endswith("/") and self.index.find(key + "/"):
            return redirect(self._location(environ, key + "/"))

        # Section 4.2: a browser navigation to a path with no file extension
        # gets the app shell; a missing asset (app.1a2b3c4d.js) never does.
        last_segment = key.rstrip("/").rpartition("/")[2]
        if self.spa_fallback and "." not in last_segment and is_navigation(environ):
            shell = self.index.find("")
            if shell is not None:
                return respond(shell, environ)

        return not_found(head)

    def answer_mount_redirect(self, environ: Environ) -> Answer:
        """``/admin`` to ``/admin/``, the mount point itself."""
        return redirect(self._location(environ, ""))

    def _location(self, environ: Environ, key: str) -> str:
        # SCRIPT_NAME holds the request's raw bytes as latin-1; keys are text.
        path = environ.get("SCRIPT_NAME", "").encode("latin-1")
        path += f"{self.mount}/{key}".encode()
        location = quote(path, safe=_PATH_SAFE)
        query = environ.get("QUERY_STRING")
        return f"{location}?{query}" if query else location
