"""The inference proxy's decisions: look up, collapse, forward, store, answer."""

from __future__ import annotations

import enum
import json
import logging
import math
from dataclasses import dataclass

import requests
from flask import Flask, Response
from werkzeug.wrappers import Response as BaseResponse

from .cache_key import HeaderSource, describe_request, media_type_of
from .config import Settings
from .errors import Problem, UpstreamTimeout
from .inference_cache import Answer, Entry, Header, InferenceCache
from .single_flight import Lead, LocalFlights, Outcome, RedisFlights
from .upstream import (
    RelayedBody,
    Upstream,
    forwarded_headers,
    read_up_to,
    relayed_headers,
)

logger = logging.getLogger(__name__)

#: Answers up to this size are read whole even when too large to store, so
#: an error body can be shared with waiters and its ``estimated_time`` read.
MIN_BUFFER = 64 * 1024

_FALSE = {"false", "0", "no", "off"}

HIT, MISS, BYPASS = "HIT", "MISS", "BYPASS"


class CachePolicy(enum.Enum):
    #: Look up, join identical misses, store (protocol 3.5 to 3.7, 3.9).
    USE = "use"
    #: ``x-use-cache: false`` or ``Cache-Control: no-cache``: skip the lookup,
    #: refresh the entry with a storable answer (3.8).
    REFRESH = "refresh"
    #: ``Cache-Control: no-store`` or a JSON ``"stream": true``: neither read
    #: nor write nor join (3.8).
    SKIP = "skip"


@dataclass(frozen=True, slots=True)
class InferenceRequest:
    """A checked request, ready to be looked up or forwarded."""

    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    key: str
    policy: CachePolicy

    @classmethod
    def build(
        cls, path: str, query: str, headers: HeaderSource, body: bytes
    ) -> InferenceRequest:
        facts = describe_request("POST", path, query, headers, body)
        policy = cache_policy(headers, facts.streaming)
        forwarded = forwarded_headers(headers)
        if policy is CachePolicy.REFRESH:
            # Protocol 3.8: the upstream skips its own cache too, told in the
            # one spelling it knows, whichever way the client asked.
            forwarded["x-use-cache"] = "false"

        return cls(path, query, forwarded, body, facts.key, policy)


def cache_policy(headers: HeaderSource, streaming: bool) -> CachePolicy:
    """How the cache treats a request, from its headers and stream flag."""
    if streaming:
        return CachePolicy.SKIP

    # RFC 9111 5.2.1: directive names are case-insensitive tokens.
    directives = {
        directive.split("=", 1)[0].strip().lower()
        for directive in headers.get("Cache-Control", "").split(",")
    }
    if "no-store" in directives:
        return CachePolicy.SKIP

    use_cache = headers.get("x-use-cache", "").strip().lower()
    if "no-cache" in directives or use_cache in _FALSE:
        return CachePolicy.REFRESH

    return CachePolicy.USE


class RelayedResponse(Response):
    """A response that names no media type unless the upstream named one."""

    default_mimetype = None


