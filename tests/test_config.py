"""Reading and checking the ``HEADY_*`` settings, and keeping the host's apart."""

from __future__ import annotations

import ipaddress
import logging
import os
import traceback
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from limits import parse_many

from flask_heady_edge import ConfigError, HeadyEdge
from flask_heady_edge.config import Settings, read_settings
from flask_heady_edge.state import edge_state

from .conftest import API_KEY, AppFactory

GOOD = {"x-heady-api-key": API_KEY}

PASSWORD = "hunter2-s3cret"


def settings_from(tmp_path: Path, **config: Any) -> Settings:
    return read_settings({"HEADY_API_KEY": API_KEY, **config}, str(tmp_path))


def fails_at_startup(make_app: AppFactory, **config: Any) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        make_app(**config)

    return caught.value


def test_defaults_of_a_bare_app(tmp_path: Path) -> None:
    settings = settings_from(tmp_path)

    assert settings.api_keys == (API_KEY,)
    assert settings.api_prefix == "/api"
    assert settings.rate_limits == tuple(parse_many("120 per minute"))
    assert settings.ratelimit_storage_uri == "memory://"
    assert settings.ratelimit_fail_open is True
    assert settings.trusted_proxies == ()
    assert settings.client_ip_header is None
    assert settings.hf_base_url == "https://router.huggingface.co"
    assert settings.hf_token is None
    assert settings.hf_timeout == 60
    assert settings.cache_ttl == 86400
    assert settings.cache_max_bytes == 10485760
    assert settings.max_body_bytes == 10485760
    assert settings.public_dir is None
    assert settings.static_url_prefix == ""
    assert settings.spa_fallback is True
    assert settings.immutable_pattern is None
    assert settings.cache_config == {"CACHE_TYPE": "SimpleCache"}


