"""Every ``HEADY_*`` setting: its name, its default, and how its value is read."""

from __future__ import annotations

import ipaddress
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from limits import RateLimitItem, parse_many

from .errors import ConfigError

logger = logging.getLogger(__name__)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

#: The whole configuration surface, with the defaults a bare app gets.
DEFAULTS: dict[str, Any] = {
    "HEADY_API_KEY": None,
    "HEADY_API_PREFIX": "/api",
    "HEADY_RATE_LIMIT": "120 per minute",
    "HEADY_RATELIMIT_STORAGE_URI": "memory://",
    "HEADY_RATELIMIT_FAIL_OPEN": True,
    "HEADY_TRUSTED_PROXIES": (),
    "HEADY_CLIENT_IP_HEADER": None,
    "HEADY_HF_BASE_URL": "https://router.huggingface.co",
    "HEADY_HF_TOKEN": None,
    "HEADY_HF_TIMEOUT": 60,
    "HEADY_CACHE_TTL": 86400,
    "HEADY_CACHE_TYPE": "SimpleCache",
    "HEADY_CACHE_MAX_BYTES": 10 * 1024 * 1024,
    "HEADY_MAX_BODY_BYTES": 10 * 1024 * 1024,
    "HEADY_PUBLIC_DIR": "public",
    "HEADY_STATIC_URL_PREFIX": "",
    "HEADY_SPA_FALLBACK": True,
    "HEADY_IMMUTABLE_PATTERN": None,
    # Not in the wire protocol: re-read changed files on each request.
    # ``None`` follows the app's debug flag.
    "HEADY_STATIC_AUTORELOAD": None,
}

