"""Which ``{prefix}/hf/<path>`` may be forwarded: plain segments only."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_from_bytes, unquote, urlsplit

from .errors import BadUpstreamPath

# RFC 3986 2.3 unreserved characters; anything else in a segment could change
# which host or resource the upstream URL names.
_SEGMENT = re.compile(r"[A-Za-z0-9._~-]+")

# Query characters of RFC 3986 3.4, plus ``%`` so existing escapes pass as
# they came; any other byte is percent-encoded.
_QUERY_SAFE = "/?:@!$&'()*+,;=%-._~"


def checked_upstream_path(path: str, environ: Mapping[str, Any]) -> str:
    """``path`` as routed, if every segment is plain; else :class:`BadUpstreamPath`.

    Each segment, once decoded, must be letters, digits and ``-._~`` and
    neither ``.`` nor ``..``. The server has already decoded ``%2F`` into a
    ``/`` by the time routing sees the path, so the raw request target is
    compared too: an encoded slash shows up there as one segment where the
    decoded path has two.
    """
    segments = path.split("/")
    for segment in segments:
        if segment in {".", ".."} or not _SEGMENT.fullmatch(segment):
            raise BadUpstreamPath(
                "Each segment of the model path may hold only letters, digits"
                " and -._~, and may not be . or .."
            )

    raw_path = _raw_request_path(environ)
    if raw_path is not None:
        raw_tail = raw_path.split("/")[-len(segments) :]
        if [unquote(segment) for segment in raw_tail] != segments:
            raise BadUpstreamPath("The model path may not hold encoded slashes.")

    return path


def upstream_query(query_string: bytes) -> str:
    """The query to forward: as sent, with stray bytes percent-encoded."""
    return quote_from_bytes(query_string, safe=_QUERY_SAFE)


def _raw_request_path(environ: Mapping[str, Any]) -> str | None:
    """The path of the request target as the client wrote it, if the server
    tells (Werkzeug and Gunicorn set ``RAW_URI``, others ``REQUEST_URI``)."""
    target = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if not isinstance(target, str) or not target:
        return None

    # RFC 9112 3.2.2: a request target may be an absolute URI.
    if not target.startswith("/"):
        return urlsplit(target).path

    return target.split("?", 1)[0]
