"""HTTP answers for static files: validators, conditional requests, ranges, codings."""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from werkzeug import exceptions
from werkzeug.http import HTTP_STATUS_CODES, parse_date
from werkzeug.wsgi import FileWrapper

from .assets import OK, Answer, Asset, Representation
from .errors import PROBLEM_MEDIA_TYPE, MethodNotAllowed, NotFound, Problem

Environ = Mapping[str, Any]

#: Bytes read at a time from a file too large to keep in memory.
BLOCK_SIZE = 64 * 1024

# Aliases a recipient treats as the coding itself (RFC 9110 section 8.4.1.3).
_CODING_ALIASES = {"x-gzip": "gzip"}

# RFC 9110 section 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")

# An entity-tag in a list (RFC 9110 section 8.8.3): only quoted tags count.
_ENTITY_TAG = re.compile(r'(W/)?("[\x21\x23-\x7e\x80-\xff]*")')

# One range-spec of RFC 9110 section 14.1.1: an int-range or a suffix-range.
_RANGE_SPEC = re.compile(r"([0-9]*)-([0-9]*)", re.ASCII)

_STAMP = (("X-Content-Type-Options", "nosniff"), ("X-Heady-Served-By", "origin"))


class PreconditionFailed(Problem, exceptions.PreconditionFailed):
    problem_type = "urn:heady-edge:problem:precondition-failed"


class RangeNotSatisfiable(Problem, exceptions.RequestedRangeNotSatisfiable):
    problem_type = "urn:heady-edge:problem:range-not-satisfiable"

    def __init__(self, size: int) -> None:
        super().__init__(
            f"The representation is {size} bytes long; no requested byte is in it.",
            # RFC 9110 section 14.4: the current length, for the next try.
            [("Content-Range", f"bytes */{size}")],
        )


# Reason phrases as RFC 9110 section 15 words them (Werkzeug keeps the
# older "Requested Range Not Satisfiable").
_REASONS = {416: "Range Not Satisfiable"}


def _status(code: int) -> str:
    return f"{code} {_REASONS.get(code) or HTTP_STATUS_CODES[code]}"


_NO_CONTENT, _PARTIAL, _REDIRECT = _status(204), _status(206), _status(308)


def problem_answer(problem: Problem, head: bool = False) -> Answer:
    """A problem+json answer of the static part, never stored by caches."""
    body = problem.get_body().encode("utf-8")
    headers = [
        ("Content-Type", PROBLEM_MEDIA_TYPE),
        ("Content-Length", str(len(body))),
        ("Cache-Control", "no-store"),
        *problem.extra_headers,
        *_STAMP,
    ]
    return Answer(_status(problem.code or 500), headers, [] if head else [body])


def not_found(head: bool = False) -> Answer:
    return problem_answer(NotFound("No file is served at this path."), head)


def method_not_allowed(allowed: Iterable[str]) -> Answer:
    """RFC 9110 section 15.5.6: a ``405`` with the methods the path takes."""
    return problem_answer(MethodNotAllowed(allowed))


def options(allowed: Iterable[str]) -> Answer:
    """RFC 9110 section 9.3.7: what the path supports, in ``Allow``, no content.

    A ``204`` carries no ``Content-Length`` (RFC 9110 section 8.6).
    """
    return Answer(_NO_CONTENT, [("Allow", ", ".join(sorted(allowed))), *_STAMP], [])


def redirect(location: str) -> Answer:
    """A ``308`` to ``location``; re-checked on each use, as the tree may change."""
    headers = [
        ("Location", location),
        ("Content-Length", "0"),
        ("Cache-Control", "no-cache"),
        *_STAMP,
    ]
    return Answer(_REDIRECT, headers, [])


def respond(asset: Asset, environ: Environ) -> Answer:
    """Answer a ``GET`` or ``HEAD`` of ``asset`` (RFC 9110 sections 13 and 14)."""
    representation = asset.plain
    if asset.variants:
        representation = select_representation(
            asset, environ.get("HTTP_ACCEPT_ENCODING")
        )

    head = environ.get("REQUEST_METHOD") == "HEAD"
    try:
        if not _preconditions_hold(representation, environ):
            return representation.not_modified

        span = None
        range_value = environ.get("HTTP_RANGE")

        # Section 14.2: range handling is defined for GET only; section
        # 13.1.5: If-Range decides between the range and the whole.
        if (
            range_value
            and not head
            and if_range_holds(environ.get("HTTP_IF_RANGE"), representation)
        ):
            span = parse_byte_range(range_value, representation.size)
    except Problem as problem:
        return problem_answer(problem, head)

    return _send(representation, environ, span, head)