class InferenceProxy:
    """Answers inference requests from the cache or the upstream, per app."""

    def __init__(
        self,
        upstream: Upstream,
        cache: InferenceCache,
        max_bytes: int,
        shared: RedisFlights | None = None,
    ) -> None:
        self.upstream = upstream
        self.cache = cache
        self.max_bytes = max_bytes
        self.buffer_limit = max(max_bytes, MIN_BUFFER)
        self.local = LocalFlights()
        self.shared = shared

    @classmethod
    def for_app(cls, app: Flask, settings: Settings) -> InferenceProxy:
        upstream = Upstream(
            settings.hf_base_url, settings.hf_token, settings.hf_timeout
        )
        cache = InferenceCache.for_app(app, settings)
        shared = RedisFlights.for_cache(cache, settings.hf_timeout)
        return cls(upstream, cache, settings.cache_max_bytes, shared)

    def answer(self, request: InferenceRequest) -> BaseResponse:
        if request.policy is not CachePolicy.USE:
            logger.debug("Inference cache bypass for %s", request.key[:12])
            store = request.policy is CachePolicy.REFRESH
            return self._forward(request, BYPASS, store)[0]

        entry = self.cache.get(request.key)
        if entry is not None:
            logger.debug("Inference cache hit for %s", request.key[:12])
            return self._hit(entry)

        logger.debug("Inference cache miss for %s", request.key[:12])
        return self._miss(request)

    def _miss(self, request: InferenceRequest) -> BaseResponse:
        flight, leading = self.local.join(request.key)
        if not leading:
            if not flight.done.wait(self.upstream.timeout):
                return self._collapsed(self._waited_too_long())

            if flight.outcome is not None:
                return self._collapsed(flight.outcome)

            # The leader's answer could not be shared: ask for ourselves.
            return self._forward(request, MISS, store=True)[0]

        outcome: Outcome = None
        stored = False
        lead: Lead | None = None
        try:
            # Looked up again now that we lead: the previous flight may have
            # stored its answer between our first lookup and our joining.
            entry = self.cache.get(request.key)
            if entry is not None:
                outcome = entry.answer
                return self._hit(entry)

            if self.shared is not None:
                lead = self.shared.lead(request.key)
                if not lead.leading and lead.token is not None:
                    found = self.shared.wait(
                        request.key, lead.token, self.upstream.timeout
                    )
                    if found is not None:
                        outcome = found.answer if isinstance(found, Entry) else found
                        return self._collapsed(outcome)

            response, outcome, stored = self._forward(request, MISS, store=True)
            return response
        finally:
            self.local.finish(request.key, flight, outcome)
            if self.shared and lead and lead.leading and lead.token is not None:
                # Waiters find a stored answer in the cache; only what was not
                # stored needs publishing for them.
                published = None if stored else outcome
                self.shared.settle(request.key, lead.token, published)

    def _forward(
        self, request: InferenceRequest, label: str, store: bool
    ) -> tuple[BaseResponse, Outcome, bool]:
        """Call the upstream once; relay, and store when allowed and storable.

        Returns the response, what waiters may share, and whether it was stored.
        """
        try:
            upstream = self.upstream.send(
                request.path, request.query, request.headers, request.body
            )
            relayed, quota = relayed_headers(upstream)
            if _is_event_stream(upstream):
                # Protocol 3.10: never buffered, never stored, never shared.
                # The first bytes are awaited here, so an upstream that fails
                # before sending any still gets a 502 problem (3.11) rather
                # than a response the server has to break off.
                first, _ended = read_up_to(upstream, 0)
                response = self._relay(upstream, first, [*relayed, *quota], label)
                return response, None, False

            body, complete = read_up_to(upstream, self.buffer_limit)
            if not complete:
                response = self._relay(upstream, body, [*relayed, *quota], label)
                return response, None, False
        except Problem as problem:
            return self._problem(problem, label), problem, False

        status = upstream.status_code
        answer = Answer(
            status, tuple(_with_retry_after(status, relayed, body)), body, tuple(quota)
        )
        stored = (
            store
            and self._is_storable(answer, upstream)
            and self.cache.put(request.key, answer)
        )
        cache_status = _forwarded_status(label, status, stored)
        return self._respond(answer, label, cache_status), answer, stored

    def _is_storable(self, answer: Answer, upstream: requests.Response) -> bool:
        """Protocol 3.7: complete 200s no larger than the limit, without cookies."""
        return (
            answer.status == 200
            and len(answer.body) <= self.max_bytes
            and "Set-Cookie" not in upstream.raw.headers
        )

    def _hit(self, entry: Entry) -> BaseResponse:
        answer = entry.answer
        return RelayedResponse(
            answer.body,
            status=answer.status,
            headers=[
                *answer.headers,
                ("X-Heady-Cache", HIT),
                ("Age", str(entry.age)),
                ("Cache-Status", f"heady-origin; hit; ttl={entry.seconds_left}"),
            ],
        )

    def _collapsed(self, outcome: Answer | Problem) -> BaseResponse:
        if isinstance(outcome, Problem):
            return self._problem(outcome, MISS, collapsed=True)

        cache_status = _forwarded_status(MISS, outcome.status, collapsed=True)
        return self._respond(outcome, MISS, cache_status)

    def _respond(self, answer: Answer, label: str, cache_status: str) -> BaseResponse:
        return RelayedResponse(
            answer.body,
            status=answer.status,
            headers=[
                *answer.headers,
                *answer.quota,
                ("X-Heady-Cache", label),
                ("Cache-Status", cache_status),
            ],
        )

    def _relay(
        self,
        upstream: requests.Response,
        first: bytes,
        headers: list[Header],
        label: str,
    ) -> BaseResponse:
        cache_status = _forwarded_status(label, upstream.status_code)
        return RelayedResponse(
            RelayedBody(upstream, first),
            status=upstream.status_code,
            headers=[
                *headers,
                ("X-Heady-Cache", label),
                ("Cache-Status", cache_status),
            ],
            direct_passthrough=True,
        )

    def _problem(
        self, problem: Problem, label: str, collapsed: bool = False
    ) -> BaseResponse:
        response = problem.get_response()
        cache_status = _forwarded_status(label, None, collapsed=collapsed)
        response.headers["X-Heady-Cache"] = label
        response.headers["Cache-Status"] = cache_status
        return response

    def _waited_too_long(self) -> Problem:
        return UpstreamTimeout(
            "No answer from the inference server within"
            f" {self.upstream.timeout:g} seconds."
        )


def _forwarded_status(
    label: str, status: int | None, stored: bool = False, collapsed: bool = False
) -> str:
    """RFC 9211 ``Cache-Status`` of an answer that went to the upstream."""
    if label == BYPASS:
        value = "heady-origin; fwd=bypass"
    elif status is None:
        value = "heady-origin; fwd=uri-miss"
    else:
        value = f"heady-origin; fwd=uri-miss; fwd-status={status}"

    if stored:
        value += "; stored"

    if collapsed:
        value += "; collapsed"

    return value


def _is_event_stream(upstream: requests.Response) -> bool:
    content_type = upstream.raw.headers.get("Content-Type")
    return media_type_of(content_type) == "text/event-stream"


def _with_retry_after(status: int, headers: list[Header], body: bytes) -> list[Header]:
    """Protocol 3.11: a loading model's 503 gets ``Retry-After`` from its
    ``estimated_time``, rounded up to whole seconds (RFC 9110 10.2.3)."""
    if status != 503 or any(name.lower() == "retry-after" for name, _ in headers):
        return headers

    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return headers

    estimated = document.get("estimated_time") if isinstance(document, dict) else None
    if (
        not isinstance(estimated, (int, float))
        or isinstance(estimated, bool)
        or not math.isfinite(estimated)
        or estimated < 0
    ):
        return headers

    return [*headers, ("Retry-After", str(max(1, math.ceil(estimated))))]
