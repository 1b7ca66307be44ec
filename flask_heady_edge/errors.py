"""Errors of the gateway: a bad configuration, and the HTTP answers it gives itself."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from werkzeug import exceptions
from werkzeug.wrappers import Response

PROBLEM_MEDIA_TYPE = "application/problem+json"


class ConfigError(ValueError):
    """A ``HEADY_*`` setting is missing or malformed; raised at startup."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key


class Problem(exceptions.HTTPException):
    """An answer the gateway produces itself, as RFC 9457 problem details.

    Subclasses pair this with the matching Werkzeug exception, so a host app
    that checks ``isinstance(error, TooManyRequests)`` still recognises ours.
    The body never carries a key, a token or an upstream URL.
    """

    problem_type = "about:blank"

    def __init__(
        self,
        detail: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        super().__init__(description=detail)
        self.extra_headers = list(headers)

    def problem(self) -> dict[str, Any]:
        return {
            "type": self.problem_type,
            "title": self.name,
            "status": self.code,
            "detail": self.description,
        }

    def get_body(self, environ: Any = None, scope: Any = None) -> str:
        return json.dumps(self.problem())

    def get_headers(
        self, environ: Any = None, scope: Any = None
    ) -> list[tuple[str, str]]:
        return [("Content-Type", PROBLEM_MEDIA_TYPE), *self.extra_headers]

    def get_response(
        self, environ: Any = None, scope: Any = None
    ) -> Response:
        response: Response = super().get_response(environ, scope)
        response.headers["Cache-Control"] = "no-store"
        return response


class InvalidApiKey(Problem, exceptions.Unauthorized):
    problem_type = "urn:heady-edge:problem:invalid-api-key"

    def __init__(self) -> None:
        super().__init__(
            "Send a valid API key in the x-heady-api-key header.",
            [("WWW-Authenticate", 'ApiKey header="x-heady-api-key"')],
        )


class RateLimited(Problem, exceptions.TooManyRequests):
    problem_type = "urn:heady-edge:problem:rate-limited"

    def __init__(self, limit: str, retry_after: int) -> None:
        super().__init__(
            f"Rate limit of {limit} exceeded; retry in {retry_after} seconds.",
            [("Retry-After", str(retry_after))],
        )
        self.retry_after = retry_after


class LimiterUnavailable(Problem, exceptions.ServiceUnavailable):
    problem_type = "urn:heady-edge:problem:limiter-unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The rate limit storage cannot be reached; try again shortly.",
            [("Retry-After", "1")],
        )


class BodyTooLarge(Problem, exceptions.RequestEntityTooLarge):
    problem_type = "urn:heady-edge:problem:body-too-large"

    def __init__(self, limit: int) -> None:
        super().__init__(f"The request body is larger than {limit} bytes.")


class BadUpstreamPath(Problem, exceptions.BadRequest):
    problem_type = "urn:heady-edge:problem:bad-upstream-path"


class NotFound(Problem, exceptions.NotFound):
    pass


class MethodNotAllowed(Problem, exceptions.MethodNotAllowed):
    def __init__(self, allowed: Iterable[str]) -> None:
        allowed = sorted(allowed)
        super().__init__(
            f"Use {', '.join(allowed)}.", [("Allow", ", ".join(allowed))]
        )


class UpstreamUnreachable(Problem, exceptions.BadGateway):
    problem_type = "urn:heady-edge:problem:upstream-unreachable"


class UpstreamTimeout(Problem, exceptions.GatewayTimeout):
    problem_type = "urn:heady-edge:problem:upstream-timeout"


class UpstreamCutShort(Problem, exceptions.BadGateway):
    problem_type = "urn:heady-edge:problem:upstream-cut-short"


class UpstreamInvalid(Problem, exceptions.BadGateway):
    """The upstream answered, but not with an HTTP message that can be relayed."""

    problem_type = "urn:heady-edge:problem:upstream-invalid"


class IncompleteBody(Problem, exceptions.BadRequest):
    problem_type = "urn:heady-edge:problem:incomplete-body"
