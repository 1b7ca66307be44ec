"""The inference cache key: a SHA-256 over what makes an upstream answer differ."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from werkzeug.datastructures import Headers

#: Request headers: a plain mapping, or Werkzeug's case-insensitive ``Headers``.
HeaderSource = Mapping[str, str] | Headers

#: Bumped whenever the hashed material changes, so old entries are never read.
KEY_VERSION = b"heady-edge-hf-1"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What the proxy learns from a request's headers and body in one pass."""

    key: str
    media_type: str
    #: A JSON body that asks for ``"stream": true`` (protocol 3.8).
    streaming: bool


def media_type_of(content_type: str | None) -> str:
    """``Application/JSON; charset=utf-8`` -> ``application/json``.

    RFC 9110 8.3.1: type and subtype are case-insensitive, and parameters
    such as ``charset`` do not change which model answers.
    """
    if not content_type:
        return ""

    return content_type.split(";", 1)[0].strip().lower()


def is_json_media_type(media_type: str) -> bool:
    """``application/json`` and any ``+json`` structured syntax (RFC 6839)."""
    return media_type == "application/json" or media_type.endswith("+json")


def canonical_json(body: bytes) -> tuple[bytes, object] | None:
    """The body re-serialised with sorted keys, no spaces and unescaped Unicode.

    Returns the canonical bytes and the parsed value, or ``None`` when the body
    is not JSON. Lone surrogates written as ``\\ud800`` escapes survive the
    round trip, so two different bodies never collapse into one. A body
    nested too deeply for Python's recursion limit, in either direction, is
    hashed as its bytes too.
    """
    try:
        value = json.loads(body)
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
    except (ValueError, RecursionError):
        return None

    return text.encode("utf-8", "surrogatepass"), value


def describe_request(
    method: str,
    path: str,
    query: str,
    headers: HeaderSource,
    body: bytes,
) -> RequestFacts:
    """Key and stream flag of one inference request.

    Only the method, the upstream path and query, the media type, ``Accept``
    and the body are hashed. Credentials (``Authorization``,
    ``x-heady-api-key``, cookies) and tracing headers are left out on
    purpose: every client reaches the upstream with the same server token,
    so the answer does not depend on who asked.
    """
    media_type = media_type_of(headers.get("Content-Type"))
    accept = (headers.get("Accept") or "").strip()

    hashed_body = body
    streaming = False
    # A body is read as JSON when it says so, or says nothing (clients often
    # post JSON untyped); one that does not parse is hashed as its bytes.
    if is_json_media_type(media_type) or not media_type:
        canonical = canonical_json(body)
        if canonical is not None:
            hashed_body, value = canonical
            streaming = isinstance(value, dict) and value.get("stream") is True

    key = cache_key_for(method, path, query, media_type, accept, hashed_body)
    return RequestFacts(key, media_type, streaming)


def cache_key_for(
    method: str, path: str, query: str, media_type: str, accept: str, body: bytes
) -> str:
    """Hex SHA-256 over the fields, each length-prefixed so none can bleed
    into the next (``a`` + ``bc`` never hashes like ``ab`` + ``c``)."""
    digest = hashlib.sha256(KEY_VERSION)
    for field in (
        method.upper().encode("ascii"),
        path.encode("utf-8"),
        query.encode("utf-8"),
        media_type.encode("utf-8"),
        # WSGI header values are latin-1 strings of the raw bytes (PEP 3333).
        accept.encode("latin-1", "replace"),
        body,
    ):
        digest.update(len(field).to_bytes(8, "big"))
        digest.update(field)

    return digest.hexdigest()
