"""Single requests that check a server answers as a row assumes, before it is loaded."""

from __future__ import annotations

import http.client
import json
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from load import Request


class CheckError(RuntimeError):
    """A server answered differently from what the row measures."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def fetch(base_url: str, request: Request, timeout: float = 30.0) -> Answer:
    """Send ``request`` once; header names of the answer are lowercased."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(
        parts.hostname or "127.0.0.1", parts.port, timeout=timeout
    )
    sent = request.body
    if request.unique_bodies:
        sent = json.dumps({"inputs": uuid.uuid4().hex})

    try:
        connection.request(
            request.method,
            request.path,
            body=sent.encode() if sent is not None else None,
            headers=request.headers,
        )
        response = connection.getresponse()
        body = response.read()
        headers = {name.lower(): value for name, value in response.getheaders()}
        return Answer(response.status, headers, body)
    finally:
        connection.close()


def expect(
    base_url: str,
    request: Request,
    status: int,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
) -> Answer:
    """Fetch once and raise :class:`CheckError` unless the answer is as given.

    A header expected as ``""`` only has to be present.
    """
    answer = fetch(base_url, request)
    wrong = []
    if answer.status != status:
        wrong.append(f"status {answer.status}, not {status}")

    for name, value in (headers or {}).items():
        found = answer.headers.get(name.lower())
        if found is None or (value and found != value):
            wrong.append(f"{name}: {found!r}, not {value or 'present'!r}")

    if body is not None and answer.body != body:
        wrong.append(f"a body of {len(answer.body)} bytes, not the expected one")

    if wrong:
        raise CheckError(
            f"{request.method} {base_url}{request.path}: " + "; ".join(wrong)
        )

    return answer