def select_representation(asset: Asset, accept_encoding: str | None) -> Representation:
    """The plain file or the sibling that ``Accept-Encoding`` prefers.

    Without the header, the plain file: the protocol asks for it, though
    RFC 9110 section 12.5.3 would allow any coding.
    """
    if accept_encoding is None:
        return asset.plain

    chosen = choose_coding(accept_encoding, asset.codings)
    for coding, representation in asset.variants:
        if coding == chosen:
            return representation

    return asset.plain


@functools.lru_cache(maxsize=256)
def choose_coding(accept_encoding: str, available: tuple[str, ...]) -> str | None:
    """The best of ``available`` codings by ``Accept-Encoding`` q-values.

    RFC 9110 section 12.5.3. Codings with ``q=0`` are never chosen; ``*``
    weighs the codings the field does not name; on a tie the earlier coding
    of ``available`` wins (``br`` before ``gzip``). The plain file is kept
    only when ``identity`` is named with a higher weight than the best
    coding. When nothing acceptable is available, even under
    ``identity;q=0``, the caller sends the plain file: section 12.1 lets a
    server disregard the field rather than answer ``406``.
    """
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, parameters = item.partition(";")
        coding = name.strip().lower()
        quality = _quality(parameters)
        if coding and quality is not None:
            weights.setdefault(_CODING_ALIASES.get(coding, coding), quality)

    fallback = weights.get("*", 0.0)
    best, best_quality = None, 0.0
    for coding in available:
        quality = weights.get(coding, fallback)
        if quality > best_quality:
            best, best_quality = coding, quality

    identity = weights.get("identity")
    if best is not None and identity is not None and identity > best_quality:
        return None

    return best


def _quality(parameters: str) -> float | None:
    """The ``q`` weight of a list item's parameters; None when malformed."""
    quality = 1.0
    for parameter in parameters.split(";"):
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "q":
            value = value.strip()
            if not _QVALUE.match(value):
                return None

            quality = float(value)

    return quality


def _preconditions_hold(representation: Representation, environ: Environ) -> bool:
    """Evaluate the preconditions in the order of RFC 9110 section 13.2.2.

    Returns False when the answer is ``304``; raises
    :class:`PreconditionFailed` for ``412``.
    """
    etag = representation.etag

    # Steps 1 and 2: If-Match (strong comparison), else If-Unmodified-Since.
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match:
        if if_match.strip() != "*" and not etag_in(if_match, etag, weak=False):
            raise PreconditionFailed("The entity-tag in If-Match is not current.")
    elif "HTTP_IF_UNMODIFIED_SINCE" in environ:
        since = parse_http_date(environ["HTTP_IF_UNMODIFIED_SINCE"])
        if since is not None and representation.last_modified > since:
            raise PreconditionFailed("The file changed after If-Unmodified-Since.")

    # Step 3: If-None-Match, with weak comparison; it makes Step 4 moot.
    if_none_match = environ.get("HTTP_IF_NONE_MATCH")
    if if_none_match:
        return not (
            if_none_match == etag
            or if_none_match.strip() == "*"
            or etag_in(if_none_match, etag, weak=True)
        )

    # Step 4: If-Modified-Since, only when If-None-Match is absent.
    if "HTTP_IF_MODIFIED_SINCE" not in environ:
        return True

    since = parse_http_date(environ["HTTP_IF_MODIFIED_SINCE"])
    return since is None or representation.last_modified > since


def etag_in(field_value: str, etag: str, weak: bool) -> bool:
    """Whether a list of entity-tags holds ``etag`` (RFC 9110 section 8.8.3.2).

    Weak comparison ignores the ``W/`` mark; strong comparison never matches
    a weak tag. Unquoted values are not entity-tags and match nothing
    (Werkzeug's ``parse_etags`` accepts them, hence this small parser).
    """
    for weak_mark, opaque_tag in _ENTITY_TAG.findall(field_value):
        if opaque_tag == etag and (weak or not weak_mark):
            return True

    return False