# Keys of the inference cache that are ours, not Flask-Caching's.
_OWN_CACHE_KEYS = {"HEADY_CACHE_TTL", "HEADY_CACHE_MAX_BYTES"}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one app."""

    api_keys: tuple[str, ...]
    api_prefix: str
    rate_limits: tuple[RateLimitItem, ...]
    ratelimit_storage_uri: str
    ratelimit_fail_open: bool
    trusted_proxies: tuple[IPNetwork, ...]
    client_ip_header: str | None
    hf_base_url: str
    hf_token: str | None
    hf_timeout: float
    cache_ttl: int
    cache_max_bytes: int
    max_body_bytes: int
    public_dir: str | None
    static_url_prefix: str
    spa_fallback: bool
    immutable_pattern: re.Pattern[str] | None
    static_autoreload: bool
    #: Flask-Caching settings (``CACHE_*``) built from ``HEADY_CACHE_*``.
    cache_config: dict[str, Any] = field(default_factory=dict)

    def is_guarded(self, path: str) -> bool:
        """Whether ``path`` lies under the API prefix, on a segment boundary."""
        prefix = self.api_prefix
        return path.startswith(prefix) and (
            len(path) == len(prefix) or path[len(prefix)] == "/"
        )


def read_settings(
    config: Mapping[str, Any], root_path: str, debug: bool = False
) -> Settings:
    """Read and check every ``HEADY_*`` key; raise :class:`ConfigError` on a bad one."""
    value = _Reader(config)

    return Settings(
        api_keys=_api_keys(value.items("HEADY_API_KEY")),
        api_prefix=_path_prefix("HEADY_API_PREFIX", value.text("HEADY_API_PREFIX"))
        or _reject("HEADY_API_PREFIX", "must name a path such as /api"),
        rate_limits=_rate_limits(value.raw("HEADY_RATE_LIMIT")),
        ratelimit_storage_uri=value.text("HEADY_RATELIMIT_STORAGE_URI")
        or _reject("HEADY_RATELIMIT_STORAGE_URI", "must not be empty"),
        ratelimit_fail_open=value.flag("HEADY_RATELIMIT_FAIL_OPEN"),
        trusted_proxies=_networks(value.items("HEADY_TRUSTED_PROXIES")),
        client_ip_header=_header_name(value.text("HEADY_CLIENT_IP_HEADER")),
        hf_base_url=_base_url(value.text("HEADY_HF_BASE_URL")),
        hf_token=_token(value.text("HEADY_HF_TOKEN")),
        hf_timeout=value.number("HEADY_HF_TIMEOUT", positive=True),
        cache_ttl=int(value.number("HEADY_CACHE_TTL", whole=True)),
        cache_max_bytes=int(value.number("HEADY_CACHE_MAX_BYTES", whole=True)),
        max_body_bytes=int(value.number("HEADY_MAX_BODY_BYTES", whole=True)),
        public_dir=_public_dir(config, value.raw("HEADY_PUBLIC_DIR"), root_path),
        static_url_prefix=_path_prefix(
            "HEADY_STATIC_URL_PREFIX", value.text("HEADY_STATIC_URL_PREFIX")
        ),
        spa_fallback=value.flag("HEADY_SPA_FALLBACK"),
        immutable_pattern=_pattern(value.text("HEADY_IMMUTABLE_PATTERN")),
        static_autoreload=(
            debug
            if value.raw("HEADY_STATIC_AUTORELOAD") is None
            else value.flag("HEADY_STATIC_AUTORELOAD")
        ),
        cache_config=_cache_config(config),
    )


class _Reader:
    """Reads one key at a time, from Python values or environment strings."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def raw(self, key: str) -> Any:
        return self.config.get(key, DEFAULTS.get(key))

    def text(self, key: str) -> str:
        value = self.raw(key)
        if value is None:
            return ""

        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {type(value).__name__}")

        return value.strip()

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if isinstance(value, bool):
            return value

        # A Python config file may write 1 and 0, as the environment does.
        if isinstance(value, int) and value in (0, 1):
            return bool(value)

        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE

        raise ConfigError(key, f"expected true or false, got {value!r}")

    def number(self, key: str, whole: bool = False, positive: bool = False) -> float:
        value = self.raw(key)
        try:
            if isinstance(value, bool):
                raise TypeError(value)

            if isinstance(value, str) and not value.isascii():
                # int() and float() read other scripts' digits too.
                raise ValueError(value)

            number = float(value) if not whole else _whole(value)
            if not math.isfinite(number):
                # float() reads "nan" and "inf", which no timeout or size can be.
                raise ValueError(value)
        except (TypeError, ValueError):
            kind = "a whole number" if whole else "a number"
            raise ConfigError(key, f"expected {kind}, got {value!r}") from None

        if number < 0 or (positive and number == 0):
            bound = "greater than 0" if positive else "0 or more"
            raise ConfigError(key, f"must be {bound}, got {value!r}")

        return number

    def items(self, key: str) -> list[str]:
        value = self.raw(key)
        if value is None:
            return []

        if isinstance(value, str):
            value = value.split(",")

        try:
            items = [str(item).strip() for item in value]
        except TypeError:
            # No value in the message: this key may hold secrets.
            kind = type(value).__name__
            raise ConfigError(key, f"expected a list, got a {kind}") from None

        return [item for item in items if item]


def _whole(value: Any) -> int:
    if isinstance(value, int):
        return value

    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value.strip())

    raise ValueError(value)


def _reject(key: str, problem: str) -> Any:
    raise ConfigError(key, problem)


def _api_keys(keys: list[str]) -> tuple[str, ...]:
    if not keys:
        raise ConfigError(
            "HEADY_API_KEY",
            "no API key is configured; the gateway refuses to run open",
        )

    return tuple(keys)


def _path_prefix(key: str, value: str) -> str:
    """Normalise ``api`` or ``/api/`` to ``/api``; ``""`` and ``/`` to ``""``."""
    prefix = value.strip("/")
    if any(part in {"", ".", ".."} for part in prefix.split("/")) and prefix:
        raise ConfigError(key, f"not a clean path: {value!r}")

    return f"/{prefix}" if prefix else ""


def _rate_limits(value: Any) -> tuple[RateLimitItem, ...]:
    if isinstance(value, (list, tuple)):
        value = ";".join(str(item) for item in value)

    if not isinstance(value, str) or not value.strip():
        raise ConfigError("HEADY_RATE_LIMIT", f"expected limits, got {value!r}")

    try:
        limits = parse_many(value)
    except ValueError as error:
        raise ConfigError(
            "HEADY_RATE_LIMIT",
            f"cannot parse {value!r} (write e.g. '120 per minute; 5000 per day')",
        ) from error

    if not limits:
        raise ConfigError("HEADY_RATE_LIMIT", f"no limit in {value!r}")

    # ``limits`` reads a window of "0 seconds" as one second; refuse it here.
    empty_window = re.search(r"(?:per|/)\s*0+\s*[a-z]", value, re.IGNORECASE)
    if empty_window or any(item.amount < 1 for item in limits):
        raise ConfigError(
            "HEADY_RATE_LIMIT", f"{value!r} allows nothing or has an empty window"
        )

    return tuple(limits)


