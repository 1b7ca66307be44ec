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

# A ``%`` that does not start an escape (RFC 3986 2.1). Left bare, it would
# make requests re-quote every ``%`` of the query, valid escapes included.
_STRAY_PERCENT = re.compile(rb"%(?![0-9A-Fa-f]{2})")


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


def upstream_query(environ: Mapping[str, Any]) -> str:
    """The query to forward: the bytes the client sent, with any byte outside
    RFC 3986's query characters, and any ``%`` that starts no escape,
    percent-encoded. Existing escapes pass as they came."""
    query = _raw_query(environ)
    return quote_from_bytes(_STRAY_PERCENT.sub(b"%25", query), safe=_QUERY_SAFE)


def _raw_query(environ: Mapping[str, Any]) -> bytes:
    """The query's bytes as they came over the wire.

    PEP 3333 hands them over as a latin-1 string. Werkzeug's development
    server instead encodes that latin-1 string once more as UTF-8 (see
    ``make_environ`` in ``werkzeug.serving``), so a raw ``\xff`` would arrive
    as ``\xc3\xbf``; that encoding is undone for it, known by the socket it
    alone puts in the environ.
    """
    query_string: str = environ.get("QUERY_STRING", "")
    query = query_string.encode("latin-1")
    if "werkzeug.socket" not in environ:
        return query

    try:
        return query.decode("utf-8").encode("latin-1")
    except (UnicodeDecodeError, UnicodeEncodeError):
        # Not what Werkzeug's encoding produces: keep it as it is.
        return query


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
