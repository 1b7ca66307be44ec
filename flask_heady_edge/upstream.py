"""The upstream inference server: one pooled session, and the headers both ways."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator, Mapping
from http.client import HTTPException
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests import PreparedRequest
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from urllib3.exceptions import DecodeError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.response import HTTPResponse

from . import __version__
from .cache_key import HeaderSource
from .errors import (
    Problem,
    UpstreamCutShort,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from .structured_fields import is_structured_list

logger = logging.getLogger(__name__)

USER_AGENT = f"flask-heady-edge/{__version__}"

#: Request headers a client may pass on to the upstream (protocol 3.3).
#: ``X-HF-Bill-To`` is left out on purpose: it would bill the server's account.
FORWARDED_REQUEST_HEADERS = (
    "Content-Type",
    "Accept",
    "x-use-cache",
    "x-wait-for-model",
)

#: Response headers relayed back, and kept with a cached answer (protocol 3.4).
_RELAYED = frozenset({"content-type", "retry-after", "x-request-id"})
_RELAYED_PREFIX = "x-compute-"

#: The upstream's quota fields: relayed with a fresh answer, never stored,
#: since a cached answer costs the upstream quota nothing.
QUOTA_HEADERS = ("RateLimit", "RateLimit-Policy")

#: Connections kept open to the upstream; more concurrent calls still work,
#: their connections are just not kept.
POOL_SIZE = 64

#: Bytes asked of the socket per read while relaying.
READ_SIZE = 64 * 1024

#: What reading an answer's body can raise. urllib3 wraps socket and
#: http.client errors in its own, but a read it does not wrap (one racing a
#: close, say) must still end as a 502 or a cut, never as a 500.
READ_ERRORS = (Urllib3Error, HTTPException, OSError)

# RFC 9110 5.5: CR, LF and NUL must not be passed on in a field value, and no
# other control character is valid there either (servers such as Gunicorn
# refuse to send them); each is replaced with a space.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")

# RFC 9110 5.1: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")

Header = tuple[str, str]


class Upstream:
    """Sends inference requests to ``base_url`` over one keep-alive pool.

    Redirects are relayed, never followed, and cookies the upstream sets are
    never kept: one client's cookie must not ride along with another's call.
    Failure policy: unreachable is a 502, no answer within ``timeout``
    seconds a 504, and an answer that is not valid HTTP (a status outside
    200 to 599, framing ``requests`` cannot parse, a content coding that was
    not asked for) a 502 too; the start of a run of failures is logged once
    at WARNING and its end at INFO.
    """

    def __init__(self, base_url: str, token: str | None, timeout: float) -> None:
        self.base_url = base_url
        self.timeout = timeout
        self.session = _pooled_session(token)
        self._failing_since: float | None = None

    @property
    def public_base_url(self) -> str:
        """The base URL without any user or password in it, for reports."""
        parts = urlsplit(self.base_url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"

        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))

    def send(
        self, path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> requests.Response:
        """POST ``body`` to ``{base_url}/{path}?{query}``; the body stays unread.

        Raises a :class:`Problem` (502 or 504) when no answer fit to relay
        comes back.
        """
        url = f"{self.base_url}/{path}?{query}" if query else f"{self.base_url}/{path}"
        try:
            response = self.session.post(
                url,
                data=body,
                headers=dict(headers),
                timeout=self.timeout,
                allow_redirects=False,
                stream=True,
            )
        except requests.Timeout as error:
            self._mark_failing(error)
            raise UpstreamTimeout(
                f"The inference server did not answer within {self.timeout:g} seconds."
            ) from None
        except requests.ConnectionError as error:
            self._mark_failing(error)
            raise UpstreamUnreachable(
                "The inference server cannot be reached."
            ) from None
        except requests.RequestException as error:
            # Neither a connection error nor a timeout: the upstream answered
            # with something requests cannot parse (conflicting
            # Content-Length values, say).
            self._mark_failing(error)
            raise UpstreamInvalid(
                "The inference server's answer is not valid HTTP."
            ) from None

        try:
            _check_answer(response)
        except UpstreamInvalid as problem:
            # The connection may hold the rest of a message we did not read;
            # it must not go back to the pool.
            response.close()
            self._mark_failing(problem)
            raise

        self._mark_answering()
        return response

    def health(self) -> dict[str, Any]:
        """The upstream as last seen by a request; no probe is sent."""
        return {
            "state": "down" if self._failing_since is not None else "ok",
            "base_url": self.public_base_url,
            "timeout": self.timeout,
        }

    def _mark_failing(self, error: Exception) -> None:
        logger.debug("Inference server call failed: %s", type(error).__name__)
        if self._failing_since is None:
            self._failing_since = time.time()
            logger.warning(
                "Inference server %s failing (%s); answering 502/504 until"
                " it recovers",
                self.public_base_url,
                type(error).__name__,
            )

    def _mark_answering(self) -> None:
        if self._failing_since is not None:
            logger.info(
                "Inference server %s answers again after %.1f seconds",
                self.public_base_url,
                time.time() - self._failing_since,
            )
            self._failing_since = None


def _check_answer(response: requests.Response) -> None:
    """Refuse an answer that cannot be relayed as it is.

    RFC 9110 15: a final status lies between 200 and 599; a 1xx here is an
    interim answer that http.client took for the final one. And a body in a
    content coding urllib3 cannot decode would reach the client as bytes
    labelled with the wrong type, since ``Content-Encoding`` is not relayed.
    """
    status = response.status_code
    if not 200 <= status <= 599:
        raise UpstreamInvalid(
            f"The inference server answered with status {status}, which is not"
            " a final HTTP status."
        )

    encoding = ", ".join(response.raw.headers.getlist("Content-Encoding"))
    codings = {coding.strip() for coding in encoding.lower().split(",")} - {""}
    if not codings <= {*HTTPResponse.CONTENT_DECODERS, "identity"}:
        raise UpstreamInvalid(
            "The inference server's answer uses a content coding that was not"
            " asked for."
        )


def forwarded_headers(headers: HeaderSource) -> dict[str, str]:
    """The allow-listed request headers; everything else stays here."""
    return {
        name: headers[name] for name in FORWARDED_REQUEST_HEADERS if name in headers
    }


def relayed_headers(response: requests.Response) -> tuple[list[Header], list[Header]]:
    """The headers to relay, and the upstream's quota fields apart.

    Each quota field is joined into one structured-field list (RFC 9651 4.2:
    several field lines of a list are one list) so ours can be put in front;
    a field that does not parse as such a list is dropped whole, since a
    client would then throw the whole field away, our items with it (RFC 9651
    4.2). ``Content-Length``, ``Content-Encoding``
    and ``Transfer-Encoding`` are never copied: the body is decoded and
    re-framed here.
    """
    relayed = []
    raw_headers = response.raw.headers
    for name, value in raw_headers.items():
        lowered = name.lower()
        if lowered in _RELAYED or (
            lowered.startswith(_RELAYED_PREFIX) and _TOKEN.fullmatch(name)
        ):
            relayed.append((name, _CONTROL.sub(" ", value)))

    quota = []
    for name in QUOTA_HEADERS:
        lines = [line.strip(" \t") for line in raw_headers.getlist(name)]
        value = ", ".join(line for line in lines if line)
        if value and is_structured_list(value):
            quota.append((name, value))
        elif value:
            logger.debug("Inference server sent a malformed %s field; dropped", name)

    return relayed, quota


def read_up_to(response: requests.Response, limit: int) -> tuple[bytes, bool]:
    """Read until past ``limit`` bytes; return them and whether that was all.

    A ``limit`` of 0 waits for the first bytes only. Raises
    :class:`UpstreamTimeout`, :class:`UpstreamCutShort` or
    :class:`UpstreamInvalid` when the upstream stalls, stops before its
    declared end, or sends a body that cannot be decoded.
    """
    raw = response.raw
    parts: list[bytes] = []
    size = 0
    try:
        while size <= limit:
            data = raw.read1(READ_SIZE, decode_content=True)
            if not data:
                return b"".join(parts), True

            parts.append(data)
            size += len(data)
    except READ_ERRORS as error:
        response.close()
        raise _read_problem(error) from None

    return b"".join(parts), False


def _read_problem(error: BaseException) -> Problem:
    if isinstance(error, ReadTimeoutError):
        return UpstreamTimeout("The inference server stopped sending its answer.")

    if isinstance(error, DecodeError):
        return UpstreamInvalid(
            "The inference server's answer does not decode as its"
            " Content-Encoding says."
        )

    return UpstreamCutShort("The inference server's answer was cut short.")


class RelayedBody:
    """The rest of an upstream body, relayed as it arrives.

    Each read returns what the socket has, so an event stream reaches the
    client event by event. Once bytes have gone out, a failure can no longer
    become a 502: the error is re-raised so the server drops the connection
    and the client sees a cut, not a short answer that looks complete.
    :meth:`close` (which WSGI servers call, even on a body never iterated)
    frees the upstream connection of a client that walked away.
    """

    def __init__(self, response: requests.Response, first: bytes = b"") -> None:
        self.response = response
        self.first = first
        self.finished = False

    def __iter__(self) -> Iterator[bytes]:
        raw = self.response.raw
        if self.first:
            yield self.first

        try:
            while data := raw.read1(READ_SIZE, decode_content=True):
                yield data
        except READ_ERRORS as error:
            logger.warning(
                "Inference server's relayed answer broke off (%s)",
                type(error).__name__,
            )
            raise

        # Read to its end: the connection goes back to the pool.
        self.finished = True

    def close(self) -> None:
        if not self.finished:
            self.response.close()


class _ServerToken(AuthBase):
    """``Authorization: Bearer HEADY_HF_TOKEN``, or nothing without a token.

    Set as the session's auth, it also keeps requests from reaching for
    ``~/.netrc`` or credentials in the base URL, which would replace it.
    """

    def __init__(self, token: str | None) -> None:
        self._authorization = f"Bearer {token}" if token else None

    def __call__(self, request: PreparedRequest) -> PreparedRequest:
        if self._authorization:
            request.headers["Authorization"] = self._authorization

        return request


def _pooled_session(token: str | None) -> requests.Session:
    session = requests.Session()
    session.auth = _ServerToken(token)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)

    # Only these go out on every call; requests' own ``Accept: */*`` would
    # stand in for a client that sent none.
    session.headers.clear()
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept-Encoding"] = requests.utils.DEFAULT_ACCEPT_ENCODING
    session.headers["Connection"] = "keep-alive"
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return session