def _networks(entries: list[str]) -> tuple[IPNetwork, ...]:
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ConfigError(
                "HEADY_TRUSTED_PROXIES", f"not an IP address or CIDR range: {entry!r}"
            ) from None

    return tuple(networks)


def _base_url(value: str) -> str:
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - reading it raises ValueError for a bad port
    except ValueError:
        raise ConfigError(
            "HEADY_HF_BASE_URL", "the port is not a number from 0 to 65535"
        ) from None

    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(
            "HEADY_HF_BASE_URL", f"expected an http(s) URL, got {value!r}"
        )

    if parts.query or parts.fragment:
        raise ConfigError("HEADY_HF_BASE_URL", "must not carry a query or fragment")

    return value.rstrip("/")


def _public_dir(config: Mapping[str, Any], value: Any, root_path: str) -> str | None:
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ConfigError(
            "HEADY_PUBLIC_DIR",
            "must name a folder (leave it unset for the default 'public')",
        )

    folder = os.path.realpath(os.path.join(root_path, value))
    if not os.path.isdir(folder):
        if "HEADY_PUBLIC_DIR" in config:
            raise ConfigError("HEADY_PUBLIC_DIR", f"no such folder: {folder}")

        logger.info("No %s folder; static assets are not served.", folder)
        return None

    # Serving the app's own folder, or one above it, would publish its code,
    # its instance folder and whatever secrets lie beside them.
    app_folder = os.path.realpath(root_path)
    if os.path.commonpath([folder, app_folder]) == folder:
        raise ConfigError(
            "HEADY_PUBLIC_DIR",
            f"{folder} holds the app's own folder {app_folder};"
            " name a folder that holds only public files",
        )

    return folder


def _header_name(value: str) -> str | None:
    # RFC 9110 5.1: a field name is a token.
    if value and not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", value):
        raise ConfigError("HEADY_CLIENT_IP_HEADER", f"not a header name: {value!r}")

    return value or None


def _token(value: str) -> str | None:
    """The upstream token must be sendable as a header value.

    Checked here so that a bad token fails at startup, rather than on every
    request with an error that would quote it. The message never does.
    """
    if value and not re.fullmatch(r"[\x21-\x7e]+", value):
        raise ConfigError(
            "HEADY_HF_TOKEN",
            "holds a space, a line break or a non-ASCII character",
        )

    return value or None


def _pattern(value: str) -> re.Pattern[str] | None:
    if not value:
        return None

    try:
        return re.compile(value)
    except re.error as error:
        raise ConfigError(
            "HEADY_IMMUTABLE_PATTERN", f"not a regular expression: {error}"
        ) from None


# Flask-Caching settings that must not stay strings when they come from the
# environment: cachelib compares and adds them as numbers, flags and lists.
_CACHE_NUMBERS = {"THRESHOLD", "DEFAULT_TIMEOUT", "REDIS_PORT", "REDIS_DB"}
_CACHE_FLAGS = {"IGNORE_ERRORS", "NO_NULL_WARNING", "SOURCE_CHECK"}
_CACHE_LISTS = {"MEMCACHED_SERVERS", "REDIS_SENTINELS"}


def _cache_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """Map ``HEADY_CACHE_*`` to Flask-Caching's ``CACHE_*``, and nothing else."""
    value = _Reader(config)
    cache_config = {"CACHE_TYPE": DEFAULTS["HEADY_CACHE_TYPE"]}
    for key in config:
        if not key.startswith("HEADY_CACHE_") or key in _OWN_CACHE_KEYS:
            continue

        name = key.removeprefix("HEADY_CACHE_")
        if name in _CACHE_NUMBERS:
            converted: Any = int(value.number(key, whole=True))
        elif name in _CACHE_FLAGS:
            converted = value.flag(key)
        elif name in _CACHE_LISTS and isinstance(config[key], str):
            converted = value.items(key)
        else:
            converted = config[key]

        cache_config[f"CACHE_{name}"] = converted

    return cache_config
