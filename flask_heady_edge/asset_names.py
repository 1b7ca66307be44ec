"""What a file's name decides: its type, whether it is content-hashed, if it is safe."""

from __future__ import annotations

import mimetypes
import os
import re

#: The one dot-folder that may be served (RFC 8615 well-known URIs).
WELL_KNOWN = ".well-known"

# Types fixed here so that they do not depend on the host's MIME table
# (``/etc/mime.types`` maps ``.js`` to ``application/x-javascript`` on some).
_TEXT = "; charset=utf-8"
CONTENT_TYPES = {
    ".html": "text/html" + _TEXT,
    ".htm": "text/html" + _TEXT,
    ".js": "text/javascript" + _TEXT,
    ".mjs": "text/javascript" + _TEXT,
    ".cjs": "text/javascript" + _TEXT,
    ".css": "text/css" + _TEXT,
    ".txt": "text/plain" + _TEXT,
    ".csv": "text/csv" + _TEXT,
    ".md": "text/markdown" + _TEXT,
    ".xml": "application/xml",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".wasm": "application/wasm",
    ".pdf": "application/pdf",
    ".svg": "image/svg+xml",
    ".ico": "image/x-icon",
    ".png": "image/png",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".gif": "image/gif",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".mp3": "audio/mpeg",
    ".gz": "application/gzip",
    ".br": "application/octet-stream",
}
OCTET_STREAM = "application/octet-stream"

# Python's built-in table only: an instance made without file names does not
# read the host's MIME files, so unlisted types agree across hosts too.
_BUILTIN_TYPES = mimetypes.MimeTypes()

# A part of 8 or more hex digits, at least one of them a letter, set off by
# ".", "-" or "_" (or the start or end of the name): app.3f9a2c1b.js.
_HASHED_PART = re.compile(
    r"(?:^|[._-])(?=[0-9]*[a-f])[0-9a-f]{8,}(?=[._-]|$)", re.IGNORECASE
)

_CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\\]")


def content_type_for(name: str) -> str:
    """The ``Content-Type`` of a file name, the same on every host."""
    extension = os.path.splitext(name)[1].lower()
    fixed = CONTENT_TYPES.get(extension)
    if fixed is not None:
        return fixed

    guessed, encoding = _BUILTIN_TYPES.guess_type(name, strict=False)
    if guessed is None or encoding is not None:
        return OCTET_STREAM

    if guessed.startswith("text/"):
        return guessed + _TEXT

    return guessed


def is_content_hashed(name: str, pattern: re.Pattern[str] | None = None) -> bool:
    """Whether a file name carries a content hash, so it may be cached forever."""
    if pattern is not None:
        return pattern.search(name) is not None

    return _HASHED_PART.search(name) is not None


def is_safe_key(key: str) -> bool:
    """Whether a relative URL path may name a file of the folder at all.

    Refuses what could step out of the folder or reveal what is hidden in
    it: empty, ``.`` and ``..`` segments (so no leading slash either),
    backslashes, control characters, and dotfiles or dot-folders other than
    a leading ``.well-known``. The key is already percent-decoded once by the
    server and is never decoded again.
    """
    if not key or _CONTROL_CHARACTERS.search(key):
        return False

    for position, segment in enumerate(key.split("/")):
        if not segment or segment in {".", ".."}:
            return False

        if segment.startswith(".") and not (position == 0 and segment == WELL_KNOWN):
            return False

    return True