@functools.lru_cache(maxsize=64)
def parse_http_date(value: str | None) -> int | None:
    """Seconds since the epoch of an HTTP-date, in any of its three forms."""
    if not value:
        return None

    moment = parse_date(value)
    return None if moment is None else int(moment.timestamp())


def if_range_holds(value: str | None, representation: Representation) -> bool:
    """RFC 9110 section 13.1.5: send the range only if the validator is current.

    An entity-tag must match by strong comparison (a weak one never does);
    a date must equal the Last-Modified exactly.
    """
    if value is None:
        return True

    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == representation.etag

    return parse_http_date(value) == representation.last_modified


def parse_byte_range(value: str, size: int) -> tuple[int, int] | None:
    """The first and last byte of a single satisfiable range, or None to ignore.

    RFC 9110 section 14.2 lets a server ignore a ``Range`` it does not
    understand or is malformed, and we also ignore one with several ranges:
    such a request gets the whole file (``200``), never ``multipart``.
    Raises :class:`RangeNotSatisfiable` when the one range misses the file.
    """
    unit, equals, range_set = value.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return None

    specs = [spec.strip(" \t") for spec in range_set.split(",")]
    specs = [spec for spec in specs if spec]
    parts = _RANGE_SPEC.fullmatch(specs[0]) if len(specs) == 1 else None
    if parts is None or parts.group(1) == parts.group(2) == "":
        return None

    first_text, last_text = parts.groups()
    if not first_text:
        # A suffix-range: the last N bytes, or all of a shorter file.
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)

        return max(size - suffix, 0), size - 1

    first = int(first_text)
    if last_text and int(last_text) < first:
        return None

    if first >= size:
        raise RangeNotSatisfiable(size)

    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def is_navigation(environ: Environ) -> bool:
    """Whether a browser is loading a page: ``Sec-Fetch-Mode`` or ``Accept``.

    ``Accept`` must name ``text/html`` itself with a non-zero weight; ``*/*``
    is what scripts send and does not count.
    """
    if environ.get("HTTP_SEC_FETCH_MODE", "").strip().lower() == "navigate":
        return True

    accept = environ.get("HTTP_ACCEPT", "")
    if "text/html" not in accept.lower():
        return False

    for item in accept.split(","):
        media_range, _, parameters = item.partition(";")
        if media_range.strip().lower() == "text/html":
            return bool(_quality(parameters))

    return False


def _send(
    representation: Representation,
    environ: Environ,
    span: tuple[int, int] | None,
    head: bool,
) -> Answer:
    if span is None and representation.full is not None:
        return representation.head if head else representation.full

    handle = None
    if representation.content is None:
        # Read again for each answer, so sent only while it is still the very
        # file indexed: never other bytes under its ETag and Content-Length.
        # HEAD checks too, so that it answers as GET would.
        handle = representation.source.open()
        if handle is None:
            return not_found(head)

    if head:
        if handle is not None:
            handle.close()

        return representation.head

    if span is None:
        start, length = 0, representation.size
        status, headers = OK, representation.headers
    else:
        start, length = span[0], span[1] - span[0] + 1
        status = _PARTIAL
        headers = tuple(
            header for header in representation.headers if header[0] != "Content-Length"
        ) + (
            ("Content-Length", str(length)),
            ("Content-Range", f"bytes {span[0]}-{span[1]}/{representation.size}"),
        )

    body = _body(representation, handle, environ, start, length)
    return Answer(status, headers, body)


def _body(
    representation: Representation,
    handle: IO[bytes] | None,
    environ: Environ,
    start: int,
    length: int,
) -> Iterable[bytes]:
    if handle is None:
        return [(representation.content or b"")[start : start + length]]

    if start == 0 and length == representation.size:
        # The server's own file wrapper, when it has one, may use sendfile().
        wrapper = environ.get("wsgi.file_wrapper", FileWrapper)
        return wrapper(handle, BLOCK_SIZE)  # type: ignore[no-any-return]

    handle.seek(start)
    return FileSpan(handle, length)


class FileSpan:
    """Streams ``length`` bytes of an open file, then closes it."""

    def __init__(self, handle: IO[bytes], length: int) -> None:
        self.handle = handle
        self.remaining = length

    def __iter__(self) -> Iterator[bytes]:
        while self.remaining > 0:
            chunk = self.handle.read(min(BLOCK_SIZE, self.remaining))
            if not chunk:
                return

            self.remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.handle.close()
