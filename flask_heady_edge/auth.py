"""API-key check for guarded requests, in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable

API_KEY_HEADER = "x-heady-api-key"


class ApiKeys:
    """The configured keys; several may be valid at once, for rotation.

    Both sides are hashed with SHA-256 before they are compared, so the
    comparison always runs over 32 bytes: its time depends neither on where a
    guess differs nor on how long it is. Every configured key is compared,
    even after a match, so the time does not tell which key matched either.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        self._digests = tuple(_digest(key.encode("utf-8")) for key in keys)

    def verify(self, presented: str | None) -> bool:
        if presented is None:
            return False

        # WSGI hands header values over as latin-1 decoded strings (PEP 3333),
        # so encoding back to latin-1 recovers the bytes the client sent.
        # Surrounding spaces and tabs are not part of a field value (RFC 9110
        # 5.5), whatever the server left of them.
        try:
            digest = _digest(presented.strip(" \t").encode("latin-1"))
        except UnicodeEncodeError:
            return False

        matched = False
        for key_digest in self._digests:
            matched |= hmac.compare_digest(digest, key_digest)

        return matched


def _digest(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()