@pytest.mark.parametrize(
    ("config", "key"),
    [
        ({"HEADY_RATE_LIMIT": "banana"}, "HEADY_RATE_LIMIT"),
        ({"HEADY_RATE_LIMIT": "5 per fortnight"}, "HEADY_RATE_LIMIT"),
        ({"HEADY_RATE_LIMIT": "5 per minute; lots"}, "HEADY_RATE_LIMIT"),
        ({"HEADY_RATE_LIMIT": ""}, "HEADY_RATE_LIMIT"),
        ({"HEADY_RATE_LIMIT": 5}, "HEADY_RATE_LIMIT"),
        ({"HEADY_API_KEY": None}, "HEADY_API_KEY"),
        ({"HEADY_API_KEY": ""}, "HEADY_API_KEY"),
        ({"HEADY_API_KEY": "   "}, "HEADY_API_KEY"),
        ({"HEADY_API_KEY": ["", "  "]}, "HEADY_API_KEY"),
        ({"HEADY_API_KEY": " , ,, "}, "HEADY_API_KEY"),
        ({"HEADY_API_KEY": []}, "HEADY_API_KEY"),
        ({"HEADY_CACHE_TTL": -1}, "HEADY_CACHE_TTL"),
        ({"HEADY_CACHE_TTL": "-5"}, "HEADY_CACHE_TTL"),
        ({"HEADY_CACHE_TTL": "a day"}, "HEADY_CACHE_TTL"),
        ({"HEADY_CACHE_TTL": "1.5"}, "HEADY_CACHE_TTL"),
        ({"HEADY_CACHE_MAX_BYTES": "10MB"}, "HEADY_CACHE_MAX_BYTES"),
        ({"HEADY_MAX_BODY_BYTES": True}, "HEADY_MAX_BODY_BYTES"),
        ({"HEADY_HF_TIMEOUT": "0"}, "HEADY_HF_TIMEOUT"),
        ({"HEADY_HF_TIMEOUT": "nan"}, "HEADY_HF_TIMEOUT"),
        ({"HEADY_HF_TIMEOUT": "inf"}, "HEADY_HF_TIMEOUT"),
        ({"HEADY_TRUSTED_PROXIES": "10.0.0.0/33"}, "HEADY_TRUSTED_PROXIES"),
        ({"HEADY_TRUSTED_PROXIES": "10.0.0.1, proxy.local"}, "HEADY_TRUSTED_PROXIES"),
        ({"HEADY_TRUSTED_PROXIES": ["::1/129"]}, "HEADY_TRUSTED_PROXIES"),
        ({"HEADY_TRUSTED_PROXIES": "10.0.0.1:8080"}, "HEADY_TRUSTED_PROXIES"),
        ({"HEADY_RATELIMIT_STORAGE_URI": "bogus://h:1"}, "HEADY_RATELIMIT_STORAGE_URI"),
        (
            {"HEADY_RATELIMIT_STORAGE_URI": "127.0.0.1:6379"},
            "HEADY_RATELIMIT_STORAGE_URI",
        ),
        ({"HEADY_RATELIMIT_STORAGE_URI": ""}, "HEADY_RATELIMIT_STORAGE_URI"),
        ({"HEADY_RATELIMIT_FAIL_OPEN": "maybe"}, "HEADY_RATELIMIT_FAIL_OPEN"),
        ({"HEADY_RATELIMIT_FAIL_OPEN": 2}, "HEADY_RATELIMIT_FAIL_OPEN"),
        ({"HEADY_SPA_FALLBACK": "enabled"}, "HEADY_SPA_FALLBACK"),
        ({"HEADY_PUBLIC_DIR": "no-such-folder"}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_PUBLIC_DIR": "/no/such/folder/anywhere"}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_IMMUTABLE_PATTERN": "(unclosed"}, "HEADY_IMMUTABLE_PATTERN"),
        ({"HEADY_IMMUTABLE_PATTERN": "[a-"}, "HEADY_IMMUTABLE_PATTERN"),
        ({"HEADY_HF_BASE_URL": "ftp://router.example"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_HF_BASE_URL": "router.huggingface.co"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_HF_BASE_URL": "file:///etc/passwd"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_HF_BASE_URL": "https://"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_HF_BASE_URL": "https://h.example/?x=1"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_API_PREFIX": "/"}, "HEADY_API_PREFIX"),
        ({"HEADY_API_PREFIX": "/api/../admin"}, "HEADY_API_PREFIX"),
        ({"HEADY_API_PREFIX": "/api//v1"}, "HEADY_API_PREFIX"),
        ({"HEADY_RATE_LIMIT": "0 per minute"}, "HEADY_RATE_LIMIT"),
        ({"HEADY_RATE_LIMIT": "1 per 0 seconds"}, "HEADY_RATE_LIMIT"),
        ({"HEADY_RATE_LIMIT": "5/minute; 1/0hour"}, "HEADY_RATE_LIMIT"),
        ({"HEADY_MAX_BODY_BYTES": "\uff11\uff12\uff13"}, "HEADY_MAX_BODY_BYTES"),
        ({"HEADY_HF_TIMEOUT": "\u0661\u0662"}, "HEADY_HF_TIMEOUT"),
        ({"HEADY_HF_BASE_URL": "http://127.0.0.1:99999"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_HF_BASE_URL": "http://127.0.0.1:port"}, "HEADY_HF_BASE_URL"),
        ({"HEADY_CLIENT_IP_HEADER": "bad header"}, "HEADY_CLIENT_IP_HEADER"),
        ({"HEADY_CLIENT_IP_HEADER": "X-Real-IP:"}, "HEADY_CLIENT_IP_HEADER"),
        ({"HEADY_PUBLIC_DIR": ""}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_PUBLIC_DIR": "  "}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_PUBLIC_DIR": None}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_PUBLIC_DIR": "."}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_PUBLIC_DIR": ".."}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_PUBLIC_DIR": "/"}, "HEADY_PUBLIC_DIR"),
        ({"HEADY_CACHE_THRESHOLD": "many"}, "HEADY_CACHE_THRESHOLD"),
        ({"HEADY_CACHE_REDIS_PORT": "-1"}, "HEADY_CACHE_REDIS_PORT"),
        ({"HEADY_CACHE_IGNORE_ERRORS": "perhaps"}, "HEADY_CACHE_IGNORE_ERRORS"),
    ],
)
def test_bad_value_fails_startup_naming_its_key(
    make_app: AppFactory, config: dict[str, Any], key: str
) -> None:
    error = fails_at_startup(make_app, **config)

    assert error.key == key
    assert str(error).startswith(f"{key}: ")


def test_missing_key_fails_startup(tmp_path: Path) -> None:
    app = Flask("keyless", root_path=str(tmp_path))

    with pytest.raises(ConfigError) as caught:
        HeadyEdge(app)

    assert str(caught.value) == (
        "HEADY_API_KEY: no API key is configured; the gateway refuses to run open"
    )
    assert "heady_edge" not in app.extensions


@pytest.mark.parametrize(
    "uri",
    [
        f"bogus://user:{PASSWORD}@127.0.0.1:6379/0",
        f"redis+bogus://:{PASSWORD}@127.0.0.1:6379",
        f"redis://:{PASSWORD}@127.0.0.1:notaport/0",
        f"redis://user:{PASSWORD}@127.0.0.1:6379/0?socket_timeout=soon",
    ],
    ids=["unknown-scheme", "unknown-variant", "bad-port", "bad-option"],
)
def test_storage_uri_error_never_shows_the_password(
    make_app: AppFactory, uri: str
) -> None:
    error = fails_at_startup(make_app, HEADY_RATELIMIT_STORAGE_URI=uri)
    shown = "".join(traceback.format_exception(error))

    assert error.key == "HEADY_RATELIMIT_STORAGE_URI"
    assert PASSWORD not in shown
    assert "127.0.0.1" not in str(error)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        (" yes ", True),
        ("On", True),
        ("1", True),
        ("false", False),
        ("FALSE", False),
        ("No", False),
        ("oFF", False),
        ("0", False),
        (True, True),
        (False, False),
        (1, True),
        (0, False),
    ],
)
def test_booleans_read_from_words_and_digits_in_any_case(
    tmp_path: Path, text: object, expected: bool
) -> None:
    settings = settings_from(
        tmp_path,
        HEADY_RATELIMIT_FAIL_OPEN=text,
        HEADY_SPA_FALLBACK=text,
        HEADY_STATIC_AUTORELOAD=text,
    )

    assert settings.ratelimit_fail_open is expected
    assert settings.spa_fallback is expected
    assert settings.static_autoreload is expected


