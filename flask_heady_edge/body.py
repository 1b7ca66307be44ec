"""A size cap on request bodies that holds for chunked bodies too."""

from __future__ import annotations

import importlib
import io
from typing import IO

from werkzeug.exceptions import ClientDisconnected

from .errors import BodyTooLarge, IncompleteBody


def _unreadable_body_errors() -> tuple[type[Exception], ...]:
    """What reading a body the server cannot decode raises.

    Werkzeug turns an ``OSError`` of the server's stream (most servers, older
    Gunicorn releases) into ``ClientDisconnected``; recent Gunicorn releases
    raise their own ``ParseException`` family instead, for a malformed chunk
    size or chunk terminator.
    """
    errors: list[type[Exception]] = [ClientDisconnected, OSError]
    try:
        errors.append(importlib.import_module("gunicorn.http.errors").ParseException)
    except (ImportError, AttributeError):
        pass

    return tuple(errors)


UNREADABLE_BODY = _unreadable_body_errors()


class CappedBody(io.RawIOBase):
    """The ``wsgi.input`` of a body sent without ``Content-Length``.

    Werkzeug caps such a body at ``max_content_length`` by ending it there,
    so a view would take the first part of a larger body for the whole of
    it. This answers 413 as soon as more than ``limit`` bytes arrive instead,
    and 400 when the server fails to decode the body (a malformed chunk
    size, a connection cut mid-chunk).
    """

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        super().__init__()
        self.stream = stream
        self.limit = limit
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        # One byte past the limit is enough to know that the body is too large.
        wanted = min(len(buffer), self.limit + 1 - self.received)
        try:
            data = self.stream.read(wanted)
        except UNREADABLE_BODY as error:
            raise IncompleteBody(
                "The request body could not be read to its end."
            ) from error

        self.received += len(data)
        if self.received > self.limit:
            raise BodyTooLarge(self.limit)

        buffer[: len(data)] = data
        return len(data)
