"""A size cap on request bodies that holds for chunked bodies too."""

from __future__ import annotations

import io
from typing import IO

from .errors import BodyTooLarge, IncompleteBody


class CappedBody(io.RawIOBase):
    """The ``wsgi.input`` of a body sent without ``Content-Length``.

    Werkzeug caps such a body at ``max_content_length`` by ending it there,
    so a view would take the first part of a larger body for the whole of
    it. This answers 413 as soon as more than ``limit`` bytes arrive instead,
    and 400 when the server fails to decode the body (a malformed chunk
    size, a connection cut mid-chunk), which servers signal with OSError.
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
        except OSError as error:
            raise IncompleteBody(
                "The request body could not be read to its end."
            ) from error

        self.received += len(data)
        if self.received > self.limit:
            raise BodyTooLarge(self.limit)

        buffer[: len(data)] = data
        return len(data)