def test_numbers_read_from_digits(tmp_path: Path) -> None:
    settings = settings_from(
        tmp_path,
        HEADY_HF_TIMEOUT=" 30 ",
        HEADY_CACHE_TTL="3600",
        HEADY_CACHE_MAX_BYTES="0",
        HEADY_MAX_BODY_BYTES=2048,
    )
    fractional = settings_from(tmp_path, HEADY_HF_TIMEOUT="2.5")

    assert settings.hf_timeout == 30.0
    assert settings.cache_ttl == 3600
    assert settings.cache_max_bytes == 0
    assert settings.max_body_bytes == 2048
    assert fractional.hf_timeout == 2.5


def test_lists_read_from_commas_with_spaces_trimmed_and_empties_dropped(
    tmp_path: Path,
) -> None:
    settings = settings_from(
        tmp_path,
        HEADY_API_KEY=" first , second,,third ,",
        HEADY_TRUSTED_PROXIES=" 10.0.0.1 , ,192.168.0.0/16,, 2001:db8::/32 ",
    )
    from_list = settings_from(
        tmp_path, HEADY_TRUSTED_PROXIES=["10.0.0.1", " ", "10.1.2.3/8"]
    )

    assert settings.api_keys == ("first", "second", "third")
    assert settings.trusted_proxies == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("192.168.0.0/16"),
        ipaddress.ip_network("2001:db8::/32"),
    )
    # A host address with a mask names its network, as people write it.
    assert from_list.trusted_proxies == (
        ipaddress.ip_network("10.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
    )


def test_several_limits_read_from_semicolons_or_a_list(tmp_path: Path) -> None:
    from_text = settings_from(tmp_path, HEADY_RATE_LIMIT="2/second; 100 per hour")
    from_list = settings_from(
        tmp_path, HEADY_RATE_LIMIT=["2 per second", "100 per hour"]
    )

    assert from_text.rate_limits == tuple(parse_many("2/second;100/hour"))
    assert from_list.rate_limits == from_text.rate_limits


def test_prefixes_are_normalised(tmp_path: Path) -> None:
    api = settings_from(tmp_path, HEADY_API_PREFIX="gateway/v1/")
    admin = settings_from(tmp_path, HEADY_STATIC_URL_PREFIX="/admin/")
    root = settings_from(tmp_path, HEADY_STATIC_URL_PREFIX="/")

    assert api.api_prefix == "/gateway/v1"
    assert admin.static_url_prefix == "/admin"
    assert root.static_url_prefix == ""


def test_missing_default_public_folder_logs_one_info_and_starts(
    make_app: AppFactory, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="flask_heady_edge")

    app = make_app()
    response = app.test_client().get("/api/echo", headers=GOOD)

    folder = str(tmp_path / "public")
    about_folder = [
        record
        for record in caplog.records
        if record.name.startswith("flask_heady_edge") and folder in record.getMessage()
    ]
    assert [record.levelname for record in about_folder] == ["INFO"]
    assert edge_state(app).settings.public_dir is None
    assert response.status_code == 200


def test_public_folder_is_found_beside_the_app_or_absolute(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    elsewhere = tmp_path / "assets" / "build"
    elsewhere.mkdir(parents=True)

    default = settings_from(tmp_path)
    relative = settings_from(tmp_path, HEADY_PUBLIC_DIR="assets/build")
    absolute = settings_from(tmp_path, HEADY_PUBLIC_DIR=str(elsewhere))

    assert default.public_dir == os.path.realpath(tmp_path / "public")
    assert relative.public_dir == os.path.realpath(elsewhere)
    assert absolute.public_dir == os.path.realpath(elsewhere)


def test_host_ratelimit_and_cache_keys_leave_ours_alone(
    make_app: AppFactory,
) -> None:
    app = make_app(
        HEADY_RATE_LIMIT="3 per minute",
        HEADY_CACHE_REDIS_URL="redis://127.0.0.1:1/2",
        HEADY_CACHE_KEY_PREFIX="heady:",
        HEADY_CACHE_TTL=60,
        RATELIMIT_DEFAULT="1 per day",
        RATELIMIT_ENABLED=False,
        RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
        RATELIMIT_HEADERS_ENABLED=False,
        CACHE_TYPE="NullCache",
        CACHE_DEFAULT_TIMEOUT=1,
        CACHE_REDIS_URL="redis://127.0.0.1:1/1",
    )
    client = app.test_client()

    settings = edge_state(app).settings
    statuses = [client.get("/api/echo", headers=GOOD).status_code for _ in range(4)]
    first_headers = client.get("/api/echo", headers=GOOD).headers

    assert settings.rate_limits == tuple(parse_many("3 per minute"))
    assert settings.ratelimit_storage_uri == "memory://"
    assert settings.cache_ttl == 60
    assert settings.cache_config == {
        "CACHE_TYPE": "SimpleCache",
        "CACHE_REDIS_URL": "redis://127.0.0.1:1/2",
        "CACHE_KEY_PREFIX": "heady:",
    }
    assert statuses == [200, 200, 200, 429]
    assert first_headers["RateLimit-Policy"] == '"default";q=3;w=60'


def test_host_flask_limiter_and_gateway_count_apart(
    make_app: AppFactory, redis_url: str
) -> None:
    app = make_app(
        HEADY_RATE_LIMIT="5 per minute",
        HEADY_RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_STORAGE_URI=redis_url,
        RATELIMIT_HEADERS_ENABLED=True,
    )
    limiter = Limiter(get_remote_address, app=app)

    @app.get("/host")
    @limiter.limit("3 per minute")
    def host_route() -> str:
        return "host"

    client = app.test_client()

    host = [client.get("/host") for _ in range(4)]
    gateway = [client.get("/api/echo", headers=GOOD) for _ in range(6)]
    host_after = client.get("/host")

    assert [r.status_code for r in host] == [200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Limit"] for r in host] == ["3"] * 4
    assert [r.headers["X-RateLimit-Remaining"] for r in host] == ["2", "1", "0", "0"]
    assert all("RateLimit-Policy" not in r.headers for r in host)
    assert [r.status_code for r in gateway] == [200, 200, 200, 200, 200, 429]
    assert [r.headers["X-RateLimit-Remaining"] for r in gateway] == [
        "4",
        "3",
        "2",
        "1",
        "0",
        "0",
    ]
    assert gateway[-1].headers["Content-Type"] == "application/problem+json"
    assert host_after.status_code == 429
    assert host_after.headers["X-RateLimit-Limit"] == "3"


@pytest.mark.parametrize(
    "token",
    ["hf_SECRET\nX-Evil: 1", "hf_SECRET\rX", "hf_SE CRET", "hf_SECRET\u20ac"],
)
def test_unsendable_token_fails_startup_without_quoting_it(
    make_app: AppFactory, token: str
) -> None:
    error = fails_at_startup(make_app, HEADY_HF_TOKEN=token)

    assert error.key == "HEADY_HF_TOKEN"
    assert "SECRET" not in "".join(traceback.format_exception(error))


def test_key_that_is_not_a_list_is_not_quoted_in_the_error(
    make_app: AppFactory,
) -> None:
    error = fails_at_startup(make_app, HEADY_API_KEY=123456789)

    assert error.key == "HEADY_API_KEY"
    assert "123456789" not in str(error)


def test_cache_settings_from_strings_become_what_flask_caching_expects(
    tmp_path: Path,
) -> None:
    settings = read_settings(
        {
            "HEADY_API_KEY": API_KEY,
            "HEADY_CACHE_TYPE": "RedisCache",
            "HEADY_CACHE_THRESHOLD": "500",
            "HEADY_CACHE_REDIS_PORT": " 6380 ",
            "HEADY_CACHE_IGNORE_ERRORS": "Yes",
            "HEADY_CACHE_MEMCACHED_SERVERS": "a:11211, b:11211,",
            "HEADY_CACHE_REDIS_URL": "redis://127.0.0.1:6380/2",
            "HEADY_CACHE_TTL": "60",
        },
        str(tmp_path),
    )

    assert settings.cache_config == {
        "CACHE_TYPE": "RedisCache",
        "CACHE_THRESHOLD": 500,
        "CACHE_REDIS_PORT": 6380,
        "CACHE_IGNORE_ERRORS": True,
        "CACHE_MEMCACHED_SERVERS": ["a:11211", "b:11211"],
        "CACHE_REDIS_URL": "redis://127.0.0.1:6380/2",
    }
    assert settings.cache_ttl == 60


def test_public_folder_inside_the_app_folder_is_accepted(tmp_path: Path) -> None:
    (tmp_path / "assets" / "site").mkdir(parents=True)

    settings = read_settings(
        {"HEADY_API_KEY": API_KEY, "HEADY_PUBLIC_DIR": "assets/site"}, str(tmp_path)
    )

    assert settings.public_dir == str((tmp_path / "assets" / "site").resolve())


def test_setting_up_the_same_app_twice_is_a_clear_error(make_app: AppFactory) -> None:
    app = make_app()

    with pytest.raises(RuntimeError, match="already set up"):
        HeadyEdge(app)
